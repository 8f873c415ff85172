-- The run's articles per publication day; NULL is the undated ones.
SELECT published_at AS day, count(*) AS articles
FROM articles
WHERE run_id = getvariable('run_id')
GROUP BY ALL
ORDER BY day NULLS LAST;
