"""A wall-clock budget per input: the slow input is rejected with a reason, the others in its batch load."""

from __future__ import annotations

import signal
import time
from dataclasses import replace

import pytest

from pipeline.budget import OverBudget, time_budget
from pipeline.stages.run import run_pipeline
from pipeline.store import query
from tests.conftest import SEEDS


def test_the_block_is_stopped_when_its_budget_is_spent():
    with pytest.raises(OverBudget, match=r"0\.05 s"), time_budget(0.05):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            pass


def test_no_budget_lets_the_block_finish_and_leaves_no_alarm_behind():
    with time_budget(0):
        time.sleep(0.01)
    with time_budget(5):
        pass
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0


def test_an_input_over_its_budget_is_rejected_and_the_run_goes_on(settings, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    seed = sorted(SEEDS.glob("*.txt"))[0]
    (inbox / seed.name).write_text(seed.read_text())
    paragraphs = "\n\n".join(f"Paragraph {n} of a page far too slow to read, about item {n * 7}." for n in range(3000))
    (inbox / "slow.html").write_text(f"<html><body><article>{paragraphs}</article></body></html>")
    run_pipeline([str(inbox)], replace(settings, input_time_budget=0.02, max_body_chars=10**7), "budget")
    states = dict(query(settings.store, "SELECT regexp_extract(source_uri, '[^/]+$'), state || ': ' || "
                                          "coalesce(reason, '') FROM ingest_log")[1])
    assert states["slow.html"] == "rejected: over the time budget of 0.02 s per input"
    assert states[seed.name] in ("loaded: ", "rejected: over the time budget of 0.02 s per input")
