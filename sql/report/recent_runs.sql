-- The last runs up to the reported one (variable run_id), oldest first: inputs by state and quality results.
WITH runs AS (
    SELECT *
    FROM ingest_runs
    WHERE finished_at <= (SELECT finished_at FROM ingest_runs WHERE run_id = getvariable('run_id'))
    ORDER BY finished_at DESC
    LIMIT 20
), checks AS (
    SELECT run_id, count(*) FILTER (success) AS passed, count(*) FILTER (NOT success) AS failed
    FROM quality_results
    WHERE run_id IN (SELECT run_id FROM runs)
    GROUP BY run_id
)
SELECT r.run_id, r.finished_at, r.n_loaded, r.n_duplicate, r.n_rejected, r.n_failed,
       coalesce(c.passed, 0) AS checks_passed, coalesce(c.failed, 0) AS checks_failed
FROM runs r
LEFT JOIN checks c USING (run_id)
ORDER BY r.finished_at;
