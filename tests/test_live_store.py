"""The live store: readers during a write, and reading the store as of an earlier run (issue #13).

A DuckLake takes readers while one process writes: a notebook's connection left open all night and an analyst's
`news query` both keep working during a load, and each read sees the store after some commit, never half a load.
Each load is one snapshot named after its run, so the store can also be read as it was after any run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.run_folder import RunFolder
from pipeline.store import connect, query, read_only_query, run_snapshot
from tests.conftest import REPO, SEEDS
from tests.support.stores import copy_store

NEWS = str(Path(sys.executable).with_name("news"))
BASE_RUN = "before"
LIVE_ARTICLES = 100
"""Enough distinct articles for a run that takes several seconds, most of it outside the load's commit."""
BATCH_SIZE = 20
TIMEOUT = 600.0

RUNS_SQL = """
WITH runs AS (SELECT run_id, n_inputs, n_loaded FROM ingest_runs),
     logged AS (SELECT run_id, count(*) AS n_logged FROM ingest_log GROUP BY run_id),
     stored AS (SELECT run_id, count(*) AS n_stored FROM articles GROUP BY run_id),
     ids AS (SELECT run_id FROM runs UNION SELECT run_id FROM logged UNION SELECT run_id FROM stored)
SELECT ids.run_id, runs.n_inputs, logged.n_logged, runs.n_loaded, stored.n_stored
FROM ids LEFT JOIN runs USING (run_id) LEFT JOIN logged USING (run_id) LEFT JOIN stored USING (run_id)
ORDER BY ids.run_id
"""
"""One statement (so one snapshot) giving, per run id seen in any of the three tables: its ingest_runs counts,
its ledger rows and its stored articles. A reader that saw half a load would see them disagree."""

View = tuple[tuple[str, int | None, int | None, int | None, int | None], ...]
"""RUNS_SQL's rows: (run_id, n_inputs, ledger rows, n_loaded, articles)."""

DAG_RUN = """
import datetime as dt, sys
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag
dags, inbox, batch_size, night = sys.argv[1:]
dag = BundleDagBag(dag_folder=dags, bundle_path=Path(dags)).dags["news_ingest"]
night = dt.datetime.fromisoformat(night)
run = dag.test(logical_date=night, run_after=night, run_conf={"sources": [inbox], "batch_size": int(batch_size)})
sys.exit(0 if run.state == "success" else f"{run.run_id}: {run.state}")
"""
NIGHT = dt.datetime(2026, 3, 1, 2, tzinfo=dt.UTC)


def problems(view: View) -> list[str]:
    """What makes a view show part of a load: a run whose ledger, counts and articles disagree."""
    found = []
    for run_id, n_inputs, n_logged, n_loaded, n_stored in view:
        if n_inputs is None:
            found.append(f"{run_id}: ledger rows or articles without an ingest_runs row")
        elif (n_logged or 0) != n_inputs:
            found.append(f"{run_id}: {n_logged} ledger rows for {n_inputs} inputs")
        elif (n_stored or 0) != n_loaded:
            found.append(f"{run_id}: {n_stored} articles for {n_loaded} loaded")
    return found


def view_of(rows: list[tuple]) -> View:
    return tuple(tuple(row) for row in rows)


# --- inputs ----------------------------------------------------------------------------------------------------


def vocabulary() -> list[str]:
    words = set()
    for seed in SEEDS.glob("*.txt"):
        words.update(word.lower() for word in re.findall(r"[A-Za-z]{4,}", seed.read_text()))
    return sorted(words)


def write_articles(folder: Path, count: int, seed: int) -> Path:
    """`count` distinct English-looking articles (sentences drawn from the seeds' words), far from each other and
    from the seeds for near-duplicate detection, each long enough to be kept."""
    folder.mkdir(parents=True, exist_ok=True)
    words = vocabulary()
    rng = random.Random(seed)

    def sentence() -> str:
        return " ".join(rng.choices(words, k=rng.randint(9, 16))).capitalize() + "."

    for number in range(count):
        title = f"Dispatch {seed}-{number}: " + " ".join(rng.choices(words, k=6)).capitalize()
        paragraphs = [" ".join(sentence() for _ in range(3)) for _ in range(4)]
        (folder / f"dispatch-{seed}-{number:03d}.txt").write_text(title + "\n\n" + "\n\n".join(paragraphs) + "\n")
    return folder


def cli_env(root: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("NEWS_STORE", "NEWS_STAGING")}
    return {**env, "NEWS_DATA_DIR": str(root), "NEWS_STAGING": str(root / "staging"),
            "NEWS_BATCH_SIZE": str(BATCH_SIZE)}


def ingest_command(inputs: Path, store: Path, run_id: str, *options: str) -> list[str]:
    return [NEWS, "ingest", str(inputs), "--store", str(store), "--run-id", run_id, *options]


def run_ingest(inputs: Path, store: Path, run_id: str) -> None:
    done = subprocess.run(ingest_command(inputs, store, run_id, "--no-check"), capture_output=True, text=True,
                          env=cli_env(store.parent), timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def base_store(tmp_path_factory) -> Path:
    """A store holding one committed run (the seeds), copied by each test."""
    store = tmp_path_factory.mktemp("base") / "news.ducklake"
    run_ingest(SEEDS, store, BASE_RUN)
    return store


@pytest.fixture(scope="module")
def live_inbox(tmp_path_factory) -> Path:
    return write_articles(tmp_path_factory.mktemp("inbox"), LIVE_ARTICLES, seed=13)


# --- readers ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    """One read: when it started and ended (monotonic seconds), and what it saw or the error it got."""

    started: float
    ended: float
    view: View | None = None
    error: str | None = None


def parse_table(text: str) -> View:
    """`news query`'s table (header, rule, rows, `(n rows)`) back into RUNS_SQL's rows."""
    lines = text.strip().splitlines()
    assert lines[0].split() == ["run_id", "n_inputs", "n_logged", "n_loaded", "n_stored"], text
    assert re.fullmatch(r"\(\d+ rows?\)", lines[-1]), text
    rows = []
    for line in lines[2:-1]:
        run_id, *counts = line.split()
        rows.append((run_id, *(None if count == "NULL" else int(count) for count in counts)))
    return tuple(rows)


class QueryLoop:
    """`news query` run again and again, each a fresh process, from a thread of the test: once, then again and
    again from `go()` on, until stopped; the first read that starts after `stop()` is the last."""

    def __init__(self, store: Path):
        self.store = store
        self.reads: list[Read] = []
        self._stop_at: float | None = None
        self._go = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> QueryLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._stop_at is None:
            self.stop()
        self._thread.join(timeout=TIMEOUT)

    def go(self) -> None:
        self._go.set()

    def stop(self) -> None:
        self._stop_at = time.monotonic()
        self._go.set()

    def wait_for_reads(self, count: int) -> None:
        deadline = time.monotonic() + TIMEOUT
        while len(self.reads) < count and self._thread.is_alive():
            assert time.monotonic() < deadline, "news query never answered"
            time.sleep(0.05)

    def _loop(self) -> None:
        while True:
            started = time.monotonic()
            try:
                done = subprocess.run([NEWS, "query", "--store", str(self.store), RUNS_SQL], capture_output=True,
                                      text=True, timeout=120)
                if done.returncode != 0 or done.stderr.strip():
                    read = Read(started, time.monotonic(), error=f"exit {done.returncode}: {done.stderr.strip()}")
                else:
                    read = Read(started, time.monotonic(), view=parse_table(done.stdout))
            except Exception as exc:  # noqa: BLE001 - every failure is a failed read, reported by the test
                read = Read(started, time.monotonic(), error=f"{type(exc).__name__}: {exc}")
            self.reads.append(read)
            if self._stop_at is not None and started > self._stop_at:
                return
            self._go.wait()


@dataclass(frozen=True)
class Watched:
    """What the readers saw while a writer ran."""

    held: list[Read]
    """The one read-only connection the test kept open the whole time."""
    looped: list[Read]
    """`news query`, a fresh process each time."""
    writer_started: float
    load_started: float | None
    """When every batch of the run was processed, so its load was next: what a reader sees from then on until the
    commit is what a torn load would show."""
    writer_ended: float
    writer_returncode: int
    writer_log: str


def all_batches_processed(staging_dir: Path, run_id: str) -> Callable[[], bool]:
    """True once the run has planned and every raw batch has its processed outcomes: the load comes next."""
    root = RunFolder.of(staging_dir, run_id).root

    def processed() -> bool:
        raw = list(root.glob("raw-*.parquet"))
        return (root / "plan.json").exists() and bool(raw) and all(
            (batch.with_name(batch.stem.replace("raw-", "processed-")) / "outcomes.parquet").exists()
            for batch in raw)

    return processed


def watch(store: Path, writer: list[str], env: dict[str, str], log: Path, loading: Callable[[], bool]) -> Watched:
    """Run `writer` while both readers read; each has read once before it starts and reads again after it ends.
    `loading` tells when the writer's load is next."""
    held: list[Read] = []
    with connect(store, read_only=True) as con, QueryLoop(store) as looped:

        def read_held() -> None:
            started = time.monotonic()
            try:
                view = view_of(con.execute(RUNS_SQL).fetchall())
                held.append(Read(started, time.monotonic(), view=view))
            except Exception as exc:  # noqa: BLE001 - every failure is a failed read, reported by the test
                held.append(Read(started, time.monotonic(), error=f"{type(exc).__name__}: {exc}"))

        looped.wait_for_reads(1)
        read_held()
        with log.open("wb") as out:
            proc = subprocess.Popen(writer, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        writer_started = time.monotonic()
        looped.go()
        load_started = None
        try:
            while proc.poll() is None:
                assert time.monotonic() - writer_started < TIMEOUT, "the writer did not finish"
                if load_started is None and loading():
                    load_started = time.monotonic()
                read_held()
                time.sleep(0.02)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        writer_ended = time.monotonic()
        looped.stop()
        for _ in range(3):
            read_held()
    return Watched(held, looped.reads, writer_started, load_started, writer_ended, proc.returncode,
                   log.read_text(errors="replace"))


def assert_readers_saw_only_commits(watched: Watched, before: View, after: View, new_run: str) -> None:
    """Every read succeeded and saw the store as it was before the run or after it, in that order; some reads
    happened while the writer ran."""
    assert watched.writer_returncode == 0, watched.writer_log[-3000:]
    assert problems(before) == [] and problems(after) == [], (before, after)
    assert new_run not in {row[0] for row in before} and new_run in {row[0] for row in after}
    for name, reads in (("held connection", watched.held), ("news query", watched.looped)):
        errors = [read.error for read in reads if read.error]
        assert errors == [], f"{name}: {len(errors)} of {len(reads)} reads failed, first: {errors[0]}"
        views = [read.view for read in reads]
        partial = {view: problems(view) for view in views if problems(view)}
        assert partial == {}, f"{name} saw part of a load"
        assert set(views) <= {before, after}, f"{name} saw a store no commit left: {set(views) - {before, after}}"
        assert views[0] == before and views[-1] == after, f"{name}: first and last views"
        first_after = views.index(after)
        assert all(view == after for view in views[first_after:]), f"{name} saw the new run vanish again"
        during = [read for read in reads if watched.writer_started < read.started
                  and read.ended < watched.writer_ended]
        assert during, f"{name}: no read while the writer ran"
        assert any(read.view == before for read in during), f"{name}: no read during the run before its commit"
    assert watched.load_started is not None, "the run's batches were never all processed"
    loading = [read for read in watched.held if read.started > watched.load_started and read.view == before]
    assert loading, "the held connection never read between the end of processing and the load's commit"


def describe(watched: Watched, before: View) -> str:
    """How many reads each reader made, and how many of them while the writer ran, before and after its commit."""
    parts = []
    for name, reads in (("held connection", watched.held), ("news query", watched.looped)):
        during = [read for read in reads if watched.writer_started < read.started
                  and read.ended < watched.writer_ended]
        loading = [read for read in during if watched.load_started and read.started > watched.load_started]
        parts.append(f"{name}: {len(reads)} reads, {len(during)} during the run "
                     f"({sum(read.view == before for read in during)} before its commit, "
                     f"{sum(read.view == before for read in loading)} of them after processing ended)")
    return "; ".join(parts) + f"; writer {watched.writer_ended - watched.writer_started:.1f} s"


def current_view(store: Path) -> View:
    return view_of(query(store, RUNS_SQL)[1])


# --- tests -----------------------------------------------------------------------------------------------------


def test_readers_keep_reading_committed_runs_only_during_news_ingest(base_store, live_inbox, tmp_path):
    store = copy_store(base_store, tmp_path / "news.ducklake")
    before = current_view(store)
    watched = watch(store, ingest_command(live_inbox, store, "live"), cli_env(tmp_path), tmp_path / "ingest.log",
                    all_batches_processed(tmp_path / "staging", "live"))
    after = current_view(store)
    assert {row[0]: row[1:] for row in after}["live"][:2] == (LIVE_ARTICLES, LIVE_ARTICLES)
    assert_readers_saw_only_commits(watched, before, after, "live")
    print("\n" + describe(watched, before))


def dag_env(store: Path) -> dict[str, str]:
    """What the `dag_db` fixture sets, for a DAG run in its own process."""
    env = {key: value for key, value in os.environ.items() if key not in ("NEWS_STORE", "NEWS_STAGING")}
    return {**env, "AIRFLOW_CONN_DUCKDB_DEFAULT": json.dumps({"conn_type": "duckdb", "host": str(store)}),
            "NEWS_DATA_DIR": str(store.parent)}


def test_readers_keep_reading_committed_runs_only_during_a_dag_run(airflow_db, base_store, live_inbox, tmp_path):
    store = copy_store(base_store, tmp_path / "dag" / "news.ducklake")
    before = current_view(store)
    command = [sys.executable, "-c", DAG_RUN, str(REPO / "dags"), str(live_inbox), str(BATCH_SIZE),
               NIGHT.isoformat()]
    run_id = f"manual__{NIGHT.isoformat()}"
    watched = watch(store, command, dag_env(store), tmp_path / "dag.log",
                    all_batches_processed(store.parent / "staging", run_id))
    after = current_view(store)
    assert {row[0]: row[1:] for row in after}[run_id][:2] == (LIVE_ARTICLES, LIVE_ARTICLES)
    assert_readers_saw_only_commits(watched, before, after, run_id)
    _, checks = query(store, "SELECT count(*), count(*) FILTER (NOT success) FROM quality_results WHERE run_id = ?",
                      [run_id])
    assert checks[0][0] > 0 and checks[0][1] == 0
    print("\n" + describe(watched, before))


def test_the_store_as_of_an_earlier_run_has_that_runs_counts(base_store, tmp_path):
    store = copy_store(base_store, tmp_path / "news.ducklake")
    seeds = len(list(SEEDS.glob("*.txt")))
    run_ingest(write_articles(tmp_path / "second", 7, seed=29), store, "second")
    count = "SELECT count(*) FROM articles"

    def news_query(*args: str) -> str:
        done = subprocess.run([NEWS, "query", "--store", str(store), *args], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0 and done.stderr == "", done.stderr
        return done.stdout.splitlines()[2].strip()

    assert news_query(count) == str(seeds + 7)
    assert news_query("--as-of-run", BASE_RUN, count) == str(seeds)
    assert news_query("--as-of-run", "second", count) == str(seeds + 7)
    first = run_snapshot(store, BASE_RUN)
    assert first is not None and first < run_snapshot(store, "second")
    assert read_only_query(store, count, snapshot=first)[1] == [(seeds,)]
    as_of_first = view_of(read_only_query(store, RUNS_SQL, snapshot=first)[1])
    assert as_of_first == ((BASE_RUN, seeds, seeds, seeds, seeds),)
    assert read_only_query(store, count)[1] == [(seeds + 7,)]
