-- The stories the run's articles belong to, largest first: how many articles each holds in the whole store.
SELECT s.story_id, s.size, s.representative_title, s.first_seen, s.last_seen, s.top_entities,
       count(*) AS from_this_run
FROM articles a
JOIN stories s USING (story_id)
WHERE a.run_id = getvariable('run_id')
GROUP BY ALL
ORDER BY s.size DESC, from_this_run DESC, s.representative_title
LIMIT 20;
