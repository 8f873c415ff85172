"""Two writing processes on one store: the second waits for the writer slot, or says the store is busy in one
line; either way, once every run has finished (a busy one run again), no input is lost or counted twice."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from pipeline.store import Store, query, writer_slot
from tests.conftest import SEEDS

NEWS = str(Path(sys.executable).with_name("news"))
TIMEOUT = 600


def ingest(store: Path, folder: Path, run_id: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([NEWS, "ingest", str(folder), "--store", str(store), "--run-id", run_id, "--no-check"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NEWS_DATA_DIR": str(store.parent), **env})


def overlapping_inboxes(root: Path) -> dict[str, list[str]]:
    """Two inboxes sharing one seed: the five seeds, one of them in both. Returns run id → its input names."""
    seeds = sorted(SEEDS.glob("*.txt"))
    inboxes = {}
    for name, files in (("first", seeds[:3]), ("second", seeds[2:])):
        (root / name).mkdir()
        for seed in files:
            shutil.copy(seed, root / name / seed.name)
        inboxes[name] = sorted(seed.name for seed in files)
    return inboxes


def assert_every_input_settled_once(store: Path, inboxes: dict[str, list[str]]) -> None:
    """Each run has one ledger row per input and the counts to match; each distinct input is stored once, and the
    seed both runs read is a duplicate in whichever loaded second."""
    _, ledger = query(store, "SELECT run_id, source_uri, state, reason FROM ingest_log ORDER BY ALL")
    for run_id, names in inboxes.items():
        rows = [(uri.rsplit("/", 1)[-1], state, reason) for run, uri, state, reason in ledger if run == run_id]
        assert sorted(name for name, _, _ in rows) == names, f"{run_id}: {rows}"
        assert {state for _, state, _ in rows} <= {"loaded", "duplicate"}, rows
    assert sorted(state for _, _, state, _ in ledger) == ["duplicate"] + ["loaded"] * 5
    _, runs = query(store, "SELECT run_id, n_inputs, n_loaded + n_duplicate FROM ingest_runs ORDER BY run_id")
    assert runs == [(run_id, len(names), len(names)) for run_id, names in sorted(inboxes.items())]
    assert query(store, "SELECT count(*), count(DISTINCT content_hash) FROM articles")[1] == [(5, 5)]


def holds_open(pid: int, path: Path) -> bool:
    """Whether the process has `path` open: a writer that has opened the slot's lock file and is waiting on it."""
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.path.realpath(fd) == str(path) for fd in fds.iterdir())
    except (FileNotFoundError, ProcessLookupError):
        return False


def wait_until(condition, runs: list[subprocess.Popen], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        ended = [run for run in runs if run.poll() is not None]
        assert not ended, f"a run ended before {what}: {ended[0].communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.05)


def test_two_ingests_started_at_once_both_wait_for_the_slot_and_both_finish(tmp_path):
    """The test holds the slot until both runs are waiting on it, so both wait; then both finish, one after the
    other, and every input of both is in exactly one ledger state."""
    inboxes = overlapping_inboxes(tmp_path)
    store = tmp_path / "store" / "news.ducklake"
    lock = Store.at(store).lock_file
    with writer_slot(store):
        runs = [ingest(store, tmp_path / run_id, run_id) for run_id in inboxes]
        wait_until(lambda: all(holds_open(run.pid, lock.resolve()) for run in runs), runs,
                   "were both runs waiting for the writer slot")
        assert all(run.poll() is None for run in runs)
    outputs = [run.communicate(timeout=TIMEOUT) for run in runs]
    for run, (_, stderr) in zip(runs, outputs, strict=True):
        assert run.returncode == 0 and "Traceback" not in stderr, stderr[-2000:]
    assert_every_input_settled_once(store, inboxes)


def assert_busy(run: subprocess.Popen, stderr: str) -> None:
    lines = stderr.strip().splitlines()
    assert run.returncode == 2, stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("news: store busy"), stderr[-2000:]


def test_a_writer_that_waits_too_long_says_the_store_is_busy_in_one_line_and_a_rerun_loads_its_inputs(tmp_path):
    store = tmp_path / "news.ducklake"
    with writer_slot(store):
        busy = ingest(store, SEEDS, "busy", NEWS_WRITER_WAIT="1")
        _, stderr = busy.communicate(timeout=TIMEOUT)
    assert_busy(busy, stderr)
    assert not store.exists() or query(store, "SELECT count(*) FROM articles")[1] == [(0,)]
    again = ingest(store, SEEDS, "busy", NEWS_WRITER_WAIT="1")
    _, stderr = again.communicate(timeout=TIMEOUT)
    assert again.returncode == 0 and stderr == "", stderr[-2000:]
    assert query(store, "SELECT state, count(*) FROM ingest_log WHERE run_id = 'busy' GROUP BY ALL")[1] == [
        ("loaded", 5)]
    assert query(store, "SELECT count(*) FROM articles")[1] == [(5,)]


def test_two_ingests_started_at_once_with_a_short_wait_finish_or_say_busy_and_a_rerun_loses_nothing(tmp_path):
    """Whichever way the race goes, a run either finishes or exits 2 with the one-line message (never a traceback);
    running the busy one again settles every input."""
    inboxes = overlapping_inboxes(tmp_path)
    store = tmp_path / "store" / "news.ducklake"
    runs = {run_id: ingest(store, tmp_path / run_id, run_id, NEWS_WRITER_WAIT="0.5") for run_id in inboxes}
    outputs = {run_id: run.communicate(timeout=TIMEOUT) for run_id, run in runs.items()}
    busy = []
    for run_id, run in runs.items():
        stderr = outputs[run_id][1]
        assert run.returncode in (0, 2) and "Traceback" not in stderr, stderr[-2000:]
        if run.returncode == 2:
            assert_busy(run, stderr)
            busy.append(run_id)
    assert len(busy) <= 1
    print(f"\nbusy: {busy or 'none, the later writer waited'}")
    for run_id in busy:
        again = ingest(store, tmp_path / run_id, run_id)
        _, stderr = again.communicate(timeout=TIMEOUT)
        assert again.returncode == 0, stderr[-2000:]
    assert_every_input_settled_once(store, inboxes)
