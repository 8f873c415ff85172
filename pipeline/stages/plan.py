"""Plan: read a source as a stream, settle what earlier runs already settled, and write bounded raw batches.

Only inputs never seen reach extraction and NER: the same bytes again keep their earlier fate. The plan (saved in
the run folder, so a separate `load` task or a person can read it back) carries the source's new state, which
the load commits with the rows.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from pipeline import progress, run_folder
from pipeline.groups import bounded_groups
from pipeline.neardup import check_layout
from pipeline.records import LedgerEntry, LedgerState, RawDoc, Reason
from pipeline.run_folder import RunFolder
from pipeline.settings import Settings
from pipeline.sources.base import ReadContext, Source, SourceState
from pipeline.sources.files import FileSource
from pipeline.sources.keys import CONTENT_DIGEST, input_key, page_key
from pipeline.store import Store, StoreLike, connect, migrate

SETTLE_CHUNK = 500
"""Inputs settled against the store with one query while planning."""
SETTLED_PAGES_SQL = (
    "SELECT DISTINCT CASE WHEN doc_key LIKE 'url:%' THEN regexp_replace(doc_key, ?, '') ELSE doc_key END AS page "
    "FROM (SELECT doc_key FROM articles UNION ALL SELECT doc_key FROM duplicates UNION ALL SELECT doc_key FROM rejects)"
)
"""Every page settled in the store, in any version: its key without the digest of the bytes read."""


@dataclass(frozen=True)
class Plan:
    run_id: str
    run_dir: Path
    batches: tuple[Path, ...]
    n_inputs: int
    started_at: dt.datetime
    source: str
    source_states: tuple[SourceState, ...] = ()

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.run_dir)

    @classmethod
    def of_run(cls, staging_dir: Path, run_id: str) -> Plan:
        """The plan a `plan` task saved for this run (how a separate `load` task finds it)."""
        return cls.load(RunFolder.of(staging_dir, run_id).plan)

    def save(self) -> Path:
        data = {"run_id": self.run_id, "run_dir": str(self.run_dir), "batches": [str(b) for b in self.batches],
                "n_inputs": self.n_inputs, "started_at": self.started_at.isoformat(), "source": self.source}
        self.folder.plan.write_text(json.dumps(data, indent=1))
        run_folder.save_states(self.folder.source_states, list(self.source_states))
        return self.folder.plan

    @classmethod
    def load(cls, path: Path) -> Plan:
        data = json.loads(Path(path).read_text())
        folder = RunFolder(Path(data["run_dir"]))
        return cls(data["run_id"], folder.root, tuple(Path(b) for b in data["batches"]), data["n_inputs"],
                   dt.datetime.fromisoformat(data["started_at"]), data["source"],
                   tuple(run_folder.read_states(folder.source_states)))


def plan_run(paths: list[str], settings: Settings, run_id: str) -> Plan:
    """Replay files and folders."""
    return plan_source(FileSource(tuple(map(str, paths))), settings, run_id)


def plan_source(source: Source, settings: Settings, run_id: str) -> Plan:
    """Read a source with what the store knows of it (its committed states, the pages settled), then plan it, on
    one connection."""
    with _planning_connection(settings) as con:
        known = {state.source_id: state for state in read_source_states(con, source.kind)}
        context = ReadContext(settings.max_input_bytes, known, settled=lambda keys: seen_keys(settings.store, keys))
        return _plan(con, source.read(context), settings, run_id, source.label, source.states)


def read_source_states(con: duckdb.DuckDBPyConnection, kind: str) -> list[SourceState]:
    rows = con.execute("SELECT source_id, value FROM source_state WHERE kind = ?", [kind]).fetchall()
    return [SourceState(source_id, kind, json.loads(value)) for source_id, value in rows]


def plan_docs(docs: Iterable[RawDoc], settings: Settings, run_id: str, source: str,
              states: Callable[[], list[SourceState]] = list) -> Plan:
    """Skip, before any expensive stage, the inputs already ingested, and batch the rest.

    An input seen in an earlier run keeps its earlier fate: a loaded article is now a duplicate of
    itself (rule `seen_before`), a reject is rejected again for the same reason. Seen in this same
    run (a re-run), it keeps its state, so re-running a run changes nothing. A page's key gets the digest of
    the bytes read (`input_key`) first, so a page whose body changed is a new input and reaches extraction.

    Inputs stream through: a raw batch is written as soon as it holds `batch_size` inputs or `batch_bytes`
    bytes, so planning holds one batch in memory however large the inbox. `states` is asked once the inputs are
    read: a source knows its new state only then.
    """
    with _planning_connection(settings) as con:
        return _plan(con, docs, settings, run_id, source, states)


@contextmanager
def _planning_connection(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    with connect(settings.store) as con:
        migrate(con)
        check_layout(con, settings.near_duplicate_threshold)
        yield con


def _plan(con: duckdb.DuckDBPyConnection, docs: Iterable[RawDoc], settings: Settings, run_id: str, source: str,
          states: Callable[[], list[SourceState]]) -> Plan:
    started_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    folder = RunFolder.of(settings.staging_dir, run_id)
    run_folder.remove_abandoned(settings.staging_dir, settings.staging_retention_hours, keep=folder.root)
    batches: list[Path] = []
    settled: list[LedgerEntry] = []
    claimed: set[str] = set()
    pending: list[RawDoc] = []
    pending_bytes = n_inputs = 0

    def flush() -> None:
        nonlocal pending, pending_bytes
        if pending:
            rows = [raw_row(doc) for doc in pending]
            batches.append(run_folder.write(rows, run_folder.RAW_SCHEMA, folder.raw_batch(len(batches))))
        pending, pending_bytes = [], 0

    progress.start("reading")
    for chunk in bounded_groups(docs, _content_bytes, settings.batch_bytes, SETTLE_CHUNK):
        chunk = [replace(doc, doc_key=input_key(doc.doc_key, doc.content)) for doc in chunk]
        n_inputs += len(chunk)
        progress.advance("reading", len(chunk))
        seen = _seen_before(con, {doc.doc_key for doc in chunk} - claimed, run_id)
        for doc in chunk:
            if doc.doc_key in claimed:
                settled.append(LedgerEntry(doc.doc_key, doc.source_uri, LedgerState.DUPLICATE,
                                           Reason.SAME_INPUT_IN_RUN))
            elif doc.doc_key in seen:
                settled.append(replace(seen[doc.doc_key], source_uri=doc.source_uri))
            else:
                pending.append(doc)
                pending_bytes += len(doc.content)
                if len(pending) >= settings.batch_size or pending_bytes >= settings.batch_bytes:
                    flush()
            claimed.add(doc.doc_key)
    flush()
    run_folder.write([entry.row() for entry in settled], run_folder.LEDGER_SCHEMA, folder.settled)
    plan = Plan(run_id, folder.root, tuple(batches), n_inputs, started_at, source, tuple(states()))
    plan.save()
    return plan


def raw_row(doc: RawDoc) -> dict:
    return {"doc_key": doc.doc_key, "source_uri": doc.source_uri, "format": doc.format,
            "content": doc.content, "url": doc.url, "problem": doc.problem, "transient": doc.transient}


def _content_bytes(doc: RawDoc) -> int:
    return len(doc.content)


def seen_keys(db_path: StoreLike, keys: set[str]) -> set[str]:
    """The keys whose page is already settled in the store (in any version), so a fetcher can skip them before
    any network request. A fetcher knows a page's key, not yet the digest of what it would read."""
    if not keys or not Store.at(db_path).exists():
        return set()
    with connect(db_path, read_only=True) as con:
        con.execute("CREATE OR REPLACE TEMP TABLE wanted_pages AS SELECT unnest(?::VARCHAR[]) AS page",
                    [sorted({page_key(key) for key in keys})])
        settled = {page for (page,) in con.execute(
            f"SELECT page FROM ({SETTLED_PAGES_SQL}) JOIN wanted_pages USING (page)", [CONTENT_DIGEST]).fetchall()}
    return {key for key in keys if page_key(key) in settled}


def loaded_reason(version_of: str | None) -> Reason | None:
    """The ledger reason of a loaded article: `new_version` for a later version of a page, else none."""
    return Reason.NEW_VERSION if version_of else None


def _seen_before(con: duckdb.DuckDBPyConnection, keys: set[str], run_id: str) -> dict[str, LedgerEntry]:
    if not keys:
        return {}
    con.execute("CREATE OR REPLACE TEMP TABLE wanted AS SELECT unnest(?::VARCHAR[]) AS doc_key", [sorted(keys)])
    seen: dict[str, LedgerEntry] = {}
    for doc_key, article_id, first_run, version_of in con.execute(
        "SELECT doc_key, article_id, run_id, version_of FROM articles JOIN wanted USING (doc_key)"
    ).fetchall():
        if first_run == run_id:
            seen[doc_key] = LedgerEntry(doc_key, "", LedgerState.LOADED, loaded_reason(version_of), article_id)
        else:
            seen[doc_key] = LedgerEntry(doc_key, "", LedgerState.DUPLICATE, Reason.SEEN_BEFORE, article_id)
    for doc_key, duplicate_of, rule in con.execute(
        "SELECT doc_key, duplicate_of, rule FROM duplicates JOIN wanted USING (doc_key)"
    ).fetchall():
        seen[doc_key] = LedgerEntry(doc_key, "", LedgerState.DUPLICATE, rule, duplicate_of)
    for doc_key, reason in con.execute(
        "SELECT doc_key, reason FROM rejects JOIN wanted USING (doc_key)"
    ).fetchall():
        seen[doc_key] = LedgerEntry(doc_key, "", LedgerState.REJECTED, reason)
    return seen
