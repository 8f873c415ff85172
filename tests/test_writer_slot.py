"""Two writing processes on one store: the second waits for the writer slot, or says the store is busy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from pipeline.store import query, writer_slot
from tests.conftest import SEEDS

NEWS = str(Path(sys.executable).with_name("news"))


def ingest(db: Path, folder: Path, run_id: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([NEWS, "ingest", str(folder), "--db", str(db), "--run-id", run_id, "--no-check"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NEWS_DATA_DIR": str(db.parent), **env})


def test_two_ingests_started_at_once_both_finish_and_account_for_every_input(tmp_path):
    seeds = sorted(SEEDS.glob("*.txt"))
    for name, files in (("first", seeds[:3]), ("second", seeds[2:])):
        (tmp_path / name).mkdir()
        for seed in files:
            shutil.copy(seed, tmp_path / name / seed.name)
    db = tmp_path / "store" / "news.ducklake"
    runs = [ingest(db, tmp_path / "first", "first"), ingest(db, tmp_path / "second", "second")]
    outputs = [run.communicate(timeout=600) for run in runs]
    for run, (_, stderr) in zip(runs, outputs, strict=True):
        assert run.returncode == 0 and "Traceback" not in stderr, stderr[-2000:]
    assert query(db, "SELECT count(*), count(DISTINCT content_hash) FROM articles")[1] == [(5, 5)]
    assert query(db, "SELECT run_id, count(*) FROM ingest_log GROUP BY ALL ORDER BY ALL")[1] == [
        ("first", 3), ("second", 3)]


def test_a_writer_that_waits_too_long_says_the_store_is_busy_in_one_line(tmp_path):
    db = tmp_path / "news.ducklake"
    with writer_slot(db):
        busy = ingest(db, SEEDS, "busy", NEWS_WRITER_WAIT="1")
        _, stderr = busy.communicate(timeout=300)
    assert busy.returncode == 2
    assert stderr.strip().startswith("news: store busy") and len(stderr.strip().splitlines()) == 1
    assert not db.exists() or query(db, "SELECT count(*) FROM articles")[1] == [(0,)]
