"""Crash safety: runs SIGKILLed at seeded random points of each phase lose, double and orphan nothing.

A run may die anywhere (OOM killer, a worker lost, a reboot). The design claims it is then enough to run again:
`plan` rewrites the run's staging files, `process` touches no database, and `load` writes the whole run in one
DuckDB transaction, so a kill leaves the store either as it was or with the complete run. This sweep kills a CLI
run in each phase and two DAG runs (mid-process, mid-load), re-runs them, and checks the store against invariants
and against an unkilled reference run, so a change to how the store is written cannot quietly lose that property.

Kill points are found by the markers a run leaves (its staging files, the DAG's task log lines) plus a random
fraction of that phase's length in the reference run, seeded so a failure is reproducible.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import random
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.run_folder import RunFolder
from pipeline.store import connect, query
from tests.conftest import REPO, SEEDS
from tests.killing import Marker, finish, kill_after, reach, spawn, timeline
from tests.support.stores import copy_store

CORPUS_SEED = 20260111
SWEEP_SEED = 13
"""Seeds the kill points; a failure names its phase, so the same kill can be replayed."""
KILL_FRACTIONS = (0.0, 0.5)
"""A kill lands in the first half of its phase (as long as the reference run's), so it stays in that phase even
when this run is quite a bit faster than the reference."""
BATCH_SIZE = 3
NEWS = Path(sys.executable).with_name("news")
BASE_RUN = "base"
REFERENCE_RUN = "reference"
KILLED_RUN = "killed"
FRESH_RUN = "fresh"

CLI_PHASES = {
    "plan": (None, "planned"),
    "process": ("first batch processed", "all batches processed"),
    "load": ("all batches processed", "staging removed"),
    "after_load": ("staging removed", "exit"),
}
"""Each phase as (marker it starts at, marker it ends at); None is the start of the run, so `plan` includes the
interpreter's start-up. `process` starts after the first batch, which also loads the NER model, so a kill there
leaves some batches processed and others not."""

DAG_RUN = """
import datetime as dt, sys
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag
dags, corpus, batch_size, *nights = sys.argv[1:]
dag = BundleDagBag(dag_folder=dags, bundle_path=Path(dags)).dags["news_ingest"]
for night in map(dt.datetime.fromisoformat, nights):
    run = dag.test(logical_date=night, run_after=night, run_conf={"sources": [corpus], "batch_size": int(batch_size)})
    if run.state != "success":
        sys.exit(f"{run.run_id}: {run.state}")
"""
"""Runs the nights given one after the other in one process, which pays Airflow's start-up once."""
NIGHTS = [dt.datetime(2026, 2, day, 2, tzinfo=dt.UTC) for day in (1, 2, 3)]

DUPLICATED = {
    "article_id": "SELECT article_id FROM articles GROUP BY ALL HAVING count(*) > 1",
    "doc_key": "SELECT doc_key FROM articles GROUP BY ALL HAVING count(*) > 1",
    "content_hash of a first version": "SELECT content_hash FROM articles WHERE version_of IS NULL "
                                       "GROUP BY ALL HAVING count(*) > 1",
    "near-duplicate band": "SELECT band_key, article_id FROM minhash_bands GROUP BY ALL HAVING count(*) > 1",
    "date candidate": "SELECT * FROM date_candidates GROUP BY ALL HAVING count(*) > 1",
}
ORPHANED = {
    "mention without its article": "SELECT article_id FROM entity_mentions "
                                   "WHERE article_id NOT IN (SELECT article_id FROM articles)",
    "mention without its entity": "SELECT entity_id FROM entity_mentions "
                                  "WHERE entity_id NOT IN (SELECT entity_id FROM entities)",
    "duplicate of no article": "SELECT doc_key FROM duplicates "
                               "WHERE duplicate_of NOT IN (SELECT article_id FROM articles)",
    "ledger row of no article": "SELECT run_id, source_uri FROM ingest_log WHERE state IN ('loaded', 'duplicate') "
                                "AND (article_id IS NULL OR article_id NOT IN (SELECT article_id FROM articles))",
    "ledger row of no run": "SELECT run_id, source_uri FROM ingest_log "
                            "WHERE run_id NOT IN (SELECT run_id FROM ingest_runs)",
    "date candidate of no article": "SELECT article_id FROM date_candidates "
                                    "WHERE article_id NOT IN (SELECT article_id FROM articles)",
    "signature of no article": "SELECT article_id FROM minhash_signatures "
                               "WHERE article_id NOT IN (SELECT article_id FROM articles)",
    "band of no article": "SELECT article_id FROM minhash_bands "
                          "WHERE article_id NOT IN (SELECT article_id FROM articles)",
    "article of no story": "SELECT article_id FROM articles "
                           "WHERE story_id IS NOT NULL AND story_id NOT IN (SELECT story_id FROM stories)",
    "version of no article": "SELECT article_id FROM articles "
                             "WHERE version_of NOT IN (SELECT article_id FROM articles)",
}


@dataclass(frozen=True)
class Reference:
    """What an unkilled run over the corpus leaves, and when it reached each marker."""

    articles: list[tuple]
    times: dict[str, float]
    batches: int

    def phase_seconds(self, phase: str) -> float:
        start, end = CLI_PHASES[phase]
        return self.times[end] - (self.times[start] if start else 0.0)

    def batch_seconds(self) -> float:
        """Processing one batch after the first (the first also loads the NER model)."""
        return (self.times["all batches processed"] - self.times["first batch processed"]) / (self.batches - 1)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """The seeds, articles blended from their paragraphs, a seed missing a paragraph, a seed under another name and
    two bad inputs.

    With the seeds already in the base store, a run plans 12 new inputs: four batches to process, and a load with
    new articles, near and exact duplicates and rejects.
    """
    folder = tmp_path_factory.mktemp("corpus")
    seeds = sorted(SEEDS.glob("*.txt"))
    for seed in seeds:
        shutil.copy(seed, folder / seed.name)
    texts = [seed.read_text() for seed in seeds]
    rng = random.Random(CORPUS_SEED)
    for number in range(8):
        first, second = rng.sample(range(len(texts)), 2)
        head, _, first_body = texts[first].partition("\n\n")
        second_body = texts[second].partition("\n\n")[2]
        first_paragraphs = [p for p in first_body.split("\n\n") if p.strip()]
        second_paragraphs = [p for p in second_body.split("\n\n") if p.strip()]
        paragraphs = first_paragraphs[: len(first_paragraphs) // 2] + second_paragraphs[len(second_paragraphs) // 2:]
        rng.shuffle(paragraphs)
        (folder / f"blend-{number:02d}.txt").write_text(f"Dispatch {number}: {head}\n\n" + "\n\n".join(paragraphs))
    paragraphs = texts[2].split("\n\n")
    paragraphs.remove(max(paragraphs, key=len))
    (folder / "cut-copy.txt").write_text("\n\n".join(paragraphs))
    (folder / "same-as-first-seed.txt").write_bytes(seeds[0].read_bytes() + b"\n\n")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return folder


def input_names(corpus: Path) -> list[str]:
    return sorted(path.name for path in corpus.iterdir())


def cli_env(root: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("NEWS_STORE", "NEWS_STAGING")}
    return {**env, "NEWS_DATA_DIR": str(root), "NEWS_STAGING": str(root / "staging"),
            "NEWS_BATCH_SIZE": str(BATCH_SIZE)}


def ingest_command(inputs: Path, db: Path, run_id: str) -> list[str]:
    return [str(NEWS), "ingest", str(inputs), "--store", str(db), "--run-id", run_id, "--no-check"]


def run_folder(staging_dir: Path, run_id: str) -> Path:
    return RunFolder.of(staging_dir, run_id).root


def cli_markers(run_dir: Path) -> dict[str, Marker]:
    """The staging files a CLI run writes, in order: plan, each processed batch, then the folder's removal."""

    def all_batches_processed() -> bool:
        return all((processed_dir(raw) / "outcomes.parquet").exists() for raw in run_dir.glob("raw-*.parquet"))

    return {
        "planned": (run_dir / "plan.json").exists,
        "first batch processed": (run_dir / "processed-00000" / "outcomes.parquet").exists,
        "all batches processed": all_batches_processed,
        "staging removed": lambda: not run_dir.exists(),
    }


def processed_dir(raw_batch: Path) -> Path:
    return raw_batch.with_name(raw_batch.stem.replace("raw-", "processed-"))


def run_cli(inputs: Path, db: Path, run_id: str, root: Path) -> None:
    finish(spawn(ingest_command(inputs, db, run_id), cli_env(root), root / f"{run_id}.log"))


@pytest.fixture(scope="module")
def base_store(tmp_path_factory) -> Path:
    """A store that already holds the seeds, so a kill mid-load has earlier data to keep intact."""
    root = tmp_path_factory.mktemp("base")
    db = root / "news.ducklake"
    run_cli(SEEDS, db, BASE_RUN, root)
    return db


@pytest.fixture(scope="module")
def reference(corpus, base_store, tmp_path_factory) -> Reference:
    """The corpus run unkilled on a copy of the base store; its inputs not seen before are the ones batched."""
    root = tmp_path_factory.mktemp("reference")
    db = copy_store(base_store, root / "news.ducklake")
    run = spawn(ingest_command(corpus, db, REFERENCE_RUN), cli_env(root), root / "reference.log")
    times = timeline(run, cli_markers(run_folder(root / "staging", REFERENCE_RUN)))
    assert_run_complete(db, REFERENCE_RUN, corpus)
    assert_store_consistent(db)
    _, batched = query(db, "SELECT count(*) FROM ingest_log WHERE run_id = ? AND reason IS DISTINCT FROM "
                           "'seen_before'", [REFERENCE_RUN])
    return Reference(stored_articles(db), times, math.ceil(batched[0][0] / BATCH_SIZE))


def fingerprint(db: Path) -> dict[str, tuple]:
    """Every table's row count and the sum of its rows' hashes: equal fingerprints mean an unchanged store."""
    with connect(db, read_only=True) as con:
        tables = [name for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'").fetchall()]
        return {table: con.execute(f"SELECT count(*), sum(hash(r)::HUGEINT) FROM {table} r").fetchone()
                for table in sorted(tables)}


def stored_articles(db: Path) -> list[tuple]:
    _, rows = query(db, "SELECT a.doc_key, a.content_hash, count(m.article_id) FROM articles a "
                        "LEFT JOIN entity_mentions m USING (article_id) GROUP BY ALL ORDER BY ALL")
    return rows


def run_finished(db: Path, run_id: str) -> bool:
    _, rows = query(db, "SELECT count(*) FROM ingest_runs WHERE run_id = ?", [run_id])
    return rows[0][0] == 1


def assert_run_complete(db: Path, run_id: str, corpus: Path) -> None:
    """Every input has exactly one ledger row, and the run's counts are those of its ledger."""
    _, ledger = query(db, "SELECT source_uri, state FROM ingest_log WHERE run_id = ?", [run_id])
    assert sorted(uri.rsplit("/", 1)[-1] for uri, _ in ledger) == input_names(corpus)
    states = Counter(state for _, state in ledger)
    _, runs = query(db, "SELECT n_inputs, n_loaded, n_duplicate, n_rejected, n_failed FROM ingest_runs "
                        "WHERE run_id = ?", [run_id])
    expected = (len(ledger), states["loaded"], states["duplicate"], states["rejected"], states["failed"])
    assert runs == [expected]


def assert_store_consistent(db: Path) -> None:
    with connect(db, read_only=True) as con:
        doubled = {name: rows for name, sql in DUPLICATED.items() if (rows := con.execute(sql).fetchall())}
        orphans = {name: rows for name, sql in ORPHANED.items() if (rows := con.execute(sql).fetchall())}
    assert doubled == {}, "stored twice"
    assert orphans == {}, "orphaned"


def assert_all_or_nothing(db: Path, run_id: str, before: dict[str, tuple], corpus: Path) -> None:
    """A killed run left the store as it was, or (killed after its commit) holds the complete run."""
    if run_finished(db, run_id):
        assert_run_complete(db, run_id, corpus)
    else:
        assert fingerprint(db) == before, "the killed run left part of itself in the store"
    assert_store_consistent(db)


@pytest.mark.parametrize(("phase", "reruns"), [
    ("plan", [KILLED_RUN]),
    ("process", [KILLED_RUN]),
    ("load", [FRESH_RUN, KILLED_RUN]),
    ("after_load", [KILLED_RUN]),
])
def test_a_cli_run_killed_in_any_phase_and_run_again_ends_as_if_never_killed(
        phase, reruns, corpus, base_store, reference, tmp_path):
    """Run again under the same run id, as a retry would; after the load kill, first under a new one, as an operator
    starting afresh would, and then the killed run id still completes, adding nothing."""
    db = copy_store(base_store, tmp_path / "news.ducklake")
    before = fingerprint(db)
    rng = random.Random(f"{SWEEP_SEED}:cli:{phase}")
    delay = rng.uniform(*KILL_FRACTIONS) * reference.phase_seconds(phase)
    run_dir = run_folder(tmp_path / "staging", KILLED_RUN)
    run = spawn(ingest_command(corpus, db, KILLED_RUN), cli_env(tmp_path), tmp_path / "killed.log")
    start = CLI_PHASES[phase][0]
    assert reach(run, cli_markers(run_dir), upto=start), f"the run ended before the kill:\n{run.log_tail()}"
    killed = kill_after(run, delay)
    assert_all_or_nothing(db, KILLED_RUN, before, corpus)
    if phase == "load":
        assert killed and not run_finished(db, KILLED_RUN), f"the kill {delay:.2f}s into the load came after its commit"
    for run_id in reruns:
        run_cli(corpus, db, run_id, tmp_path)
        assert_run_complete(db, run_id, corpus)
    assert_store_consistent(db)
    assert stored_articles(db) == reference.articles
    assert not run_dir.exists()


def dag_env(db: Path) -> dict[str, str]:
    """What the `dag_db` fixture sets, for a DAG run in its own process; unbuffered, so its log is live."""
    env = {key: value for key, value in os.environ.items() if key not in ("NEWS_STORE", "NEWS_STAGING")}
    return {**env, "AIRFLOW_CONN_DUCKDB_DEFAULT": json.dumps({"conn_type": "duckdb", "host": str(db)}),
            "NEWS_DATA_DIR": str(db.parent), "PYTHONUNBUFFERED": "1"}


def dag_command(corpus: Path, *nights: dt.datetime) -> list[str]:
    return [sys.executable, "-c", DAG_RUN, str(REPO / "dags"), str(corpus), str(BATCH_SIZE),
            *(night.isoformat() for night in nights)]


def dag_run_id(night: dt.datetime) -> str:
    return f"manual__{night.isoformat()}"


class LogLines:
    """Markers for lines a running DAG logs, read as the log grows.

    `dag.test()` logs `[DAG TEST] starting task_id=...` as it takes a task up, and `::endgroup::` right before
    calling the task's function, so the pair marks the moment the task's own code starts.
    """

    def __init__(self, log: Path):
        self.log = log
        self.text = ""
        self.read_up_to = 0

    def marker(self, *lines: str) -> Marker:
        """True once the log holds these lines in this order."""

        def logged() -> bool:
            with self.log.open("rb") as out:
                out.seek(self.read_up_to)
                chunk = out.read()
            self.read_up_to += len(chunk)
            self.text += chunk.decode(errors="replace")
            position = 0
            for line in lines:
                position = self.text.find(line, position)
                if position < 0:
                    return False
            return True

        return logged


def dag_markers(log: Path) -> dict[str, Marker]:
    lines = LogLines(log)
    return {"second batch running": lines.marker("[DAG TEST] starting task_id=process map_index=1", "::endgroup::"),
            "load running": lines.marker("[DAG TEST] starting task_id=load", "::endgroup::")}


def test_dag_runs_killed_mid_process_and_mid_load_leave_the_store_as_it_was_and_the_next_runs_complete_it(
        airflow_db, corpus, base_store, reference, tmp_path):
    """Two nights killed (while processing the second batch, then in the load task), a third night run through,
    then the night whose load was killed run again, as clearing it in Airflow would: it adds no article.

    The kills wait on the DAG's log, then a fraction of what a batch and the load took in the CLI reference run:
    the same stage functions, in the same order.
    """
    db = copy_store(base_store, tmp_path / "dag" / "news.ducklake")
    before = fingerprint(db)
    rng = random.Random(f"{SWEEP_SEED}:dag")
    kills = [("second batch running", reference.batch_seconds()), ("load running", reference.phase_seconds("load"))]
    for night, (marker, seconds) in zip(NIGHTS[:2], kills, strict=True):
        run = spawn(dag_command(corpus, night), dag_env(db), tmp_path / f"{night:%d}.log")
        assert reach(run, dag_markers(run.log), upto=marker), f"the run ended before {marker}:\n{run.log_tail()}"
        delay = rng.uniform(*KILL_FRACTIONS) * seconds
        assert kill_after(run, delay), f"the run ended {delay:.2f}s after {marker}"
        assert fingerprint(db) == before, f"the kill {delay:.2f}s after {marker!r} left the store changed"
    fresh, killed_load = NIGHTS[2], NIGHTS[1]
    finish(spawn(dag_command(corpus, fresh, killed_load), dag_env(db), tmp_path / "reruns.log"))
    for night in (fresh, killed_load):
        assert_run_complete(db, dag_run_id(night), corpus)
    assert_store_consistent(db)
    assert stored_articles(db) == reference.articles
    _, loaded = query(db, "SELECT run_id, count(*) FROM ingest_log WHERE state = 'loaded' GROUP BY ALL ORDER BY ALL")
    in_base = len(stored_articles(base_store))
    assert loaded == [(BASE_RUN, in_base), (dag_run_id(fresh), len(reference.articles) - in_base)]
    assert run_folder(db.parent / "staging", dag_run_id(NIGHTS[0])).is_dir(), "a run never re-run keeps its files"
    assert not run_folder(db.parent / "staging", dag_run_id(killed_load)).exists()
