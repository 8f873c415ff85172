-- The run's articles per site (NULL: the page names none), most first.
SELECT site, count(*) AS articles
FROM articles
WHERE run_id = getvariable('run_id')
GROUP BY ALL
ORDER BY articles DESC, site NULLS LAST;
