"""A whole run in one process, as the CLI does it; the DAGs call the same stages one task each. A stream's
micro-batches are in `pipeline.stages.drain`, so a replay imports no stream or network client."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline import progress, run_folder
from pipeline.records import RunSummary
from pipeline.settings import Settings
from pipeline.sources.base import Source
from pipeline.sources.files import FileSource
from pipeline.stages.load import load
from pipeline.stages.plan import Plan, plan_source
from pipeline.stages.workers import BatchWorkers, shared_batch_size

if TYPE_CHECKING:
    from pipeline.sources.http import HttpPolicy
    from pipeline.sources.web import WebListing


def run_source(source: Source, settings: Settings, run_id: str, today: dt.date | None = None) -> RunSummary:
    return run_planned(plan_source(source, _planning(settings), run_id), settings, today)


def _planning(settings: Settings) -> Settings:
    """The settings a CLI run plans with: smaller batches when workers share them out."""
    return replace(settings, batch_size=shared_batch_size(settings, settings.workers))


def run_pipeline(paths: list[str], settings: Settings, run_id: str, today: dt.date | None = None) -> RunSummary:
    """Replay files and folders."""
    return run_source(FileSource(tuple(map(str, paths))), settings, run_id, today)


def run_fetch(listings: list[WebListing], settings: Settings, run_id: str, policy: HttpPolicy,
              max_pages: int | None = None) -> RunSummary:
    from pipeline.stages.fetch import fetch_pages, plan_fetched, snapshot_frontier

    snapshot_frontier(settings, run_id)
    fetch_pages(listings, settings, run_id, policy, max_pages)
    return run_planned(plan_fetched(_planning(settings), run_id, ",".join(listing.url for listing in listings)),
                       settings)


class StepClock:
    """Wall-clock seconds per named step."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, step: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[step] = self.seconds.get(step, 0.0) + time.perf_counter() - started


def run_planned(plan: Plan, settings: Settings, today: dt.date | None = None,
                clock: StepClock | None = None) -> RunSummary:
    clock = clock or StepClock()
    progress.start("extracting", sum(run_folder.count(batch) for batch in plan.batches))
    progress.start("tagging")
    with clock("process"):
        processed = _processed(plan.batches, settings, today)
    progress.start("loading", 1)
    with clock("load"):
        summary = load(plan, processed, settings)
    progress.advance("loading")
    plan.folder.remove()
    return summary


def _processed(batches: tuple[Path, ...], settings: Settings, today: dt.date | None) -> list[Path]:
    """Every batch processed: in `Settings.workers` processes side by side when there are several batches, else in
    turn in this one. A run whose inputs were all settled in the plan has none, and then neither spaCy nor
    trafilatura is imported (a second of a re-ingest)."""
    if not batches:
        return []
    if settings.workers > 1 and len(batches) > 1:
        with BatchWorkers(min(settings.workers, len(batches)), settings.spacy_model) as pool:
            return pool.collect(pool.submit(list(batches), settings, today))
    from pipeline.stages.process import process_batch

    return [process_batch(batch, settings, today) for batch in batches]
