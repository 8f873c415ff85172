"""Nightly news ingestion: plan -> process (mapped over batches) -> load -> validate -> report -> maintain.

Each task calls one stage of `pipeline`; heavy imports happen inside the tasks, so parsing this file
touches no database, no network and no NLP model. XCom carries paths and counts, never article data.
The tasks that deduplicate or rewrite the store (`plan`, `load`, `maintain`) run in the one-slot `duckdb_writer`
pool; the gate and the report only read (and append results), so they never wait for another run's load.
The tasks after `plan` are shared with `news_fetch` (`news_tasks.py`).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from airflow.sdk import Param, dag, task
from news_tasks import DUCKDB_POOL, RUN_TIMEOUT, TASK_DEFAULTS, engine_settings, maintain, process_and_load, run_params

from pipeline.sources.registry import DEFAULT_KIND, SOURCE_KINDS

SEEDS_DIR = str(Path(__file__).resolve().parent.parent / "seeds")
# The folder a scheduled run replays; a deployment points it at its own inbox, the embedded default is the seeds.
INBOX = os.environ.get("NEWS_INBOX") or SEEDS_DIR


@dag(
    dag_id="news_ingest",
    schedule="0 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    is_paused_upon_creation=False,
    dagrun_timeout=RUN_TIMEOUT,
    default_args=TASK_DEFAULTS,
    max_active_runs=2,
    tags=["news"],
    params={
        "sources": Param([INBOX], type="array", items={"type": "string"},
                         description="Files or folders to replay (.txt, .html, .jsonl, .warc/.arc archives), or "
                                     "what the source kind below reads."),
        "kind": Param(DEFAULT_KIND, type="string", enum=list(SOURCE_KINDS), description="Source kind."),
        **run_params("Inputs"),
    },
    doc_md=__doc__,
)
def news_ingest():
    @task(pool=DUCKDB_POOL)
    def plan(params=None, run_id=None) -> list[str]:
        """Returns the raw batch files to map over; the rest of the plan waits in the run's staging folder."""
        from pipeline.sources.registry import source_for
        from pipeline.stages.plan import plan_source

        source = source_for(params["kind"], list(params["sources"]))
        planned = plan_source(source, engine_settings(params["batch_size"]), run_id)
        return [str(batch) for batch in planned.batches]

    process_and_load(plan()) >> maintain()


news_ingest()
