"""Long work says how far it got: `process_batch` logs a line every `PROGRESS_EVERY` inputs extracted and every
`NER_CHUNK` articles tagged, with the rate, and one line for the whole batch (what a `process` task log shows)."""

from __future__ import annotations

import logging
import random
from dataclasses import replace

from pipeline.sources.files import FileSource
from pipeline.stages import process as process_module
from pipeline.stages.plan import plan_source
from pipeline.stages.process import process_batch
from tests.support.local_site import WORDS


def test_a_batch_logs_its_progress_and_a_summary(settings, tmp_path, caplog):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    rng = random.Random(3)
    for number in range(70):
        sentences = " ".join(f"{' '.join(rng.sample(WORDS, 12)).capitalize()}." for _ in range(6))
        (inbox / f"{number:03d}.txt").write_text(f"Story number {number}\n\n{sentences}\n")
    (inbox / "empty.txt").write_text("")
    plan = plan_source(FileSource([str(inbox)]), replace(settings, batch_size=100), "progress")

    with caplog.at_level(logging.INFO, logger="pipeline.stages.process"):
        process_batch(plan.batches[0], settings)

    lines = [record.getMessage() for record in caplog.records]
    assert any(line.startswith("raw-00000: extracted 50 inputs (") and line.endswith("/s)") for line in lines)
    assert any(line.startswith("raw-00000: tagged 64 of ") for line in lines), f"a line per {process_module.NER_CHUNK}"
    [summary] = [line for line in lines if "inputs:" in line]
    assert summary.startswith("raw-00000: 71 inputs: ") and "rejected or failed; extraction " in summary
