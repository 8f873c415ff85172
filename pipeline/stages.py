"""The run as three stage functions, shared by the CLI and the Airflow DAG.

plan      reads (or fetches) the inputs, settles the ones seen before, and writes raw batches (Parquet)
process   extracts, detects language and tags entities for one batch; touches no database
load      the single DuckDB writer: exact and near dedup, entities, stories, ledger, one transaction per run

Only `plan` and `load` open the DuckDB file, so the parallel `process` tasks never contend for its lock.
"""

from __future__ import annotations

import datetime as dt
import json
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from pipeline import staging
from pipeline.budget import OverBudget, time_budget
from pipeline.dedup import canonical_url, content_hash
from pipeline.enrich.entities import load_model, tag_entities
from pipeline.enrich.language import detect_language, load_profiles
from pipeline.extract.dispatch import Rejected, extract
from pipeline.loader import SAME_INPUT_IN_RUN, load_processed, loaded_reason
from pipeline.records import Extraction, RawDoc, RunSummary, article_id_for
from pipeline.settings import Settings
from pipeline.sources.fetch import (
    Source,
    fetch_documents,
    read_listing_states,
    read_pending_listing_states,
    save_pending_listing_states,
    write_listing_states,
)
from pipeline.sources.http import HttpPolicy, PoliteClient
from pipeline.sources.keys import CONTENT_DIGEST, input_key, page_key, printable_path
from pipeline.sources.replay import read_inputs
from pipeline.store import connect, migrate

__all__ = ["Plan", "plan_run", "plan_docs", "process_batch", "load_run", "run_pipeline", "run_fetch", "fetch_plan",
           "snapshot_frontier", "fetch_pages", "plan_fetched", "load_planned"]

PLAN_FILE = "plan.json"
LISTINGS_FILE = "listings.json"
FETCHED_FILE = "fetched.parquet"
FRONTIER_DIR = "frontier"
SETTLED_PAGES_FILE = "settled-pages.parquet"
KNOWN_LISTINGS_FILE = "listings-known.json"
LOGGED_FILE = "logged.parquet"
RETRY_FILE = "retry-pages.json"
EARLIEST_DATE = dt.date(1900, 1, 1)
SETTLE_CHUNK = 500
"""Inputs settled against the store with one query while planning."""
# A page that failed this many times (timeouts, 5xx, 429) is no longer retried unless a listing lists it again.
MAX_FETCH_ATTEMPTS = 3
RETRY_PAGES_SQL = (
    "SELECT source_uri FROM ingest_log WHERE state = 'failed' AND doc_key LIKE 'url:%' "
    "GROUP BY source_uri HAVING count(*) < ? ORDER BY min(logged_at), source_uri"
)
# Every page settled in the store, in any version: its key without the digest of the bytes read.
SETTLED_PAGES_SQL = (
    "SELECT DISTINCT CASE WHEN doc_key LIKE 'url:%' THEN regexp_replace(doc_key, ?, '') ELSE doc_key END AS page "
    "FROM (SELECT doc_key FROM articles UNION ALL SELECT doc_key FROM duplicates UNION ALL SELECT doc_key FROM rejects)"
)


@dataclass(frozen=True)
class Plan:
    run_id: str
    run_dir: Path
    batches: tuple[Path, ...]
    settled: Path
    n_inputs: int
    started_at: dt.datetime
    source: str

    @property
    def path(self) -> Path:
        return self.run_dir / PLAN_FILE

    @classmethod
    def of_run(cls, staging_dir: Path, run_id: str) -> Plan:
        """The plan a `plan` task saved for this run (how a separate `load` task finds it)."""
        return cls.load(staging.run_dir(staging_dir, run_id) / PLAN_FILE)

    def save(self) -> Path:
        """Kept beside the batches, so a separate loader task (or a person debugging) can read it back."""
        data = {"run_id": self.run_id, "run_dir": str(self.run_dir), "batches": [str(b) for b in self.batches],
                "settled": str(self.settled), "n_inputs": self.n_inputs,
                "started_at": self.started_at.isoformat(), "source": self.source}
        self.path.write_text(json.dumps(data, indent=1))
        return self.path

    @classmethod
    def load(cls, path: Path) -> Plan:
        data = json.loads(Path(path).read_text())
        return cls(data["run_id"], Path(data["run_dir"]), tuple(Path(b) for b in data["batches"]),
                   Path(data["settled"]), data["n_inputs"], dt.datetime.fromisoformat(data["started_at"]),
                   data["source"])


def plan_run(paths: list[str], settings: Settings, run_id: str) -> Plan:
    """Replay files and folders: read them as a stream, then plan them batch by batch."""
    source = ",".join(printable_path(path) for path in paths)
    return plan_docs(read_inputs(paths, settings.max_input_bytes), settings, run_id, source=source)


def plan_docs(docs: Iterable[RawDoc], settings: Settings, run_id: str, source: str) -> Plan:
    """Skip, before any expensive stage, the inputs already ingested, and batch the rest.

    An input seen in an earlier run keeps its earlier fate: a loaded article is now a duplicate of
    itself (rule `seen_before`), a reject is rejected again for the same reason. Seen in this same
    run (a re-run), it keeps its state, so re-running a run changes nothing. A page's key gets the digest of
    the bytes read (`input_key`) first, so a page whose body changed is a new input and reaches extraction.

    Inputs stream through: a raw batch is written as soon as it holds `batch_size` inputs or `batch_bytes`
    bytes, so planning holds one batch in memory however large the inbox.
    """
    started_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    out = staging.run_dir(settings.staging_dir, run_id)
    staging.remove_abandoned(settings.staging_dir, settings.staging_retention_hours, keep=out)
    batches, settled, claimed = [], [], set()
    pending: list[RawDoc] = []
    pending_bytes = n_inputs = 0

    def flush() -> None:
        nonlocal pending, pending_bytes
        if pending:
            rows = [_raw_row(doc) for doc in pending]
            batches.append(staging.write(rows, staging.RAW_SCHEMA, out / f"raw-{len(batches):05d}.parquet"))
        pending, pending_bytes = [], 0

    with connect(settings.db_path) as con:
        migrate(con)
        for chunk in _chunks(docs, SETTLE_CHUNK, settings.batch_bytes):
            chunk = [replace(doc, doc_key=input_key(doc.doc_key, doc.content)) for doc in chunk]
            n_inputs += len(chunk)
            seen = _seen_before(con, {doc.doc_key for doc in chunk} - claimed, run_id)
            for doc in chunk:
                if doc.doc_key in claimed:
                    settled.append({"doc_key": doc.doc_key, "source_uri": doc.source_uri, "state": "duplicate",
                                    "reason": SAME_INPUT_IN_RUN, "article_id": None})
                elif doc.doc_key in seen:
                    settled.append({"doc_key": doc.doc_key, "source_uri": doc.source_uri, **seen[doc.doc_key]})
                else:
                    pending.append(doc)
                    pending_bytes += len(doc.content)
                    if len(pending) >= settings.batch_size or pending_bytes >= settings.batch_bytes:
                        flush()
                claimed.add(doc.doc_key)
    flush()
    settled_path = staging.write(settled, staging.OUTCOME_SCHEMA, out / "settled.parquet")
    plan = Plan(run_id, out, tuple(batches), settled_path, n_inputs, started_at, source)
    plan.save()
    return plan


def _chunks(docs: Iterable[RawDoc], size: int, max_bytes: int) -> Iterator[list[RawDoc]]:
    """Groups of inputs settled with one store query each, bounded in count and in bytes held."""
    chunk, held = [], 0
    for doc in docs:
        chunk.append(doc)
        held += len(doc.content)
        if len(chunk) >= size or held >= max_bytes:
            yield chunk
            chunk, held = [], 0
    if chunk:
        yield chunk


def seen_keys(db_path: Path, keys: set[str]) -> set[str]:
    """The keys whose page is already settled in the store (in any version), so a fetcher can skip them before
    any network request. A fetcher knows a page's key, not yet the digest of what it would read."""
    if not keys or not Path(db_path).exists():
        return set()
    with connect(db_path) as con:
        migrate(con)
        con.execute("CREATE OR REPLACE TEMP TABLE wanted_pages AS SELECT unnest(?::VARCHAR[]) AS page",
                    [sorted({page_key(key) for key in keys})])
        settled = {page for (page,) in con.execute(
            f"SELECT page FROM ({SETTLED_PAGES_SQL}) JOIN wanted_pages USING (page)", [CONTENT_DIGEST]).fetchall()}
    return {key for key in keys if page_key(key) in settled}


def _seen_before(con, keys: set[str], run_id: str) -> dict[str, dict]:
    if not keys:
        return {}
    con.execute("CREATE OR REPLACE TEMP TABLE wanted AS SELECT unnest(?::VARCHAR[]) AS doc_key", [sorted(keys)])
    seen: dict[str, dict] = {}
    for doc_key, article_id, first_run, version_of in con.execute(
        "SELECT doc_key, article_id, run_id, version_of FROM articles JOIN wanted USING (doc_key)"
    ).fetchall():
        if first_run == run_id:
            seen[doc_key] = {"state": "loaded", "reason": loaded_reason(version_of), "article_id": article_id}
        else:
            seen[doc_key] = {"state": "duplicate", "reason": "seen_before", "article_id": article_id}
    for doc_key, duplicate_of, rule in con.execute(
        "SELECT doc_key, duplicate_of, rule FROM duplicates JOIN wanted USING (doc_key)"
    ).fetchall():
        seen[doc_key] = {"state": "duplicate", "reason": rule, "article_id": duplicate_of}
    for doc_key, reason in con.execute(
        "SELECT doc_key, reason FROM rejects JOIN wanted USING (doc_key)"
    ).fetchall():
        seen[doc_key] = {"state": "rejected", "reason": reason, "article_id": None}
    return seen


def _raw_row(doc: RawDoc) -> dict:
    return {"doc_key": doc.doc_key, "source_uri": doc.source_uri, "kind": doc.kind,
            "content": doc.content, "url": doc.url, "problem": doc.problem, "transient": doc.transient}


def process_batch(batch_path: Path, settings: Settings, today: dt.date | None = None) -> Path:
    """Extract, detect language and tag entities for one raw batch; returns the output folder.

    Every input of the batch comes out either as an article row or as an outcome row (rejected with a reason,
    or failed with the error), never silently dropped, and what goes wrong with one input stays with it: each
    is extracted under its own time budget, and an error tagging one article's entities costs only that
    article its entities (recorded in its warnings).
    """
    batch_path = Path(batch_path)
    out = batch_path.with_name(batch_path.stem.replace("raw-", "processed-"))
    articles, outcomes, dates = [], [], []
    load_profiles()
    for row in staging.read(batch_path).to_pylist():
        raw = RawDoc(**row)
        if raw.transient:
            outcomes.append(_outcome(raw, "failed", raw.problem or "transient error"))
            continue
        state, detail = "loaded", None
        try:
            with time_budget(settings.input_time_budget):
                article, candidates = _article_row(raw, settings, today)
        except (Rejected, OverBudget) as reason:
            state, detail = "rejected", str(reason)
        except (OSError, MemoryError) as error:
            state, detail = "failed", _one_line(error)
        except Exception as error:  # noqa: BLE001 - the same bytes would fail again: reject them, keep them
            state, detail = "rejected", f"extraction error: {_one_line(error)}"
        if state == "loaded":
            articles.append(article)
            dates.extend(candidates)
        else:
            outcomes.append(_outcome(raw, state, detail))
    mentions = _mention_rows(articles, settings)
    staging.write(articles, staging.ARTICLE_SCHEMA, out / "articles.parquet")
    staging.write(mentions, staging.MENTION_SCHEMA, out / "mentions.parquet")
    staging.write(dates, staging.DATE_SCHEMA, out / "dates.parquet")
    staging.write(outcomes, staging.OUTCOME_SCHEMA, out / "outcomes.parquet")
    return out


def _article_row(raw: RawDoc, settings: Settings, today: dt.date | None) -> tuple[dict, list[dict]]:
    extraction = extract(raw, settings.min_body_chars, today)
    if len(extraction.body) > settings.max_body_chars:
        raise Rejected(f"body too long: {len(extraction.body)} chars of text after cleaning "
                       f"(> {settings.max_body_chars}), not one article")
    extraction = _within_calendar(extraction)
    language, probability = detect_language(extraction.body)
    url = raw.url or extraction.url
    article_id = article_id_for(raw.doc_key)
    dates = [{"article_id": article_id, "value": c.value, "kind": c.kind, "rule": c.rule}
             for c in extraction.date_candidates]
    article = {
        "article_id": article_id, "doc_key": raw.doc_key, "url": url, "canonical_url": canonical_url(url),
        "source_uri": raw.source_uri, "site": extraction.site, "title": extraction.title,
        "byline": extraction.byline, "published_at": extraction.published_at,
        "published_rule": extraction.published_rule, "updated_at": extraction.updated_at,
        "language": language, "language_prob": probability, "body": extraction.body,
        "body_chars": len(extraction.body), "content_hash": content_hash(extraction.body),
        "warnings": list(extraction.warnings),
    }
    return article, dates


def _within_calendar(extraction: Extraction) -> Extraction:
    """Dates before `EARLIEST_DATE` are misreadings (`0001-01-01` in a feed, a year typed as 19), and date
    arithmetic on them overflows: they are dropped, never loaded."""
    def sane(value: dt.date | None) -> dt.date | None:
        return value if value is None or value >= EARLIEST_DATE else None

    candidates = tuple(c for c in extraction.date_candidates if sane(c.value))
    if (sane(extraction.published_at), sane(extraction.updated_at), candidates) == (
            extraction.published_at, extraction.updated_at, extraction.date_candidates):
        return extraction
    published = sane(extraction.published_at)
    return replace(extraction, published_at=published, published_rule=extraction.published_rule if published else None,
                   updated_at=sane(extraction.updated_at), date_candidates=candidates,
                   warnings=(*extraction.warnings, f"dates before {EARLIEST_DATE} dropped"))


def _one_line(error: BaseException) -> str:
    return " ".join("".join(traceback.format_exception_only(error)).split())[:500]


def _outcome(raw: RawDoc, state: str, reason: str) -> dict:
    return {"doc_key": raw.doc_key, "source_uri": raw.source_uri, "state": state, "reason": reason,
            "article_id": None, "raw": raw.content}


def _mention_rows(articles: list[dict], settings: Settings) -> list[dict]:
    """NER over the cleaned bodies (title as extra evidence), batched with nlp.pipe; should the batch fail,
    article by article, so an error costs one article its entities and is written into its warnings."""
    if not articles:
        return []
    nlp = load_model(settings.spacy_model)
    try:
        tagged = tag_entities(nlp, [(a["title"], a["body"]) for a in articles], batch_size=64)
    except Exception:  # noqa: BLE001 - find the article at fault below
        tagged = []
        for article in articles:
            try:
                tagged.append(tag_entities(nlp, [(article["title"], article["body"])])[0])
            except Exception as error:  # noqa: BLE001 - the article loads without entities, and says so
                article["warnings"].append(f"no entities: tagging failed: {_one_line(error)}")
                tagged.append(())
    return [
        {"article_id": article["article_id"], "surface": m.surface, "label": m.label,
         "start_char": m.start_char, "end_char": m.end_char, "canonical": m.canonical}
        for article, mentions in zip(articles, tagged, strict=True)
        for m in mentions
    ]


def load_run(plan: Plan, processed: list[Path], settings: Settings) -> RunSummary:
    return load_processed(settings.db_path, plan.run_id, plan.source, plan.settled, [Path(p) for p in processed],
                          plan.n_inputs, plan.started_at)


def run_pipeline(paths: list[str], settings: Settings, run_id: str, today: dt.date | None = None) -> RunSummary:
    """The whole run in one process, as the CLI does it: plan, process each batch, load."""
    return _run_planned(plan_run(paths, settings, run_id), settings, today)


def run_fetch(sources: list[Source], settings: Settings, run_id: str, policy: HttpPolicy,
              max_pages: int | None = None) -> RunSummary:
    """The whole fetch run in one process, as the CLI does it: fetch and plan, process each batch, load."""
    return _run_planned(fetch_plan(sources, settings, run_id, policy, max_pages), settings)


def fetch_plan(sources: list[Source], settings: Settings, run_id: str, policy: HttpPolicy,
               max_pages: int | None = None) -> Plan:
    """Poll the sources, fetch the pages no earlier run settled, and plan them like replayed files.

    Three steps, so that a DAG can hold the DuckDB writer slot only around the two that open the store:
    `snapshot_frontier` (store -> staging), `fetch_pages` (network -> staging, no store), `plan_fetched`.
    """
    snapshot_frontier(settings, run_id)
    fetch_pages(sources, settings, run_id, policy, max_pages)
    return plan_fetched(settings, run_id, source=",".join(s.url for s in sources))


def snapshot_frontier(settings: Settings, run_id: str) -> Path:
    """Copy what a fetch needs from the store into the run's staging folder: the settled pages (to skip
    them before any request), the listings' validators (for conditional GET) and the pages that failed
    before (to retry them, at most `MAX_FETCH_ATTEMPTS` times in all).

    A run that already logged inputs (an Airflow run cleared and run again) gets those inputs instead, and
    its fetch makes no request: the web has moved on since, and the run's counts must still match its ledger.
    """
    frontier = staging.run_dir(settings.staging_dir, run_id) / FRONTIER_DIR
    frontier.mkdir(parents=True, exist_ok=True)
    with connect(settings.db_path) as con:
        migrate(con)
        logged = _logged_inputs(con, run_id)
        settled_pages = con.sql(SETTLED_PAGES_SQL, params=[CONTENT_DIGEST]).to_arrow_table()
        retry = [url for (url,) in con.execute(RETRY_PAGES_SQL, [MAX_FETCH_ATTEMPTS]).fetchall()]
    if logged:
        staging.write([_raw_row(doc) for doc in logged], staging.RAW_SCHEMA, frontier / LOGGED_FILE)
    staging.write_table(settled_pages, frontier / SETTLED_PAGES_FILE)
    save_pending_listing_states(frontier / KNOWN_LISTINGS_FILE, list(read_listing_states(settings.db_path).values()))
    (frontier / RETRY_FILE).write_text(json.dumps(retry, indent=1))
    return frontier


def fetch_pages(sources: list[Source], settings: Settings, run_id: str, policy: HttpPolicy,
                max_pages: int | None = None) -> Path:
    """Poll the listings and fetch the new pages into the run's staging folder, reading only the frontier
    snapshot: the network time holds no DuckDB lock, so other runs keep loading meanwhile."""
    run_dir = staging.run_dir(settings.staging_dir, run_id)
    frontier = run_dir / FRONTIER_DIR
    if (frontier / LOGGED_FILE).exists():
        return run_dir
    known = {state.url: state for state in read_pending_listing_states(frontier / KNOWN_LISTINGS_FILE)}
    retry = tuple(json.loads((frontier / RETRY_FILE).read_text()))
    with PoliteClient(policy) as client:
        docs, states = fetch_documents(sources, client, known, max_pages=max_pages, retry=retry,
                                       skip=lambda keys: _settled_in_snapshot(frontier / SETTLED_PAGES_FILE, keys))
    staging.write([_raw_row(doc) for doc in docs], staging.RAW_SCHEMA, run_dir / FETCHED_FILE)
    save_pending_listing_states(run_dir / LISTINGS_FILE, states)
    return run_dir


def plan_fetched(settings: Settings, run_id: str, source: str) -> Plan:
    """Plan what `fetch_pages` left (or, for a run run again, what it logged the first time)."""
    run_dir = staging.run_dir(settings.staging_dir, run_id)
    logged = run_dir / FRONTIER_DIR / LOGGED_FILE
    fetched = staging.read(logged if logged.exists() else run_dir / FETCHED_FILE).to_pylist()
    return plan_docs([RawDoc(**row) for row in fetched], settings, run_id, source)


def _settled_in_snapshot(snapshot: Path, keys: set[str]) -> set[str]:
    """`seen_keys` over the frontier snapshot, in an in-memory DuckDB (the store is not opened)."""
    if not keys:
        return set()
    pages = {page_key(key) for key in keys}
    with duckdb.connect() as con:
        settled = {page for (page,) in con.execute(
            "SELECT page FROM read_parquet(?) WHERE page IN (SELECT unnest(?::VARCHAR[]))",
            [str(snapshot), sorted(pages)]).fetchall()}
    return {key for key in keys if page_key(key) in settled}


def _logged_inputs(con, run_id: str) -> list[RawDoc]:
    """The inputs a run already logged, as inputs again.

    `plan_docs` settles the loaded, duplicate and rejected ones from the store; the failed ones are
    not remembered there, so they come back carrying their reason and fail again.
    """
    rows = con.execute("SELECT doc_key, source_uri, state, reason FROM ingest_log WHERE run_id = ? "
                       "ORDER BY source_uri", [run_id]).fetchall()
    return [RawDoc(doc_key, source_uri, "html", b"", url=source_uri,
                   problem=reason if state == "failed" else None, transient=state == "failed")
            for doc_key, source_uri, state, reason in rows]


def load_planned(plan: Plan, processed: list[Path], settings: Settings) -> RunSummary:
    """Load the processed batches, then keep the validators of the listings a fetch run polled."""
    summary = load_run(plan, processed, settings)
    write_listing_states(settings.db_path, read_pending_listing_states(plan.run_dir / LISTINGS_FILE))
    return summary


def _run_planned(plan: Plan, settings: Settings, today: dt.date | None = None) -> RunSummary:
    processed = [process_batch(batch, settings, today) for batch in plan.batches]
    summary = load_planned(plan, processed, settings)
    staging.remove_run(settings.staging_dir, plan.run_id)
    return summary
