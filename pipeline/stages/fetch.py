"""A fetch run's first three steps, so that only the two that open the store hold the writer slot.

`snapshot_frontier` (store -> run folder), `fetch_pages` (network -> run folder, no store), `plan_fetched`
(run folder -> batches, settling against the store). DuckDB refuses a reader while another process writes, so
without the snapshot the network time (up to `max_pages` × `delay`) would hold the writer slot and stall every
other run's load.
"""

from __future__ import annotations

import json

import duckdb

from pipeline import progress, run_folder
from pipeline.records import LedgerState, RawDoc
from pipeline.run_folder import RunFolder
from pipeline.settings import Settings
from pipeline.sources.base import ReadContext
from pipeline.sources.http import HttpPolicy
from pipeline.sources.keys import CONTENT_DIGEST, page_key
from pipeline.sources.web import WebListing, WebSource
from pipeline.stages.plan import SETTLED_PAGES_SQL, Plan, plan_docs, raw_row, read_source_states
from pipeline.store import connect, ensure_schema

MAX_FETCH_ATTEMPTS = 3
"""A page that failed this many times (timeouts, 5xx, 429) is no longer retried unless a listing lists it again."""
RETRY_PAGES_SQL = (
    "SELECT source_uri FROM ingest_log WHERE state = 'failed' AND doc_key LIKE 'url:%' "
    "GROUP BY source_uri HAVING count(*) < ? ORDER BY min(logged_at), source_uri"
)


def snapshot_frontier(settings: Settings, run_id: str) -> RunFolder:
    """Copy what a fetch needs from the store into the run folder: the settled pages (to skip them before any
    request), the listings' committed states (for conditional GET) and the pages that failed before (to retry
    them, at most `MAX_FETCH_ATTEMPTS` times in all).

    A run that already logged inputs (an Airflow run cleared and run again) gets those inputs instead, and
    its fetch makes no request: the web has moved on since, and the run's counts must still match its ledger.
    It reads the last committed snapshot and takes no writer slot, so a fetch starts while another run loads.
    """
    folder = RunFolder.of(settings.staging_dir, run_id)
    folder.snapshot.mkdir(parents=True, exist_ok=True)
    ensure_schema(settings.store)
    with connect(settings.store, read_only=True) as con:
        logged = _logged_inputs(con, run_id)
        settled_pages = con.sql(SETTLED_PAGES_SQL, params=[CONTENT_DIGEST]).to_arrow_table()
        retry = [url for (url,) in con.execute(RETRY_PAGES_SQL, [MAX_FETCH_ATTEMPTS]).fetchall()]
        known = read_source_states(con, WebSource.kind)
    if logged:
        run_folder.write([raw_row(doc) for doc in logged], run_folder.RAW_SCHEMA, folder.logged)
    run_folder.write_table(settled_pages, folder.settled_pages)
    run_folder.save_states(folder.known_states, known)
    folder.retry_pages.write_text(json.dumps(retry, indent=1))
    return folder


def fetch_pages(listings: list[WebListing], settings: Settings, run_id: str, policy: HttpPolicy,
                max_pages: int | None = None) -> RunFolder:
    """Poll the listings and fetch the new pages into the run folder, reading only the snapshot: the network
    time holds no lock on the store, so other runs keep loading meanwhile."""
    folder = RunFolder.of(settings.staging_dir, run_id)
    if folder.logged.exists():
        return folder
    source = WebSource(listings, policy, max_pages, retry=tuple(json.loads(folder.retry_pages.read_text())))
    context = ReadContext(settings.max_input_bytes,
                          {state.source_id: state for state in run_folder.read_states(folder.known_states)},
                          settled=lambda keys: _settled_in_snapshot(folder, keys))
    pages = progress.counted("fetching", source.read(context))
    run_folder.write([raw_row(doc) for doc in pages], run_folder.RAW_SCHEMA, folder.fetched)
    run_folder.save_states(folder.source_states, source.states())
    return folder


def plan_fetched(settings: Settings, run_id: str, source: str) -> Plan:
    """Plan what `fetch_pages` left (or, for a run run again, what it logged the first time), with the listings'
    new states for the load to commit."""
    folder = RunFolder.of(settings.staging_dir, run_id)
    fetched = run_folder.read(folder.logged if folder.logged.exists() else folder.fetched).to_pylist()
    states = run_folder.read_states(folder.source_states)
    return plan_docs((RawDoc(**row) for row in fetched), settings, run_id, source, states=lambda: states)


def _settled_in_snapshot(folder: RunFolder, keys: set[str]) -> set[str]:
    """`seen_keys` over the snapshot, in an in-memory DuckDB (the store is not opened)."""
    if not keys:
        return set()
    pages = {page_key(key) for key in keys}
    with duckdb.connect() as con:
        settled = {page for (page,) in con.execute(
            "SELECT page FROM read_parquet(?) WHERE page IN (SELECT unnest(?::VARCHAR[]))",
            [str(folder.settled_pages), sorted(pages)]).fetchall()}
    return {key for key in keys if page_key(key) in settled}


def _logged_inputs(con: duckdb.DuckDBPyConnection, run_id: str) -> list[RawDoc]:
    """The inputs a run already logged, as inputs again.

    `plan_docs` settles the loaded, duplicate and rejected ones from the store; the failed ones are
    not remembered there, so they come back carrying their reason and fail again.
    """
    rows = con.execute("SELECT doc_key, source_uri, state, reason FROM ingest_log WHERE run_id = ? "
                       "ORDER BY source_uri", [run_id]).fetchall()
    failed = str(LedgerState.FAILED)
    return [RawDoc(doc_key, source_uri, "html", b"", url=source_uri,
                   problem=reason if state == failed else None, transient=state == failed)
            for doc_key, source_uri, state, reason in rows]
