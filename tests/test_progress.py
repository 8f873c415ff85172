"""Long work says how far it got: `process_batch` logs a line every `PROGRESS_EVERY` inputs extracted and every
`NER_CHUNK` articles tagged, with the rate, and one line for the whole batch (what a `process` task log shows);
a CLI run reports every stage to `pipeline.progress`, which the CLI draws as bars on a terminal and as a line now
and then elsewhere."""

from __future__ import annotations

import io
import logging
import random
from dataclasses import replace

from pipeline import progress
from pipeline.cli import ProgressDisplay
from pipeline.sources.files import FileSource
from pipeline.stages import process as process_module
from pipeline.stages.plan import plan_source
from pipeline.stages.process import process_batch
from pipeline.stages.run import run_source
from tests.support.local_site import WORDS


def stories(inbox, count: int = 70):
    inbox.mkdir()
    rng = random.Random(3)
    for number in range(count):
        sentences = " ".join(f"{' '.join(rng.sample(WORDS, 12)).capitalize()}." for _ in range(6))
        (inbox / f"{number:03d}.txt").write_text(f"Story number {number}\n\n{sentences}\n")
    (inbox / "empty.txt").write_text("")


def test_a_batch_logs_its_progress_and_a_summary(settings, tmp_path, caplog):
    inbox = tmp_path / "inbox"
    stories(inbox)
    plan = plan_source(FileSource([str(inbox)]), replace(settings, batch_size=100), "progress")

    with caplog.at_level(logging.INFO, logger="pipeline.stages.process"):
        process_batch(plan.batches[0], settings)

    lines = [record.getMessage() for record in caplog.records]
    assert any(line.startswith("raw-00000: extracted 50 inputs (") and line.endswith("/s)") for line in lines)
    assert any(line.startswith("raw-00000: tagged 64 of ") for line in lines), f"a line per {process_module.NER_CHUNK}"
    [summary] = [line for line in lines if "inputs:" in line]
    assert summary.startswith("raw-00000: 71 inputs: ") and "rejected or failed; extraction " in summary


def test_a_run_reports_every_stage_with_its_total(settings, tmp_path):
    inbox = tmp_path / "inbox"
    stories(inbox, 30)
    heard: list[tuple[str, int, int | None]] = []
    with progress.listening(lambda stage, done, total: heard.append((stage, done, total))):
        run_source(FileSource([str(inbox)]), replace(settings, batch_size=10), "progress")

    starts = {stage: total for stage, done, total in heard if done == 0}
    done = {stage: sum(step for name, step, _ in heard if name == stage) for stage in starts}
    assert starts == {"reading": None, "extracting": 31, "tagging": None, "loading": 1}
    assert done == {"reading": 31, "extracting": 31, "tagging": 30, "loading": 1}
    assert [stage for stage, step, _ in heard if step == 0] == ["reading", "extracting", "tagging", "loading"]


def test_away_from_a_terminal_progress_is_a_plain_line_now_and_then():
    stream = io.StringIO()
    display = ProgressDisplay(stream)
    display.LINE_EVERY = 0.0
    display("extracting", 0, 4)
    display("extracting", 1, None)
    display("tagging", 0, None)
    display("tagging", 3, None)
    display.close()

    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("news: extracting 1/4 (") and lines[0].endswith("/s)")
    assert lines[-1].startswith("news: extracting 1/4 (") and ", tagging 3 (" in lines[-1]
    assert "\r" not in stream.getvalue() and "%|" not in stream.getvalue(), "no bar is drawn into a file"


def test_nothing_is_drawn_between_lines():
    stream = io.StringIO()
    display = ProgressDisplay(stream)
    for _ in range(100):
        display("reading", 1, None)
    assert stream.getvalue() == "", "a short run prints no progress line"
