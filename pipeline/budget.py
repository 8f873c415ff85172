"""A wall-clock budget per input, so one pathological page cannot hold a whole batch (or a run) hostage."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import NoReturn


class OverBudget(Exception):
    """The input took longer than its budget; the message says how long that was."""


@contextmanager
def time_budget(seconds: float | None) -> Iterator[None]:
    """Raise `OverBudget` in the block once `seconds` of wall-clock time have passed.

    It uses SIGALRM, so it works in the main thread of a process and only between Python bytecodes (C code
    that never returns to Python, such as one huge regex match, runs to its end first). Elsewhere, or while
    another alarm is pending (Airflow's own task timeout), the block runs without a budget rather than
    disturbing that alarm.
    """
    if not (seconds and seconds > 0 and threading.current_thread() is threading.main_thread()
            and hasattr(signal, "setitimer") and signal.getitimer(signal.ITIMER_REAL)[0] == 0):
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> NoReturn:
        raise OverBudget(f"over the time budget of {seconds:g} s per input")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
