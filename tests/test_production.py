"""The production topology, natively: Postgres metadata DB, Redis broker, CeleryExecutor workers.

`dag.test()` runs every task in one process; here each task runs in a Celery worker's own process, mapped
`process` tasks run side by side on two workers, and two DAG runs overlap, so the one-slot `duckdb_writer`
pool is the only thing serialising the writers. The store is the production one: a DuckLake whose catalog is a
PostgreSQL database of its own and whose Parquet files are in the data folder.
"""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
import socket
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from pipeline.store import connect, run_snapshot
from tests.conftest import REPO, SEEDS
from tests.support.cluster import DUCKDB_POOL, POSTGRES_URL, AirflowCluster, group_alive, services_reachable

pytestmark = pytest.mark.integration

SEED_FILES = sorted(SEEDS.glob("*.txt"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = services_reachable()
    if reason:
        pytest.skip(f"the production topology needs local PostgreSQL and Redis: {reason}")
    root = tmp_path_factory.mktemp("production")
    with AirflowCluster(home=root / "airflow", data_dir=root / "data", workers=2) as running:
        running.wait_for_dag("news_ingest")
        groups = [process.pid for process in running.processes.values()]
        yield running
    left = [group for group in groups if group_alive(group)]
    assert not left, f"process groups still running after stop: {left}"


def inbox(root: Path, name: str, seeds: list[Path]) -> str:
    folder = root / name
    folder.mkdir()
    for seed in seeds:
        shutil.copy(seed, folder / seed.name)
    return str(folder)


def conf(folder: str) -> dict:
    return {"sources": [folder], "batch_size": 1, "fail_on_quality": True}


def table(cluster: AirflowCluster, sql: str) -> list[tuple]:
    with connect(cluster.store, read_only=True) as con:
        return con.execute(sql).fetchall()


def writer_intervals(cluster: AirflowCluster, run_ids: list[str]) -> list[tuple[dt.datetime, dt.datetime, str, str]]:
    return sorted(
        (dt.datetime.fromisoformat(ti["start_date"]), dt.datetime.fromisoformat(ti["end_date"]), run_id, ti["task_id"])
        for run_id in run_ids
        for ti in cluster.task_instances("news_ingest", run_id)
        if ti["pool"] == DUCKDB_POOL
    )


def test_a_run_triggered_through_the_rest_api_succeeds_on_celery_workers(cluster, tmp_path):
    run_id = cluster.trigger("news_ingest", conf(inbox(tmp_path, "first", SEED_FILES[:2])))
    assert cluster.wait_for_runs("news_ingest", [run_id]) == {run_id: "success"}

    instances = cluster.task_instances("news_ingest", run_id)
    mapped = [ti for ti in instances if ti["task_id"] == "process"]
    assert len(mapped) == 2, "one mapped process task per input with batch_size 1"
    assert all(ti["state"] == "success" and ti["hostname"] for ti in instances)
    assert table(cluster, f"SELECT count(*) FROM articles WHERE run_id = '{run_id}'") == [(2,)]
    assert table(cluster, f"SELECT count(*) FROM quality_results WHERE run_id = '{run_id}' AND NOT success") == [(0,)]


def test_the_store_is_the_postgresql_catalog_with_its_files_in_the_data_folder(cluster):
    """The components took the store from the `duckdb_default` connection: the loads committed snapshots to the
    PostgreSQL catalog and Parquet files to the data folder, and no SQLite catalog appeared beside them."""
    assert cluster.store.catalog.startswith(f"postgres:dbname={cluster.lake_database} ")
    loaded = table(cluster, "SELECT DISTINCT run_id FROM articles")
    assert loaded and all(run_snapshot(cluster.store, run_id) is not None for (run_id,) in loaded)
    assert list(cluster.store.home.rglob("*.parquet"))
    assert not list(cluster.data_dir.glob("*.ducklake"))


def test_two_overlapping_runs_are_serialised_by_the_writer_pool(cluster, tmp_path):
    """Runs B and C write at the same time; C also carries a re-boilerplated copy of a seed B loads."""
    copy = tmp_path / "copy"
    copy.mkdir()
    original = SEED_FILES[2].read_text()
    head, _, rest = original.partition("\n\n")
    (copy / "mirror-site-copy.txt").write_text(
        f"{head}\n\nHome | World | Business | Sport\nSign in to read more\n\n{rest}\n\n"
        "Most read\nThe ten best beaches of the year\nCopyright Mirror Site. All rights reserved.\n")
    before = table(cluster, "SELECT count(*) FROM articles")[0][0]

    run_b = cluster.trigger("news_ingest", conf(inbox(tmp_path, "b", SEED_FILES[2:4])))
    run_c = cluster.trigger("news_ingest", {**conf(inbox(tmp_path, "c", SEED_FILES[4:])),
                                            "sources": [str(tmp_path / "c"), str(copy)]})
    assert cluster.wait_for_runs("news_ingest", [run_b, run_c]) == {run_b: "success", run_c: "success"}

    intervals = writer_intervals(cluster, [run_b, run_c])
    assert {run for _, _, run, _ in intervals} == {run_b, run_c}
    for (_, end, *first), (start, _, *second) in itertools.pairwise(intervals):
        assert end <= start, f"{first} and {second} held the DuckDB writer pool at the same time"

    assert table(cluster, "SELECT count(*) FROM articles")[0][0] == before + 3
    assert table(cluster, "SELECT count(*), count(DISTINCT content_hash) FROM articles") == [(5, 5)]
    ledger = table(cluster, "SELECT run_id, state, count(*) FROM ingest_log "
                            f"WHERE run_id IN ('{run_b}', '{run_c}') GROUP BY ALL ORDER BY ALL")
    states = {(run, state): n for run, state, n in ledger}
    assert sum(states.values()) == 4, "every input of both runs (2 + 2) has exactly one ledger row"
    assert states.get((run_b, "loaded"), 0) + states.get((run_c, "loaded"), 0) == 3
    assert table(cluster, "SELECT count(*) FROM duplicates") == [(1,)]
    assert {run_b, run_c} <= {run for (run,) in table(cluster, "SELECT run_id FROM ingest_runs")}


def test_the_scheduler_starts_the_nightly_run_by_itself(cluster):
    """Unpaused on creation with catchup off, the latest nightly interval runs at once (on the empty inbox)."""
    scheduled = [run["dag_run_id"] for run in cluster.runs("news_ingest") if run["run_type"] == "scheduled"]
    assert len(scheduled) == 1
    assert cluster.wait_for_runs("news_ingest", scheduled) == {scheduled[0]: "success"}
    assert table(cluster, f"SELECT n_inputs FROM ingest_runs WHERE run_id = '{scheduled[0]}'") == [(0,)]


def test_the_news_view_renders_the_latest_run_from_the_production_store(cluster):
    """The plugin's page on the api-server reads the PostgreSQL-catalog store the workers wrote (runs above)."""
    [(latest,)] = table(cluster, "SELECT run_id FROM ingest_runs ORDER BY finished_at DESC LIMIT 1")
    page = httpx.get(f"{cluster.api}/news/", timeout=60)
    assert page.status_code == 200, page.text[-500:]
    assert f'<span id="run-id">{latest}</span>' in page.text and 'data-chart="runs_by_state"' in page.text


def test_the_compose_healthchecks_pass_against_running_components(cluster):
    """docker-compose.yml's healthcheck commands, run here against the native components: each passes, so a
    container's can too. $HOSTNAME in a container is the name Airflow records its jobs under; here that is
    Airflow's own `get_hostname()`. The worker's ping names this cluster's worker, the api-server's its port."""
    from airflow.utils.net import get_hostname

    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    host = get_hostname()
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                 "airflow-worker"):
        kind, *test = compose["services"][name]["healthcheck"]["test"]
        command = [part.replace('$${HOSTNAME}', host).replace(f"celery@{host}", f"news1@{socket.gethostname()}")
                   .replace("localhost:8080", f"127.0.0.1:{cluster.port}") for part in test]
        if kind == "CMD-SHELL":
            command = ["bash", "-c", *command]
        done = subprocess.run(command, env=cluster.environment(), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (name, command, done.stdout[-1500:], done.stderr[-1500:])


def test_the_fetch_dag_is_parsed_and_waits_paused(cluster):
    cluster.wait_for_dag("news_fetch")
    assert cluster.request("GET", "/dags/news_fetch")["is_paused"] is True



def test_a_run_left_running_by_a_killed_process_is_failed_by_the_scheduler(cluster):
    """A killed `airflow dags test` leaves its run `running`; past the DAG's run timeout the scheduler fails it,
    so `max_active_runs` never stops the next night. The stale run is a copy of the finished nightly run, made
    to look like one started seven hours ago and never finished."""
    [nightly] = [run["dag_run_id"] for run in cluster.runs("news_ingest") if run["run_type"] == "scheduled"]
    cluster.wait_for_runs("news_ingest", [nightly])
    stale = "manual__killed_dags_test"
    copy_as_stale_run(cluster, nightly, stale)
    assert cluster.wait_for_runs("news_ingest", [stale], timeout=120) == {stale: "failed"}


def copy_as_stale_run(cluster: AirflowCluster, source_run_id: str, run_id: str) -> None:
    import psycopg2

    seven_hours_ago = "now() - interval '7 hours'"
    overrides = {"run_id": "%(run_id)s", "state": "'running'", "start_date": seven_hours_ago, "end_date": "NULL",
                 "run_type": "'manual'", "logical_date": seven_hours_ago, "run_after": seven_hours_ago,
                 "queued_at": seven_hours_ago, "last_scheduling_decision": "NULL"}
    with psycopg2.connect(f"{POSTGRES_URL}/{cluster.database}") as connection, connection.cursor() as cursor:
        cursor.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'dag_run' "
                       "AND column_name <> 'id' ORDER BY ordinal_position")
        columns = [column for (column,) in cursor.fetchall()]
        values = ", ".join(overrides.get(column, column) for column in columns)
        cursor.execute(f"INSERT INTO dag_run ({', '.join(columns)}) SELECT {values} FROM dag_run "
                       "WHERE run_id = %(source)s", {"run_id": run_id, "source": source_run_id})
