-- The store run a name asks for (variable asked): that run, or the last micro-batch of a stream DAG run, whose
-- run ids are the DAG run's followed by '.'.
SELECT run_id
FROM ingest_runs
WHERE run_id = getvariable('asked') OR starts_with(run_id, getvariable('asked') || '.')
ORDER BY run_id = getvariable('asked') DESC, finished_at DESC NULLS LAST
LIMIT 1;
