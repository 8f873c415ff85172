"""Fetch from the web: poll listings (conditional GET), then fetch the article pages not seen before.

Listings are polled every run, with the validators kept from the last poll; article URLs already
settled in the store are skipped before any request. Each fetched page becomes a RawDoc for the same
plan -> process -> load stages as replayed files, and each failure an input with its reason:
refusals and permanent HTTP errors are rejected, timeouts and 5xx/429 fail (and are retried next run).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import yaml

from pipeline.records import RawDoc
from pipeline.sources.discovery import Listing, parse_listing
from pipeline.sources.http import Fetched, PoliteClient
from pipeline.sources.keys import HTML_TYPES, not_html, url_doc_key
from pipeline.store import connect, migrate

KINDS = {"feed", "sitemap", "urls"}


@dataclass(frozen=True)
class Source:
    name: str
    kind: str
    url: str


@dataclass(frozen=True)
class ListingState:
    """What the last poll of a listing left: validators for conditional GET, and how it went."""

    url: str
    etag: str | None
    last_modified: str | None
    status: int | None
    problem: str | None
    entries: int
    fetched_at: dt.datetime


def load_sources(path: Path) -> list[Source]:
    data = yaml.safe_load(Path(path).read_text()) or {}
    sources = [Source(str(s["name"]), str(s.get("kind", "feed")), str(s["url"])) for s in data.get("sources", [])]
    unknown = sorted({s.kind for s in sources} - KINDS)
    if unknown:
        raise ValueError(f"{path}: unknown source kind(s) {', '.join(unknown)}; use one of {sorted(KINDS)}")
    return sources


def url_sources(urls: list[str], kind: str) -> list[Source]:
    """Listings given on the command line or in a DAG run's form instead of the sources file."""
    if kind not in KINDS:
        raise ValueError(f"unknown source kind {kind!r}; use one of {sorted(KINDS)}")
    return [Source(f"url-{n}", kind, url) for n, url in enumerate(urls, start=1)]


def fetch_documents(sources: list[Source], client: PoliteClient, known: dict[str, ListingState],
                    skip: Callable[[set[str]], set[str]], max_pages: int | None = None,
                    retry: tuple[str, ...] = ()) -> tuple[list[RawDoc], list[ListingState]]:
    """The pages to ingest and the new state of every listing polled.

    `skip` gets the candidate doc_keys and returns those already settled in the store. `retry` are pages
    that failed in earlier runs: fetched again even when their listing no longer lists them (a 304 lists
    nothing). A listing that could not be polled becomes a failed input too, so the run's ledger shows it
    (and it is polled again next run).
    """
    states, entries, docs = [], {url_doc_key(url): url for url in retry}, []
    for source in sources:
        listing, state = _poll(source, client, known.get(source.url))
        states.append(state)
        if state.problem:
            docs.append(RawDoc(f"listing:{source.url}", source.url, "listing", b"", url=source.url,
                               problem=f"listing {source.name}: {state.problem}", transient=True))
        for entry in listing.entries if listing else ():
            entries.setdefault(url_doc_key(entry.url), entry.url)
    settled = skip(set(entries))
    todo = [(key, url) for key, url in entries.items() if key not in settled][:max_pages]
    docs += [_page_doc(key, url, client.fetch(url)) for key, url in todo]
    return docs, states


def _poll(source: Source, client: PoliteClient, last: ListingState | None) -> tuple[Listing | None, ListingState]:
    """One listing, following a sitemap index one level down."""
    fetched = client.fetch(source.url, etag=last.etag if last else None,
                           last_modified=last.last_modified if last else None)
    listing = None
    if not fetched.problem and not fetched.not_modified:
        listing = parse_listing(fetched.content, base_url=fetched.final_url or source.url)
        if listing.kind == "sitemap_index":
            listing = _merge(listing, [parse_listing(client.fetch(url).content, base_url=url)
                                       for url in listing.sitemaps])
    problem = fetched.problem or (listing.problem if listing else None)
    state = ListingState(source.url, fetched.etag or (last.etag if last else None),
                         fetched.last_modified or (last.last_modified if last else None), fetched.status,
                         problem, len(listing.entries) if listing else 0,
                         dt.datetime.now(dt.UTC).replace(tzinfo=None))
    return listing, state


def _merge(index: Listing, children: list[Listing]) -> Listing:
    entries = tuple(entry for child in children for entry in child.entries)
    return Listing("sitemap", index.title, entries)


def _page_doc(key: str, url: str, fetched: Fetched) -> RawDoc:
    source_uri = url
    if fetched.problem:
        return RawDoc(key, source_uri, "html", fetched.content, url=url, problem=fetched.problem,
                      transient=_transient(fetched))
    if fetched.content_type and fetched.content_type not in HTML_TYPES:
        return RawDoc(key, source_uri, "html", fetched.content, url=url, problem=not_html(fetched.content_type))
    return RawDoc(key, source_uri, "html", fetched.content, url=fetched.final_url or url)


def _transient(fetched: Fetched) -> bool:
    """Timeouts, network errors, 429 and 5xx may go away; refusals, 4xx and oversize will not."""
    problem = fetched.problem or ""
    if problem.startswith(("timeout", "network error")):
        return True
    return fetched.status is not None and (fetched.status == 429 or fetched.status >= 500)


def read_listing_states(db_path: Path) -> dict[str, ListingState]:
    if not Path(db_path).exists():
        return {}
    with connect(db_path) as con:
        migrate(con)
        rows = con.execute("SELECT url, etag, last_modified, status, problem, entries, fetched_at "
                           "FROM fetch_state").fetchall()
    return {row[0]: ListingState(*row) for row in rows}


def write_listing_states(db_path: Path, states: list[ListingState]) -> None:
    if not states:
        return
    rows = pa.Table.from_pylist([asdict(state) for state in states])
    with connect(db_path) as con:
        migrate(con)
        con.register("polled", rows)
        con.execute("INSERT OR REPLACE INTO fetch_state SELECT url, etag, last_modified, status, problem, entries, "
                    "fetched_at FROM polled")


def save_pending_listing_states(path: Path, states: list[ListingState]) -> Path:
    """Park the polled listings' states beside a run's batches until its load (JSON: a few rows)."""
    rows = [{**asdict(state), "fetched_at": state.fetched_at.isoformat()} for state in states]
    Path(path).write_text(json.dumps(rows, indent=1))
    return Path(path)


def read_pending_listing_states(path: Path) -> list[ListingState]:
    """The states a fetch run parked; none for a replay run, which polls no listing."""
    if not Path(path).exists():
        return []
    rows = json.loads(Path(path).read_text())
    return [ListingState(**{**row, "fetched_at": dt.datetime.fromisoformat(row["fetched_at"])}) for row in rows]
