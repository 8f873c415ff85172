"""Start a command in its own process group, follow its progress by markers it leaves, SIGKILL it on cue.

The crash-safety sweep kills runs at chosen points of their phases. Waiting on markers (files a stage writes,
lines a DAG run logs) instead of fixed sleeps keeps the kill points in the intended phase on slow and fast
machines alike; every wait is bounded, so a run that hangs fails the test instead of stalling CI.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.support.cluster import group_alive

POLL_SECONDS = 0.005
RUN_TIMEOUT_SECONDS = 300.0
GROUP_EXIT_TIMEOUT_SECONDS = 30.0

Marker = Callable[[], bool]
"""True once the run has reached a point of its progress; markers are checked in order, each after the one before."""


class RunTimedOut(AssertionError):
    """A run neither reached its marker nor ended in time; the message carries the log's tail."""


@dataclass
class Spawned:
    proc: subprocess.Popen
    log: Path
    started: float

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def spawn(command: list[str], env: dict[str, str], log: Path) -> Spawned:
    """Its own session, so a kill reaches every process the command starts, and nothing else."""
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return Spawned(proc, log, time.monotonic())


def reach(run: Spawned, markers: dict[str, Marker], upto: str | None, timeout: float = RUN_TIMEOUT_SECONDS) -> bool:
    """Wait until the markers up to `upto` (in their order) are reached; False when the run ended first."""
    if upto is None:
        return run.proc.poll() is None
    names = list(markers)
    for name in names[: names.index(upto) + 1]:
        while not markers[name]():
            if run.proc.poll() is not None:
                return False
            _check_time(run, timeout, f"marker {name!r}")
            time.sleep(POLL_SECONDS)
    return True


def timeline(run: Spawned, markers: dict[str, Marker], timeout: float = RUN_TIMEOUT_SECONDS) -> dict[str, float]:
    """Seconds from the start at which each marker was first seen, in order, and `exit`; the run must succeed."""
    seen: dict[str, float] = {}
    pending = list(markers)
    while run.proc.poll() is None:
        while pending and markers[pending[0]]():
            seen[pending.pop(0)] = run.elapsed()
        _check_time(run, timeout, "the end of the run")
        time.sleep(POLL_SECONDS)
    seen["exit"] = run.elapsed()
    assert run.proc.returncode == 0, run.log_tail()
    assert not pending, f"markers never seen: {pending}\n{run.log_tail()}"
    return seen


def kill_after(run: Spawned, delay: float) -> bool:
    """SIGKILL the run's whole process group after `delay` seconds; False when it had ended before."""
    try:
        run.proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.killpg(run.proc.pid, signal.SIGKILL)
        run.proc.wait(timeout=GROUP_EXIT_TIMEOUT_SECONDS)
        _wait_group_gone(run)
        return True
    _wait_group_gone(run)
    return False


def finish(run: Spawned, timeout: float = RUN_TIMEOUT_SECONDS) -> None:
    """Let the run end on its own; it must succeed."""
    try:
        run.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_after(run, 0)
        raise RunTimedOut(f"run did not end in {timeout:.0f}s\n{run.log_tail()}") from None
    _wait_group_gone(run)
    assert run.proc.returncode == 0, run.log_tail()


def _wait_group_gone(run: Spawned) -> None:
    """A child still alive would keep the DuckDB lock (or keep writing) while the next run starts."""
    deadline = time.monotonic() + GROUP_EXIT_TIMEOUT_SECONDS
    while group_alive(run.proc.pid):
        if time.monotonic() > deadline:
            os.killpg(run.proc.pid, signal.SIGKILL)
            raise RunTimedOut(f"process group {run.proc.pid} still alive after its leader ended")
        time.sleep(POLL_SECONDS)


def _check_time(run: Spawned, timeout: float, waiting_for: str) -> None:
    if run.elapsed() > timeout:
        kill_after(run, 0)
        raise RunTimedOut(f"waited {timeout:.0f}s for {waiting_for}\n{run.log_tail()}")
