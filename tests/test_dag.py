"""The Airflow DAG: parses cleanly, is wired as documented, and really runs via dag.test()."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.sources.registry import LISTING_KINDS, SOURCE_KINDS
from pipeline.stages.run import run_pipeline
from pipeline.store import query
from tests.conftest import REPO, SEEDS

DAGS = REPO / "dags"

IMPORT_GUARD = """
import socket, sys, importlib.util, duckdb
def refuse(*args, **kwargs):
    raise AssertionError("network or database touched while parsing the DAG file")
socket.socket.connect = refuse
socket.create_connection = refuse
duckdb.connect = refuse
sys.path.append({dags!r})  # Airflow puts the DAG bundle's folder on sys.path before parsing
spec = importlib.util.spec_from_file_location("dag_file", {dag_file!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
heavy = sorted(m for m in ("spacy", "great_expectations", "trafilatura", "feedparser", "pipeline.stages.process")
               if m in sys.modules)
assert not heavy, heavy
print("ok")
"""


@pytest.mark.parametrize("dag_file", ["news_ingest.py", "news_fetch.py"])
def test_parsing_the_dag_file_touches_no_network_database_or_heavy_module(dag_file):
    guard = IMPORT_GUARD.format(dags=str(DAGS), dag_file=str(DAGS / dag_file))
    done = subprocess.run([sys.executable, "-c", guard], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")


@pytest.fixture(scope="module")
def dagbag():
    """Parsed as Airflow's DAG processor and workers do: the DAG folder is a bundle, importable by name."""
    from airflow.dag_processing.dagbag import BundleDagBag

    return BundleDagBag(dag_folder=str(DAGS), bundle_path=DAGS)


def test_dagbag_has_every_dag_and_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dag_ids) == ["news_fetch", "news_ingest", "news_stream"]


def writer_pools(dag) -> dict[str, str]:
    return {task.task_id: task.pool for task in dag.tasks}


def test_dag_is_nightly_without_catchup_and_deduplicating_writers_share_one_pool(dagbag):
    dag = dagbag.dags["news_ingest"]
    assert dag.schedule == "0 2 * * *"
    assert dag.catchup is False
    assert dag.is_paused_upon_creation is False
    assert set(dag.params) == {"sources", "kind", "batch_size", "fail_on_quality"}
    assert dag.params.get_param("kind").schema["enum"] == list(SOURCE_KINDS)
    assert dag.dagrun_timeout == dt.timedelta(hours=6), "a run a killed process left running must not block"
    pools = writer_pools(dag)
    assert {pools[t] for t in ("plan", "load", "maintain")} == {"duckdb_writer"}
    assert "duckdb_writer" not in {pools[t] for t in ("process", "validate", "report")}, "readers never wait for a load"
    assert [o.name for o in dag.get_task("load").outlets] == ["news_articles"]


def test_fetch_dag_is_hourly_paused_one_run_at_a_time_and_waits_on_the_network_outside_the_writer_pool(dagbag):
    dag = dagbag.dags["news_fetch"]
    assert dag.schedule == "@hourly"
    assert (dag.catchup, dag.is_paused_upon_creation, dag.max_active_runs) == (False, True, 1)
    assert set(dag.params) == {"sources_file", "urls", "kind", "max_pages", "delay", "allow_hosts", "run_deadline",
                               "batch_size", "fail_on_quality"}
    assert dag.params.get_param("kind").schema["enum"] == list(LISTING_KINDS)
    assert dag.dagrun_timeout == dt.timedelta(hours=6)
    assert dag.params["sources_file"].endswith("sources.yaml") and dag.params["delay"] == 1.0
    pools = writer_pools(dag)
    assert {pools[t] for t in ("plan", "load")} == {"duckdb_writer"}
    assert "duckdb_writer" not in {pools[t] for t in ("frontier", "fetch", "process", "validate", "report")}
    assert [o.name for o in dag.get_task("load").outlets] == ["news_articles"]
    assert dag.get_task("fetch").upstream_task_ids == {"frontier"}
    assert dag.get_task("plan").upstream_task_ids == {"fetch"}
    assert dag.get_task("process").upstream_task_ids == {"plan"}


def test_every_task_is_retried_with_backoff_but_the_stream_drain(dagbag):
    """A fresh start's race (a worker's first call to the api-server timing out) heals by itself; a stream drain
    is not retried because the stream redelivers what it took to the next run."""
    for dag_id in ("news_ingest", "news_fetch", "news_stream"):
        for task in dagbag.dags[dag_id].tasks:
            if task.task_id == "drain":
                assert task.retries == 0
                continue
            assert task.retries == 2, (dag_id, task.task_id)
            assert task.retry_exponential_backoff and task.retry_delay == dt.timedelta(seconds=15)


def test_fetch_schedule_comes_from_the_environment_at_parse_time():
    probe = f"import sys; sys.path.append({str(DAGS)!r}); import news_fetch; print(news_fetch.news_fetch().schedule)"
    env = {**os.environ, "NEWS_FETCH_SCHEDULE": "*/15 * * * *"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "*/15 * * * *"


def test_ruff_airflow3_rules_pass():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "AIR3", str(DAGS)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def article_rows(db_path):
    _, rows = query(db_path, "SELECT article_id, doc_key, title, site, byline, published_at, published_rule, "
                             "language, body, content_hash FROM articles ORDER BY article_id")
    return rows


def mention_rows(db_path):
    _, rows = query(db_path, "SELECT m.article_id, e.name, e.label, m.surface, m.start_char FROM entity_mentions m "
                             "JOIN entities e USING (entity_id) ORDER BY ALL")
    return rows


def test_dag_run_over_the_seeds_matches_the_cli(dagbag, dag_db, settings):
    run = dagbag.dags["news_ingest"].test(run_conf={"sources": [str(SEEDS)], "batch_size": 3})
    assert run.state == "success"
    labels = sorted(ti.rendered_map_index for ti in run.get_task_instances() if ti.task_id == "process")
    assert labels == ["batch 0: 3 inputs", "batch 1: 2 inputs"], "mapped tasks named by their batch in the UI"
    _, ledger = query(dag_db, "SELECT state, count(*) FROM ingest_log GROUP BY ALL")
    assert ledger == [("loaded", 5)]
    _, checks = query(dag_db, "SELECT count(*), count(*) FILTER (NOT success) FROM quality_results")
    assert checks[0][0] > 0 and checks[0][1] == 0
    assert list((dag_db.parent / "staging").iterdir()) == []
    assert asset_event_extras(run.run_id) == [{"run_id": run.run_id, "n_inputs": 5, "n_loaded": 5, "n_duplicate": 0,
                                               "n_rejected": 0, "n_failed": 0}]
    page = Path(run.get_task_instance("report").xcom_pull(task_ids="report"))
    assert page.suffix == ".html" and f">{run.run_id}<" in page.read_text()
    run_pipeline([str(SEEDS)], settings, "cli")
    assert article_rows(dag_db) == article_rows(settings.store)
    assert mention_rows(dag_db) == mention_rows(settings.store)


def asset_event_extras(run_id: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        events = session.scalars(select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                                 .where(AssetModel.name == "news_articles", AssetEvent.source_run_id == run_id))
        return [dict(event.extra) for event in events]


def test_a_critical_quality_failure_fails_the_dag_run(dagbag, dag_db, tmp_path):
    """The run's own article is garbled (UTF-8 text that was once decoded with the wrong codec): the gate fails the
    run, and is not tried again."""
    inbox = tmp_path / "garbled"
    inbox.mkdir()
    (inbox / "garbled.txt").write_text("Minister visits Berlin\n\n" + " ".join(
        ["The ministerâ€™s cafÃ© visit was Ã©tÃ© and the crÃ¨me brÃ»lÃ©e was served."] * 8) + "\n")
    run = dagbag.dags["news_ingest"].test(run_conf={"sources": [str(inbox)]})
    assert run.state == "failed"
    assert run.get_task_instance("validate").try_number == 1
    _, rows = query(dag_db, "SELECT suite, expectation FROM quality_results WHERE NOT success")
    assert ("articles", "expect_column_values_to_be_between(mojibake_markers)") in rows


def test_runs_for_past_dates_replay_the_inbox_and_add_nothing_after_the_first(dagbag, dag_db):
    """What `airflow backfill create --dag-id news_ingest` makes: one run per date, each replaying the seeds."""
    dag = dagbag.dags["news_ingest"]
    nights = [dt.datetime(2026, 1, day, 2, tzinfo=dt.UTC) for day in (1, 2, 3)]
    runs = [dag.test(logical_date=night, run_after=night, run_conf={"sources": [str(SEEDS)]}) for night in nights]
    assert [run.state for run in runs] == ["success"] * 3
    assert [run.run_id for run in runs] == [f"manual__{night.isoformat()}" for night in nights]
    _, ledger = query(dag_db, "SELECT run_id, state, reason, count(*) FROM ingest_log GROUP BY ALL ORDER BY run_id")
    assert ledger == [(runs[0].run_id, "loaded", None, 5), (runs[1].run_id, "duplicate", "seen_before", 5),
                      (runs[2].run_id, "duplicate", "seen_before", 5)]
    _, articles = query(dag_db, "SELECT count(*) FROM articles")
    assert articles == [(5,)]
