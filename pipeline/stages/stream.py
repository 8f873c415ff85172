"""A stream run's own steps around the shared process and load: consume -> plan_consumed -> process -> load ->
acknowledge, each callable as a task of its own.

`consume` (stream and network -> run folder; reads the last committed snapshot of the store and takes no writer
slot, so fetching url-only messages holds no lock), `plan_consumed` (run folder -> raw batches, settling against
the store; writer slot), then the shared `process_batch` and `load` (which commits the stream's offset in the
transaction of the rows), then `acknowledge` (store -> stream: acknowledge what the committed offset covers).
Every step may run again; `acknowledge` may also never run (the next run's `consume` acknowledges what is
stored). See DESIGN.md, "Streams".
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import duckdb

from pipeline import run_folder
from pipeline.records import LedgerState, RawDoc, RunSummary
from pipeline.run_folder import RunFolder
from pipeline.settings import Settings
from pipeline.sources.base import ReadContext, SourceState
from pipeline.sources.stream import MAX_STREAM_ATTEMPTS, StreamSource, StreamState, stream_doc_key
from pipeline.stages.plan import Plan, plan_docs, raw_row, read_source_states
from pipeline.store import connect, ensure_schema, retry_lost_files

FAILING_SQL = (
    "SELECT doc_key, count(*) FILTER (WHERE state = 'failed') FROM ingest_log WHERE doc_key IN ("
    "  SELECT doc_key FROM ingest_log WHERE state = 'failed' AND starts_with(doc_key, ?)) "
    "GROUP BY doc_key HAVING arg_max(state, logged_at) = 'failed'"
)
"""A stream's entries whose last fate was `failed`, with how often they failed: tried again while under
`MAX_STREAM_ATTEMPTS`, so they are not acknowledged."""


@dataclass(frozen=True)
class Acknowledged:
    """What `acknowledge` did, and the stream's lag as the last committed run measured it (for the report and the
    DAG's asset event)."""

    stream: str
    acknowledged: int
    retrying: int
    """Entries the offset covers whose last fate was `failed`: left pending, to be taken again."""
    committed: StreamState

    def to_xcom(self) -> dict[str, Any]:
        return {"stream": self.stream, "offset": self.committed.offset, "acknowledged": self.acknowledged,
                "retrying": self.retrying, "consumed": self.committed.consumed, "pending": self.committed.pending,
                "oldest_pending_seconds": self.committed.oldest_pending_seconds}


@dataclass(frozen=True)
class StreamRun:
    """A whole stream micro-batch (`run_stream`): the load's summary (None when nothing was taken, so nothing was
    loaded), what this run took and left, and the acknowledgement."""

    summary: RunSummary | None
    taken: StreamState
    acknowledged: Acknowledged
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall-clock seconds of each step (consume, plan, process, load, acknowledge): where a micro-batch's time
    goes, in the drain's log. In a pipelined drain `process` is what was left to wait for after the previous
    micro-batch's load."""

    def line(self) -> str:
        pending = "unknown" if self.taken.pending is None else str(self.taken.pending)
        oldest = self.taken.oldest_pending_seconds
        steps = ", ".join(f"{step} {seconds:.1f}" for step, seconds in self.seconds.items())
        return (f"stream {self.acknowledged.stream}: consumed {self.taken.consumed}, acknowledged "
                f"{self.acknowledged.acknowledged}, retrying {self.acknowledged.retrying}, pending {pending}"
                + (f" (oldest {oldest:.1f} s)" if oldest is not None else "")
                + (f"; {sum(self.seconds.values()):.1f} s ({steps})" if self.seconds else ""))


def consume(settings: Settings, run_id: str, source: StreamSource, in_flight: Collection[str] = ()) -> RunFolder:
    """Take one micro-batch from the stream into the run folder, fetching url-only messages; returns the folder.

    Entries redelivered that the committed offset covers are stored already: acknowledged, not taken. A task
    retried after this step finished finds its folder and reads nothing (what it took is still pending). A run
    that already logged inputs (run again after its load) takes nothing new: it is planned from its own ledger,
    as a fetch run run again is, so its counts still match its ledger. `in_flight`: the entry ids of a micro-batch
    taken and not committed yet, which this one must not take again (`StreamSource.take`).
    """
    folder = RunFolder.of(settings.staging_dir, run_id)
    ensure_schema(settings.store)
    logged, known, failing = retry_lost_files(lambda: _stored_state(settings, run_id, source))
    if logged:
        run_folder.save_states(folder.source_states, [])
        run_folder.write([raw_row(doc) for doc in logged], run_folder.RAW_SCHEMA, folder.consumed)
        return folder
    if folder.consumed.exists():
        return folder
    docs = source.take(ReadContext(settings.max_input_bytes, known), failing, acknowledge_stored=True,
                       in_flight=in_flight)
    rows = [raw_row(doc) for doc in docs]
    run_folder.save_states(folder.source_states, source.states())
    run_folder.write(rows, run_folder.RAW_SCHEMA, folder.consumed)
    return folder


def plan_consumed(settings: Settings, run_id: str, label: str) -> Plan:
    """Plan what `consume` took, with the stream's new offset for the load to commit."""
    folder = RunFolder.of(settings.staging_dir, run_id)
    consumed = run_folder.read(folder.consumed).to_pylist()
    states = run_folder.read_states(folder.source_states)
    return plan_docs((RawDoc(**row) for row in consumed), settings, run_id, label, states=lambda: states)


def acknowledge(settings: Settings, source: StreamSource) -> Acknowledged:
    """Acknowledge the entries the committed offset covers, except those to be tried again; reads the offset from
    the store, so it is idempotent: run twice, or never (the next `consume` acknowledges them)."""
    committed: StreamState = StreamState(None)
    failing: dict[str, int] = {}
    if settings.store.exists():
        committed, failing = retry_lost_files(lambda: _committed_offset(settings, source))
    if committed.offset is None:
        return Acknowledged(source.stream, 0, 0, committed)
    with contextlib.closing(source.open_log()) as log:
        ids = log.unacknowledged(committed.offset)
        retry = {entry for entry in ids
                 if failing.get(stream_doc_key(source.stream, entry), MAX_STREAM_ATTEMPTS) < MAX_STREAM_ATTEMPTS}
        done = log.acknowledge([entry for entry in ids if entry not in retry])
    return Acknowledged(source.stream, done, len(retry), committed)


def _stored_state(settings: Settings, run_id: str, source: StreamSource,
                  ) -> tuple[list[RawDoc], dict[str, SourceState], dict[str, int]]:
    """What `consume` reads first: the run's own ledger rows, the sources' committed states, the failing entries."""
    with connect(settings.store, read_only=True) as con:
        return (_logged_inputs(con, run_id), {state.source_id: state for state in read_source_states(con, source.kind)},
                failing_entries(con, source.stream))


def _committed_offset(settings: Settings, source: StreamSource) -> tuple[StreamState, dict[str, int]]:
    with connect(settings.store, read_only=True) as con:
        known = {state.source_id: state for state in read_source_states(con, source.kind)}
        committed = StreamState.of(known.get(source.source_id))
        return committed, failing_entries(con, source.stream) if committed.offset else {}


def taken_by(plan: Plan, source: StreamSource) -> StreamState:
    """What the planned run took from the stream and left pending (nothing for a run planned from its ledger)."""
    return StreamState.of(next((s for s in plan.source_states if s.source_id == source.source_id), None))


def failing_entries(con: duckdb.DuckDBPyConnection, stream: str) -> dict[str, int]:
    """Doc key → failures, of the stream's entries whose last fate was `failed`."""
    return dict(con.execute(FAILING_SQL, [stream_doc_key(stream, "")]).fetchall())


def _logged_inputs(con: duckdb.DuckDBPyConnection, run_id: str) -> list[RawDoc]:
    """The entries a run already logged, as inputs again: `plan_docs` settles the stored ones from the store; the
    failed ones are not remembered there, so they come back carrying their reason and fail again."""
    rows = con.execute("SELECT doc_key, source_uri, state, reason FROM ingest_log WHERE run_id = ? "
                       "ORDER BY source_uri", [run_id]).fetchall()
    failed = str(LedgerState.FAILED)
    return [RawDoc(doc_key, source_uri, "json", b"", problem=reason if state == failed else None,
                   transient=state == failed)
            for doc_key, source_uri, state, reason in rows]

