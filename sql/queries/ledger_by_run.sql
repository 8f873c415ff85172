-- Every input of every run, by the state it ended in.
SELECT run_id, state, count(*) AS inputs
FROM ingest_log
GROUP BY ALL
ORDER BY run_id, state;
