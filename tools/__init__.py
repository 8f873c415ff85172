"""Development tooling run from the repo root (`python -m tools.X`): benchmarks and the evaluations against the dev
set. Kept out of the `pipeline` package so the installed product ships the engine only."""
