"""The stages of a run, shared by the CLI and the Airflow DAGs.

plan      reads a source, settles the inputs seen before, writes raw batches (`plan.py`; a fetch run snapshots
          the store and fetches first, `fetch.py`)
process   extracts, detects language and tags entities for one batch; touches no store (`process.py`)
load      the single store writer: dedup, entities, stories, ledger and source state, one transaction (`load.py`)

`run.py` runs them all in one process. Only plan and load open the store, so parallel `process` tasks never
contend for its lock.
"""
