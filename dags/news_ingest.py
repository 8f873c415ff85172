"""Nightly news ingestion: plan -> process (mapped over batches) -> load -> validate -> report.

Each task calls one stage of `pipeline`; heavy imports happen inside the tasks, so parsing this file
touches no database, no network and no NLP model. XCom carries paths and counts, never article data.
DuckDB allows one writer: every task that opens the file runs in the one-slot `duckdb_writer` pool.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from airflow.sdk import Asset, Param, dag, task
from airflow.sdk.exceptions import AirflowFailException

DUCKDB_POOL = "duckdb_writer"
DUCKDB_CONN_ID = "duckdb_default"
SEEDS_DIR = str(Path(__file__).resolve().parent.parent / "seeds")
# The folder a scheduled run replays; a deployment points it at its own inbox, the embedded default is the seeds.
INBOX = os.environ.get("NEWS_INBOX", SEEDS_DIR)
ARTICLES_ASSET = Asset(name="news_articles", uri="file:///news/articles")


def _settings(batch_size: int | None = None):
    """Engine settings, with the DuckDB file taken from the `duckdb_default` connection when it is set."""
    from dataclasses import replace

    from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

    from pipeline.settings import load_settings

    settings = load_settings()
    database = DuckDBHook(duckdb_conn_id=DUCKDB_CONN_ID).get_database()
    if database and database != ":memory:":
        settings = settings.with_db(database)
    return replace(settings, batch_size=batch_size) if batch_size else settings


@dag(
    dag_id="news_ingest",
    schedule="0 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    is_paused_upon_creation=False,
    max_active_runs=2,
    tags=["news"],
    params={
        "sources": Param([INBOX], type="array", items={"type": "string"},
                         description="Files or folders to replay (.txt, .html, .jsonl, .warc/.arc archives)."),
        "batch_size": Param(200, type="integer", minimum=1, description="Inputs per processing task."),
        "fail_on_quality": Param(True, type="boolean",
                                 description="Fail the run when a critical quality expectation fails."),
    },
    doc_md=__doc__,
)
def news_ingest():
    @task(pool=DUCKDB_POOL)
    def plan(params=None, run_id=None) -> list[str]:
        """Returns the raw batch files to map over; the rest of the plan waits in the run's staging folder."""
        from pipeline.stages import plan_run

        planned = plan_run(list(params["sources"]), _settings(params["batch_size"]), run_id)
        return [str(batch) for batch in planned.batches]

    @task
    def process(batch_path: str, params=None) -> str:
        from pipeline.stages import process_batch

        return str(process_batch(Path(batch_path), _settings(params["batch_size"])))

    @task(pool=DUCKDB_POOL, outlets=[ARTICLES_ASSET], trigger_rule="none_failed")
    def load(processed: list[str], run_id=None) -> dict:
        from pipeline.stages import Plan, load_run

        settings = _settings()
        return load_run(Plan.of_run(settings.staging_dir, run_id), list(processed or []), settings).to_xcom()

    @task(pool=DUCKDB_POOL)
    def validate(summary: dict, params=None) -> dict:
        from pipeline.quality import validate_run

        settings = _settings()
        report = validate_run(settings.db_path, summary["run_id"], settings.gx_dir)
        if params["fail_on_quality"] and not report.ok:
            names = ", ".join(f"{o.suite}.{o.expectation}" for o in report.critical_failures)
            raise AirflowFailException(f"critical quality expectations failed: {names}")
        return {"passed": report.passed, "failed": report.failed, "docs": str(report.docs_index)}

    @task(pool=DUCKDB_POOL)
    def report(summary: dict, quality: dict) -> str:
        """Prints the run summary to the task log and drops the run's staging files, now loaded."""
        from pipeline.report import format_summary
        from pipeline.staging import remove_run

        settings = _settings()
        print(format_summary(settings.db_path, summary["run_id"]))
        remove_run(settings.staging_dir, summary["run_id"])
        return str(settings.db_path)

    processed = process.expand(batch_path=plan())
    summary = load(processed)
    report(summary, validate(summary))


news_ingest()
