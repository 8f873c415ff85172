-- The run the report is about (variable run_id): its counts and times.
SELECT run_id, source, started_at, finished_at, n_inputs, n_loaded, n_duplicate, n_rejected, n_failed
FROM ingest_runs
WHERE run_id = getvariable('run_id');
