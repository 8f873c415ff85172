-- The runs a report can show, newest first (the plugin's run list).
SELECT run_id, source, finished_at, n_inputs, n_loaded
FROM ingest_runs
ORDER BY finished_at DESC NULLS LAST
LIMIT 200;
