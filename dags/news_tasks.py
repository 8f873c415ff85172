"""The tasks every news DAG shares after its planning task: process (mapped) -> load -> validate -> report, and
the nightly `maintain` that `news_ingest` runs after them.

A DAG plans its run its own way (replaying folders, fetching the web), writing raw Parquet batches to
staging and returning their paths; `process_and_load` wires the rest. Airflow puts the DAG folder on
`sys.path` (it is the DAG bundle), so the DAG files import this module by name; `.airflowignore` keeps
the DAG processor from parsing it as a DAG file. Heavy imports happen inside the tasks, so importing
this module touches no database, no network and no NLP model.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from airflow.sdk import Asset, Param, task
from airflow.sdk.exceptions import AirflowFailException

from pipeline.settings import load_settings

DUCKDB_POOL = "duckdb_writer"
ARTICLES_ASSET = Asset(name="news_articles", uri="file:///news/articles")
RUN_TIMEOUT = timedelta(hours=float(os.environ.get("NEWS_RUN_TIMEOUT_HOURS") or 6))
"""A run still `running` after this long is failed by the scheduler. A killed `airflow dags test` or a lost
worker leaves its run `running` for ever, and with `max_active_runs` that would stop every later night."""
TASK_DEFAULTS = {"retries": int(os.environ.get("NEWS_TASK_RETRIES") or 2), "retry_delay": timedelta(seconds=15),
                 "retry_exponential_backoff": 2.0, "max_retry_delay": timedelta(minutes=5)}
"""Every task is tried again, after 15 s then 30 s: a worker that lost the api-server at start-up (a read timeout,
then HTTP 400, seen on a fresh start) or a store busy with maintenance heals by itself. Every task can be run
again: staging and the load are idempotent. A failed quality gate raises AirflowFailException, which is never
retried."""


def run_params(inputs: str) -> dict[str, Param]:
    """The Params every news DAG's trigger form has, after its own source Params."""
    return {
        "batch_size": Param(load_settings().batch_size, type="integer", minimum=1,
                            description=f"{inputs} per processing task (default: NEWS_BATCH_SIZE)."),
        "fail_on_quality": Param(True, type="boolean",
                                 description="Fail the run when a critical quality expectation fails."),
    }


def engine_settings(batch_size: int | None = None):
    """Engine settings for a task: the store of the `duckdb_default` connection (`news_store.store_settings`,
    shared with the UI's News view), and the run's batch size when given."""
    from dataclasses import replace

    from news_store import store_settings

    settings = store_settings()
    return replace(settings, batch_size=batch_size) if batch_size else settings


@task(map_index_template="{{ batch_label }}")
def process(batch_path: str, params=None) -> str:
    """Extraction, language and NER for one batch; opens no database, so mapped copies run in parallel. Each
    mapped copy is labelled in the UI by its batch and size (`batch 3: 200 inputs`, numbered from 0 as the map
    index and the staged file), and logs its progress."""
    import logging

    from airflow.sdk import get_current_context

    from pipeline import run_folder
    from pipeline.stages.process import process_batch

    logging.getLogger("pipeline").setLevel(logging.INFO)
    batch = Path(batch_path)
    context = get_current_context()
    number = int(batch.stem.removeprefix("raw-"))
    context["batch_label"] = f"batch {number}: {run_folder.count(batch)} inputs"  # type: ignore[typeddict-unknown-key]
    return str(process_batch(batch, engine_settings(params["batch_size"])))


@task(pool=DUCKDB_POOL, outlets=[ARTICLES_ASSET], trigger_rule="none_failed")
def load(processed: list[str], run_id=None, outlet_events=None) -> dict:
    """The run's one DuckDB transaction; reads the plan the planning task left in the run's staging folder. The
    `news_articles` event carries the run's counts, so a DAG scheduled on the asset sees what came in."""
    from pipeline.stages.load import load as load_run
    from pipeline.stages.plan import Plan

    settings = engine_settings()
    summary = load_run(Plan.of_run(settings.staging_dir, run_id), list(processed or []), settings).to_xcom()
    outlet_events[ARTICLES_ASSET].extra = summary
    return summary


@task
def validate(summary: dict, params=None) -> dict:
    """The quality gate: reads the committed run and writes its results beside any running load (outside the
    writer pool: nothing here deduplicates)."""
    return gate([summary["run_id"]], summary["run_id"], params["fail_on_quality"])


def gate(run_ids: list[str], name: str, fail_on_quality: bool) -> dict:
    """Validate the runs at once (`validate_runs`, the report named `name`); with `fail_on_quality`, fail the task
    when a critical expectation failed. great-expectations logs some 270 INFO lines as it loads (registering its
    decorators, its datasources): quieted before the import, so the task log shows the gate's own lines."""
    import logging

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    from pipeline.quality import validate_runs

    settings = engine_settings()
    report = validate_runs(settings.store, run_ids, settings.gx_dir, name=name)
    if fail_on_quality and not report.ok:
        names = ", ".join(f"{o.suite}.{o.expectation}" for o in report.critical_failures)
        raise AirflowFailException(f"critical quality expectations failed: {names}")
    return {"passed": report.passed, "failed": report.failed, "docs": str(report.docs_index)}


@task
def report(summary: dict, quality: dict) -> str | None:
    """Prints the run summary to the task log, writes the run's HTML report (also shown by the UI's News view)
    and drops the run's staging files, now loaded; a reader, so outside the writer pool. Returns the page's path."""
    from pipeline.report import format_summary
    from pipeline.run_folder import RunFolder

    settings = engine_settings()
    print(format_summary(settings.store, summary["run_id"]))
    page = write_html_report(settings, summary["run_id"])
    RunFolder.of(settings.staging_dir, summary["run_id"]).remove()
    return page


def write_html_report(settings, run_id: str) -> str | None:
    """Writes the run's page to the reports folder and says where, in the task log. A folder that cannot be
    written is said in the log and fails nothing: the run is loaded and gated, and the UI's News view renders the
    page from the store anyway."""
    from pipeline.run_report import report_path, write_report

    path = report_path(settings.reports_dir, run_id)
    try:
        write_report(settings.store, run_id, path)
    except OSError as error:
        print(f"report page not written ({error}); NEWS_REPORTS names the folder. The UI's News view shows it.")
        return None
    print(f"report: {path} (and in the Airflow UI: News)")
    return str(path)


def lag_line(lag: dict) -> str:
    """A stream run's lag (`Acknowledged.to_xcom()`) as one line."""
    oldest = lag.get("oldest_pending_seconds")
    return (f"stream {lag['stream']}: consumed {lag['consumed']}, acknowledged {lag['acknowledged']}, retrying "
            f"{lag['retrying']}, pending {'unknown' if lag['pending'] is None else lag['pending']}"
            + ("" if oldest is None else f" (oldest {oldest:.1f} s)") + f", offset {lag['offset']}")


@task(pool=DUCKDB_POOL, trigger_rule="all_success")
def maintain() -> dict:
    """Merges the store's small files and expires snapshots older than NEWS_SNAPSHOT_RETENTION_DAYS, once the
    night's run has succeeded (`all_success`: a failed load or quality gate leaves the store as it is, for a
    person to look at). It writes, so it is in the writer pool; the engine also takes the writer slot."""
    import datetime as dt

    from pipeline.maintenance import format_report
    from pipeline.maintenance import maintain as maintain_store

    settings = engine_settings()
    done = maintain_store(settings.store, dt.timedelta(days=settings.snapshot_retention_days))
    print(format_report(done))
    return done.to_xcom()


def process_and_load(batch_paths):
    """Wire the shared stages after a DAG's planning task, whose XCom is the list of raw batch paths; returns the
    last task's output, for a DAG to chain more tasks after it."""
    summary = load(process.expand(batch_path=batch_paths))
    return report(summary, validate(summary))
