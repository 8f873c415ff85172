"""Lake maintenance: fewer files, the same rows, history kept exactly as far back as the retention, idempotent."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline import store as store_module
from pipeline.cli import main
from pipeline.maintenance import maintain
from pipeline.settings import load_settings
from pipeline.stages.run import run_pipeline
from pipeline.store import Store, StoreBusy, connect, read_only_query, run_snapshot, snapshots
from tests.conftest import REPO, SEEDS

RUNS = ("run0", "run1", "run2", "run3")
FINGERPRINT = ("SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM ingest_log), "
               "(SELECT count(*) FROM entity_mentions), (SELECT string_agg(article_id, ',' ORDER BY article_id) "
               "FROM articles)")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A store of four small runs, one seed file each: every load commits small files and inlined rows."""
    root = tmp_path_factory.mktemp("built")
    settings = replace(load_settings(), store=Store.at(root / "lake" / "news.ducklake"),
                       staging_dir=root / "staging", gx_dir=root / "gx")
    for run_id, seed in zip(RUNS, sorted(SEEDS.glob("*.txt")), strict=False):
        inbox = root / "inbox" / run_id
        inbox.mkdir(parents=True)
        shutil.copy(seed, inbox)
        run_pipeline([str(inbox)], settings, run_id)
    return root / "lake"


@pytest.fixture
def lake(built, tmp_path) -> Store:
    """A copy of the built store (catalog and data folder move together) for one test to change."""
    shutil.copytree(built, tmp_path / "lake")
    return Store.at(tmp_path / "lake" / "news.ducklake")


def snapshot_times(store: Store) -> dict[int, dt.datetime]:
    with connect(store, read_only=True) as con:
        return dict(con.execute("SELECT snapshot_id, snapshot_time FROM news.snapshots()").fetchall())


def loads(store: Store) -> dict[str, int]:
    """Each run's load snapshot, from one listing (what `run_snapshot` finds one run at a time)."""
    return {extra["run_id"]: snapshot for snapshot, _, extra in snapshots(store) if extra.get("stage") == "load"}


def retention_between(times: dict[int, dt.datetime], older: int, newer: int, now: dt.datetime) -> dt.timedelta:
    """A retention whose cutoff falls between two snapshots, so the first is beyond it and the second within."""
    return now - (times[older] + (times[newer] - times[older]) / 2)


def row_counts(store: Store) -> dict[str, int]:
    with connect(store, read_only=True) as con:
        tables = [name for (name,) in con.execute("SELECT table_name FROM duckdb_tables() "
                                                  "WHERE database_name = 'news' ORDER BY 1").fetchall()]
        return {table: con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables}


def parquet_files(store: Store) -> list[Path]:
    return sorted(store.home.rglob("*.parquet"))


def test_small_files_are_merged_and_every_row_stays(lake):
    counts, current = row_counts(lake), read_only_query(lake, FINGERPRINT)
    done = maintain(lake, dt.timedelta(days=30))
    assert done.rows_flushed == 0, "loads keep no rows in the catalog (DATA_INLINING_ROW_LIMIT)"
    assert done.files_merged > done.files_written > 0
    assert done.files_deleted >= done.files_merged
    assert done.after.files < done.before.files
    assert done.after.files == len(parquet_files(lake))
    assert done.after.data_bytes == sum(path.stat().st_size for path in parquet_files(lake))
    assert row_counts(lake) == counts
    assert read_only_query(lake, FINGERPRINT) == current


def test_rows_an_older_store_kept_in_its_catalog_are_flushed_to_parquet(lake, monkeypatch):
    """Stores written before data inlining was turned off hold rows in the catalog."""
    monkeypatch.setattr(store_module, "DATA_INLINING_ROW_LIMIT", 100)
    with connect(lake) as con:
        con.execute("INSERT INTO quality_results (run_id, suite, expectation, success, checked_at) "
                    "SELECT 'old', 'articles', 'e' || range, true, TIMESTAMP '2026-01-01' FROM range(5)")
    monkeypatch.undo()
    counts = row_counts(lake)

    done = maintain(lake, dt.timedelta(days=30))

    assert done.rows_flushed == 5
    assert row_counts(lake) == counts


def live_delete_files(store: Store, table: str) -> int:
    with connect(store, read_only=True) as con:
        return con.execute(
            "SELECT count(*) FROM __ducklake_metadata_news.ducklake_delete_file d "
            "JOIN __ducklake_metadata_news.ducklake_table t USING (table_id) "
            "WHERE d.end_snapshot IS NULL AND t.end_snapshot IS NULL AND t.table_name = ?", [table]).fetchone()[0]


def test_files_whose_rows_the_loads_updated_are_rewritten_without_the_dead_rows(lake):
    """A load's MERGE into the aggregates updates rows: DuckLake leaves delete files that every read applies."""
    with connect(lake) as con:
        con.execute("CALL ducklake_flush_inlined_data('news')")
        con.execute("UPDATE entity_counts SET mentions = mentions + 1 WHERE hash(entity_id) % 2 = 0")
        con.execute("UPDATE entity_counts SET mentions = mentions - 1 WHERE hash(entity_id) % 2 = 0")
    assert live_delete_files(lake, "entity_counts") > 0
    counts, totals = row_counts(lake), read_only_query(lake, "SELECT sum(mentions), sum(articles) FROM entity_counts")

    done = maintain(lake, dt.timedelta(0))

    assert done.files_rewritten > 0
    assert live_delete_files(lake, "entity_counts") == 0
    assert row_counts(lake) == counts
    assert read_only_query(lake, "SELECT sum(mentions), sum(articles) FROM entity_counts") == totals


def test_snapshots_beyond_the_retention_expire_and_runs_within_it_still_read_as_they_were(lake):
    runs, times = loads(lake), snapshot_times(lake)
    within = {run_id: runs[run_id] for run_id in ("run2", "run3")}
    as_they_were = {run_id: read_only_query(lake, FINGERPRINT, snapshot=snapshot)
                    for run_id, snapshot in within.items()}
    now = dt.datetime.now(dt.UTC)
    retention = retention_between(times, runs["run1"], runs["run2"], now)

    done = maintain(lake, retention, now=now)

    cutoff = now - retention
    assert done.cutoff == cutoff
    assert set(done.expired) == {snapshot for snapshot, at in times.items() if at < cutoff}
    kept = snapshot_times(lake)
    assert set(times) - set(done.expired) <= set(kept)
    assert not set(done.expired) & set(kept)
    assert done.after.snapshots == len(kept) < done.before.snapshots
    assert run_snapshot(lake, "run0") is None and run_snapshot(lake, "run1") is None
    for run_id, snapshot in within.items():
        assert run_snapshot(lake, run_id) == snapshot
        assert read_only_query(lake, FINGERPRINT, snapshot=snapshot) == as_they_were[run_id]
    listed = snapshots(lake)
    assert [message for _, message, extra in listed if extra.get("stage") == "maintenance"] == [
        *(["maintenance: rewrite files with deleted rows"] if done.files_rewritten else []),
        "maintenance: merge adjacent files"], "a step that changed nothing commits no snapshot"
    assert {extra["run_id"] for _, _, extra in listed if extra.get("stage") == "load"} == set(within)


def test_a_zero_retention_still_keeps_the_latest_snapshot(lake):
    latest = max(snapshot_times(lake))
    last_run = read_only_query(lake, FINGERPRINT, snapshot=latest)
    done = maintain(lake, dt.timedelta(0))
    assert latest not in done.expired
    assert run_snapshot(lake, "run3") == latest
    assert read_only_query(lake, FINGERPRINT, snapshot=latest) == last_run
    assert list(loads(lake)) == ["run3"]
    assert done.files_rewritten > 0, "the runs' MERGEs into the aggregates left deleted rows"
    assert done.after.snapshots == 3, "the latest load's, and the rewrite's and merge's own"


def test_running_it_twice_is_harmless(lake):
    runs, now = loads(lake), dt.datetime.now(dt.UTC)
    retention = retention_between(snapshot_times(lake), runs["run1"], runs["run2"], now)
    first = maintain(lake, retention, now=now)
    counts, current, files = row_counts(lake), read_only_query(lake, FINGERPRINT), parquet_files(lake)
    again = maintain(lake, retention, now=now)
    assert (again.rows_flushed, again.files_merged, again.expired, again.files_deleted, again.orphans_deleted) == (
        0, 0, (), 0, 0)
    assert again.before == again.after == first.after
    assert parquet_files(lake) == files
    assert row_counts(lake) == counts
    assert read_only_query(lake, FINGERPRINT) == current
    assert loads(lake) == {run_id: runs[run_id] for run_id in ("run2", "run3")}


def test_orphans_of_a_killed_load_are_deleted_and_files_ducklake_did_not_write_are_not(lake):
    table_folder = next(path.parent for path in parquet_files(lake))
    orphan = table_folder / "ducklake-01a00000-0000-7000-8000-000000000000.parquet"
    shutil.copy(parquet_files(lake)[0], orphan)
    fresh = table_folder / "ducklake-01a00000-0000-7000-8000-000000000001.parquet"
    shutil.copy(orphan, fresh)
    reject = lake.home / "rejects" / f"{'0' * 64}.bin"
    reject.parent.mkdir(exist_ok=True)
    reject.write_bytes(b"raw bytes of a large reject")
    day_ago = time.time() - 86400
    for path in (orphan, reject):
        os.utime(path, (day_ago, day_ago))

    done = maintain(lake, dt.timedelta(days=30))
    assert done.orphans_deleted == 1 and not orphan.exists()
    assert fresh.exists(), "a file younger than the grace may be a commit under way"
    assert reject.exists()

    foreign = lake.home / "someone-elses.parquet"
    shutil.copy(fresh, foreign)
    os.utime(foreign, (day_ago, day_ago))
    os.utime(fresh, (day_ago, day_ago))
    kept = maintain(lake, dt.timedelta(days=30))
    assert kept.orphans_deleted == 0 and kept.orphans_kept == (str(foreign),)
    assert foreign.exists() and fresh.exists(), "nothing is deleted while a file DuckLake did not write is there"


HOLD_SLOT = """
import sys, time
from pipeline.store import writer_slot
with writer_slot(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def test_it_takes_the_writer_slot_so_it_never_runs_beside_a_load(lake, monkeypatch):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_SLOT, str(lake.catalog_file)], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(store_module, "WRITER_WAIT_SECONDS", 0.5)
        files = parquet_files(lake)
        with pytest.raises(StoreBusy):
            maintain(lake, dt.timedelta(0))
        assert parquet_files(lake) == files
    finally:
        holder.kill()
        holder.wait()


def test_the_command_prints_before_and_after(lake, capsys):
    assert main(["maintain", "--store", str(lake.catalog_file), "--retention-days", "30"]) == 0
    out = capsys.readouterr().out
    assert "keeping 30 days of snapshots" in out
    assert all(f"\n{word} " in out for word in ("snapshots", "files", "bytes", "steps"))


def test_the_command_refuses_a_missing_store_or_a_negative_retention_in_one_line(lake, tmp_path, capsys):
    missing = tmp_path / "nowhere" / "news.ducklake"
    assert main(["maintain", "--store", str(missing)]) == 2
    assert not missing.exists()
    assert main(["maintain", "--store", str(lake.catalog_file), "--retention-days", "-1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert [line.split(":")[0] for line in err] == ["news maintain", "news maintain"]


def test_the_retention_comes_from_the_environment(monkeypatch):
    assert load_settings().snapshot_retention_days == 30.0
    monkeypatch.setenv("NEWS_SNAPSHOT_RETENTION_DAYS", "7.5")
    assert load_settings().snapshot_retention_days == 7.5


def test_the_nightly_dag_maintains_after_a_successful_run_and_the_hourly_one_does_not():
    from airflow.dag_processing.dagbag import BundleDagBag

    dags = REPO / "dags"
    bag = BundleDagBag(dag_folder=str(dags), bundle_path=dags)
    assert bag.import_errors == {}
    task = bag.dags["news_ingest"].get_task("maintain")
    assert task.upstream_task_ids == {"report"} and not task.downstream_task_ids
    assert task.pool == "duckdb_writer"
    assert task.trigger_rule == "all_success"
    assert "maintain" not in bag.dags["news_fetch"].task_ids


@pytest.fixture
def numbers(tmp_path) -> tuple[Store, Path]:
    """A lake with one table of three rows in one data file, and that file."""
    lake = Store.at(tmp_path / "numbers.ducklake")
    with connect(lake) as con:
        con.execute("CREATE TABLE numbers (n INTEGER)")
        con.execute("INSERT INTO numbers VALUES (1), (2), (3)")
    [data_file] = Path(lake.data_path).rglob("*.parquet")
    return lake, data_file


def test_a_read_that_meets_a_file_maintenance_just_deleted_is_run_again(numbers):
    """`maintain` deletes merged files at once: a read scanning one fails, and run again it reads the merged one.
    Here the file is away for the first read only, as if maintenance had moved the rows while it ran."""
    lake, data_file = numbers
    away = data_file.rename(data_file.with_suffix(".away"))
    attempts = []

    def read():
        attempts.append(len(attempts) + 1)
        try:
            with connect(lake, read_only=True) as con:
                return con.execute("SELECT sum(n) FROM numbers").fetchall()
        finally:
            if away.exists():
                away.rename(data_file)

    assert store_module.retry_lost_files(read) == [(6,)] and attempts == [1, 2]


def test_a_file_that_stays_lost_or_another_error_is_raised(numbers):
    lake, data_file = numbers
    data_file.unlink()
    with pytest.raises(Exception, match="No such file or directory") as lost:
        store_module.query(lake, "SELECT sum(n) FROM numbers")
    assert store_module.is_lost_file(lost.value)
    calls = []

    def missing_table():
        calls.append(1)
        return store_module.query(lake, "SELECT * FROM no_such_table")

    with pytest.raises(Exception, match="no_such_table"):
        store_module.retry_lost_files(missing_table)
    assert calls == [1]
