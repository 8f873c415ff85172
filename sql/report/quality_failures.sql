-- The run's failed expectations, with what was observed.
SELECT suite, expectation, observed
FROM quality_results
WHERE run_id = getvariable('run_id') AND NOT success
ORDER BY suite, expectation;
