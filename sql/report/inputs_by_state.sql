-- The run's inputs by final state and reason. Rejections and failures carry free text after a colon (the size, the
-- parser's message): grouped by the words before it, so one kind of problem is one bar.
SELECT state, coalesce(split_part(reason, ':', 1), '') AS reason, count(*) AS inputs
FROM ingest_log
WHERE run_id = getvariable('run_id')
GROUP BY ALL
ORDER BY inputs DESC, state, reason;
