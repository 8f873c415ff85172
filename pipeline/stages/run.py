"""A whole run in one process, as the CLI does it; the DAGs call the same stages one task each."""

from __future__ import annotations

import datetime as dt

from pipeline.records import RunSummary
from pipeline.settings import Settings
from pipeline.sources.base import Source
from pipeline.sources.files import FileSource
from pipeline.sources.http import HttpPolicy
from pipeline.sources.stream import StreamSource
from pipeline.sources.web import WebListing
from pipeline.stages.fetch import fetch_pages, plan_fetched, snapshot_frontier
from pipeline.stages.load import load
from pipeline.stages.plan import Plan, plan_source
from pipeline.stages.process import process_batch
from pipeline.stages.stream import StreamRun, acknowledge, consume, plan_consumed, taken_by


def run_source(source: Source, settings: Settings, run_id: str, today: dt.date | None = None) -> RunSummary:
    return run_planned(plan_source(source, settings, run_id), settings, today)


def run_pipeline(paths: list[str], settings: Settings, run_id: str, today: dt.date | None = None) -> RunSummary:
    """Replay files and folders."""
    return run_source(FileSource(tuple(map(str, paths))), settings, run_id, today)


def run_fetch(listings: list[WebListing], settings: Settings, run_id: str, policy: HttpPolicy,
              max_pages: int | None = None) -> RunSummary:
    snapshot_frontier(settings, run_id)
    fetch_pages(listings, settings, run_id, policy, max_pages)
    return run_planned(plan_fetched(settings, run_id, ",".join(listing.url for listing in listings)), settings)


def run_stream(source: StreamSource, settings: Settings, run_id: str) -> StreamRun:
    """One micro-batch, as the stream DAG runs it: consume, plan, process, load, acknowledge. A batch that took
    nothing loads nothing (no run is recorded)."""
    consume(settings, run_id, source)
    plan = plan_consumed(settings, run_id, source.label)
    summary = run_planned(plan, settings) if plan.n_inputs else None
    if summary is None:
        plan.folder.remove()
    return StreamRun(summary, taken_by(plan, source), acknowledge(settings, source))


def run_planned(plan: Plan, settings: Settings, today: dt.date | None = None) -> RunSummary:
    processed = [process_batch(batch, settings, today) for batch in plan.batches]
    summary = load(plan, processed, settings)
    plan.folder.remove()
    return summary
