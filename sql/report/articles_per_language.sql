-- The run's articles per language (NULL: the detectors abstained), most first.
SELECT language, count(*) AS articles
FROM articles
WHERE run_id = getvariable('run_id')
GROUP BY ALL
ORDER BY articles DESC, language NULLS LAST;
