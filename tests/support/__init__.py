"""What the tests run against rather than test: local HTTP sites and a natively started production Airflow.

The benchmarks in `tools/` reuse them, so a benchmark measures against exactly what the tests check."""
