"""A stream, micro-batch by micro-batch: consume, plan, process, load, acknowledge, in one process (`news consume`,
the `news_stream` DAG's `drain` task)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline import run_folder
from pipeline.settings import Settings
from pipeline.sources.stream import StreamSource, StreamState, entry_of
from pipeline.stages.load import load
from pipeline.stages.plan import Plan
from pipeline.stages.run import StepClock, run_planned
from pipeline.stages.stream import StreamRun, acknowledge, consume, plan_consumed, taken_by
from pipeline.stages.workers import BatchWorkers, shared_batch_size
from pipeline.store import kept_connection

IDLE_POLL_SECONDS = 0.5
"""How often a drain that found the stream empty looks again."""


def run_stream(source: StreamSource, settings: Settings, run_id: str) -> StreamRun:
    """One micro-batch, as the stream DAG runs it: consume, plan, process, load, acknowledge. A batch that took
    nothing loads nothing (no run is recorded). `drain_stream` pipelines these steps over processing workers."""
    clock = StepClock()
    with clock("consume"):
        consume(settings, run_id, source)
    with clock("plan"):
        plan = plan_consumed(settings, run_id, source.label)
    summary = run_planned(plan, settings, clock=clock) if plan.n_inputs else None
    if summary is None:
        plan.folder.remove()
    with clock("acknowledge"):
        acknowledged = acknowledge(settings, source)
    return StreamRun(summary, taken_by(plan, source), acknowledged, clock.seconds)


@dataclass
class StreamDrain:
    """The micro-batches one `drain_stream` loaded, in order, and the last one's acknowledgement (the lag after it)."""

    runs: list[StreamRun] = field(default_factory=list)
    last: StreamRun | None = None

    @property
    def run_ids(self) -> list[str]:
        return [done.summary.run_id for done in self.runs if done.summary is not None]

    @property
    def consumed(self) -> int:
        return sum(done.taken.consumed for done in self.runs)

    @property
    def acknowledged(self) -> int:
        return sum(done.acknowledged.acknowledged for done in self.runs)

    def add(self, done: StreamRun, on_batch: Callable[[StreamRun], None] | None) -> None:
        """A micro-batch that took entries, loaded and acknowledged."""
        self.runs.append(done)
        self.last = done
        if on_batch:
            on_batch(done)

    def to_xcom(self) -> dict[str, Any]:
        """The run's lag as the stream DAG publishes it: totals over the micro-batches, the backlog after the last."""
        lag = self.last.acknowledged.to_xcom() if self.last else {}
        return {**lag, "consumed": self.consumed, "acknowledged": self.acknowledged, "micro_batches": len(self.runs),
                "runs": self.run_ids}


def drain_stream(source: StreamSource, settings: Settings, run_prefix: str, max_run_seconds: float,
                 idle_seconds: float, on_batch: Callable[[StreamRun], None] | None = None,
                 workers: int = 1) -> StreamDrain:
    """Micro-batches one after another in this process (`run_stream`, run ids `<run_prefix>.0001`, ...) while
    entries keep coming: the NLP model stays loaded and a published entry waits for one micro-batch, not for a new
    Airflow run. Stops when the stream has had nothing new for `idle_seconds`, or when a micro-batch ends after
    `max_run_seconds`. Each micro-batch commits and acknowledges on its own, so a drain killed at any point loses
    and doubles nothing: the entries of the micro-batches it was in are taken again by the next.

    With `workers` > 1, extraction and NER run in that many processes started once for the drain
    (`BatchWorkers`, each loading the model once), each micro-batch cut into that many batches, and the drain is
    pipelined: micro-batch k+1 is taken, planned and sent to the workers before k is loaded, so the workers tag
    k+1 while this process loads k (loads stay in order; k+1 skips k's entries, which are not committed yet).

    The drain keeps one store connection (`kept_connection`, PostgreSQL catalogs) for all its micro-batches."""
    with kept_connection(settings.store):
        if workers <= 1:
            return _drain(source, settings, run_prefix, max_run_seconds, idle_seconds, on_batch)
        with BatchWorkers(workers, settings.spacy_model) as pool:
            return _drain_pipelined(source, settings, run_prefix, max_run_seconds, idle_seconds, on_batch, pool)


def _drain(source: StreamSource, settings: Settings, run_prefix: str, max_run_seconds: float, idle_seconds: float,
           on_batch: Callable[[StreamRun], None] | None) -> StreamDrain:
    started = time.monotonic()
    drained = StreamDrain()
    idle_since: float | None = None
    number = 0
    while time.monotonic() - started < max_run_seconds:
        done = run_stream(source, settings, f"{run_prefix}.{number + 1:04d}")
        if done.taken.consumed:
            number += 1
            drained.add(done, on_batch)
            idle_since = None
            continue
        drained.last = done
        idle_since = _idle_since(idle_since, idle_seconds)
        if idle_since is None:
            break
    return drained


def _idle_since(since: float | None, idle_seconds: float) -> float | None:
    """When the stream, found empty now, became empty (after a pause of `IDLE_POLL_SECONDS` before the next
    look), or None once it has been empty for `idle_seconds`: the drain ends."""
    now = time.monotonic()
    since = now if since is None else since
    if now - since >= idle_seconds:
        return None
    time.sleep(IDLE_POLL_SECONDS)
    return since


@dataclass
class _Staged:
    """A micro-batch taken and planned, its batches sent to the workers (`submitted`, None when it has nothing to
    process), not loaded yet."""

    plan: Plan
    taken: StreamState
    entry_ids: frozenset[str]
    clock: StepClock
    submitted: list[int] | None
    processed: list[Path] = field(default_factory=list)


def _stage(source: StreamSource, settings: Settings, run_id: str, pool: BatchWorkers,
           in_flight: frozenset[str]) -> _Staged:
    clock = StepClock()
    with clock("consume"):
        folder = consume(settings, run_id, source, in_flight)
    taken = run_folder.read(folder.consumed).column("doc_key").to_pylist() if folder.consumed.exists() else []
    planning = replace(settings, batch_size=shared_batch_size(settings, len(pool), len(taken)))
    with clock("plan"):
        plan = plan_consumed(planning, run_id, source.label)
    submitted = pool.submit(list(plan.batches), settings) if plan.n_inputs else None
    return _Staged(plan, taken_by(plan, source), frozenset(map(entry_of, taken)), clock, submitted)


def _finish(staged: _Staged, settings: Settings, source: StreamSource) -> StreamRun:
    """Load a staged micro-batch whose processing was collected, then acknowledge what the store now covers."""
    summary = None
    if staged.submitted is not None:
        with staged.clock("load"):
            summary = load(staged.plan, staged.processed, settings)
    staged.plan.folder.remove()
    with staged.clock("acknowledge"):
        acknowledged = acknowledge(settings, source)
    return StreamRun(summary, staged.taken, acknowledged, staged.clock.seconds)


def _drain_pipelined(source: StreamSource, settings: Settings, run_prefix: str, max_run_seconds: float,
                     idle_seconds: float, on_batch: Callable[[StreamRun], None] | None,
                     pool: BatchWorkers) -> StreamDrain:
    started = time.monotonic()
    drained = StreamDrain()
    idle_since: float | None = None
    number = 0
    ready: _Staged | None = None
    while True:
        more = time.monotonic() - started < max_run_seconds
        staged = (_stage(source, settings, f"{run_prefix}.{number + 1:04d}", pool,
                         ready.entry_ids if ready else frozenset()) if more else None)
        if ready is not None:
            drained.add(_finish(ready, settings, source), on_batch)
            ready = None
        if staged is None:
            break
        if staged.taken.consumed:
            number += 1
            idle_since = None
            if staged.submitted is not None:
                with staged.clock("process"):
                    staged.processed = pool.collect(staged.submitted)
            ready = staged
            continue
        drained.last = _finish(staged, settings, source)
        idle_since = _idle_since(idle_since, idle_seconds)
        if idle_since is None:
            break
    return drained
