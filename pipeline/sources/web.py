"""The `web` source: poll listings (feeds, sitemaps, URL lists) with conditional GET, then fetch the article pages
not seen before.

Listings are polled every run, with the validators kept from the last poll; article URLs already
settled in the store are skipped before any request. Each fetched page becomes a RawDoc for the same
plan -> process -> load stages as replayed files, and each failure an input with its reason. Whether it is
`rejected` or `failed` depends on whether asking again can help (`Fetched.transient`): refusals, invalid URLs,
permanent HTTP errors, oversize and unreadable listings are rejected; timeouts, network errors, 5xx/429 and
pages left when the run deadline passed fail, and are retried next run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import yaml

from pipeline.records import RawDoc
from pipeline.sources.base import ReadContext, SourceState
from pipeline.sources.discovery import Listing, parse_listing
from pipeline.sources.http import Fetched, HttpPolicy, PoliteClient
from pipeline.sources.keys import HTML_TYPES, content_digest, not_html, url_doc_key
from pipeline.sources.registry import LISTING_KINDS

MAX_CHILD_SITEMAPS = 50
"""Child sitemaps read per sitemap index and run: an index may list tens of thousands, and news sites list the
newest first."""


@dataclass(frozen=True)
class WebListing:
    """A listing to poll: `kind` is one of `LISTING_KINDS` (the parser sniffs the bytes; the kind documents what
    the listing is meant to be and is its state's kind)."""

    name: str
    kind: str
    url: str


@dataclass(frozen=True)
class ListingState:
    """What the last poll of a listing left: validators for conditional GET, and how it went.

    `problem` also says what a poll left unread (child sitemaps beyond the bound, or not needed this run).
    """

    url: str
    etag: str | None
    last_modified: str | None
    status: int | None
    problem: str | None
    entries: int
    fetched_at: dt.datetime

    def as_source_state(self, listing_kind: str) -> SourceState:
        return SourceState(self.url, WebSource.kind, {
            "listing_kind": listing_kind, "etag": self.etag, "last_modified": self.last_modified,
            "status": self.status, "problem": self.problem, "entries": self.entries,
            "fetched_at": self.fetched_at.isoformat()})

    @classmethod
    def of(cls, state: SourceState) -> ListingState:
        value = state.value
        return cls(state.source_id, value.get("etag"), value.get("last_modified"), value.get("status"),
                   value.get("problem"), value.get("entries", 0), dt.datetime.fromisoformat(value["fetched_at"]))


class WebSource:
    """Listings polled and their new pages fetched with one polite client; the listings' validators are its state.

    `retry` are pages that failed in earlier runs (see `fetch_documents`); `max_pages` bounds the pages fetched.
    """

    kind: ClassVar[str] = "web"

    def __init__(self, listings: list[WebListing], policy: HttpPolicy, max_pages: int | None = None,
                 retry: tuple[str, ...] = ()):
        self.listings, self.policy, self.max_pages, self.retry = listings, policy, max_pages, retry
        self._states: list[SourceState] = []

    @property
    def label(self) -> str:
        return ",".join(listing.url for listing in self.listings)

    def read(self, context: ReadContext) -> Iterator[RawDoc]:
        known = {key: ListingState.of(state) for key, state in context.known.items()}
        kinds = {listing.url: listing.kind for listing in self.listings}
        with PoliteClient(replace(self.policy, max_bytes=context.max_bytes)) as client:
            docs, polled = fetch_documents(self.listings, client, known, skip=context.settled,
                                           max_pages=self.max_pages, retry=self.retry)
        self._states = [state.as_source_state(kinds[state.url]) for state in polled]
        yield from docs

    def states(self) -> list[SourceState]:
        return list(self._states)


def load_listings(path: Path) -> list[WebListing]:
    data = yaml.safe_load(Path(path).read_text()) or {}
    listings = [WebListing(str(s["name"]), str(s.get("kind", "feed")), str(s["url"])) for s in data.get("sources", [])]
    unknown = sorted({listing.kind for listing in listings} - set(LISTING_KINDS))
    if unknown:
        raise ValueError(f"{path}: unknown listing kind(s) {', '.join(unknown)}; use one of {list(LISTING_KINDS)}")
    return listings


def url_listings(urls: list[str], kind: str) -> list[WebListing]:
    """Listings given on the command line or in a DAG run's form instead of the sources file."""
    if kind not in LISTING_KINDS:
        raise ValueError(f"unknown listing kind {kind!r}; use one of {list(LISTING_KINDS)}")
    return [WebListing(f"url-{n}", kind, url) for n, url in enumerate(urls, start=1)]


def fetch_documents(sources: list[WebListing], client: PoliteClient, known: dict[str, ListingState],
                    skip: Callable[[set[str]], set[str]], max_pages: int | None = None,
                    retry: tuple[str, ...] = (),
                    max_child_sitemaps: int = MAX_CHILD_SITEMAPS) -> tuple[list[RawDoc], list[ListingState]]:
    """The pages to ingest and the new state of every listing polled.

    `skip` gets candidate doc_keys and returns those already settled in the store. `retry` are pages that
    failed in earlier runs: fetched again even when their listing no longer lists them (a 304 lists nothing).
    A listing that could not be polled (or read) becomes an input too, so the run's ledger shows it. Once the
    client's run deadline has passed, every page not yet fetched is still an input: failed, `not fetched`.

    A listing keeps its validators only when this run took every unsettled page it lists: otherwise the next
    poll would be answered 304 and the pages left over (beyond `max_pages`, or in child sitemaps not read) lost.
    """
    frontier = _Frontier(skip, max_pages)
    frontier.add(retry)
    polls = [_poll(source, client, known.get(source.url), frontier, max_child_sitemaps) for source in sources]
    todo = frontier.todo()
    docs = [doc for poll in polls for doc in poll.inputs]
    docs += [_page_doc(key, url, client.fetch(url)) for key, url in todo]
    taken = {key for key, _ in todo} | frontier.settled
    return docs, [poll.state if poll.read_in_full(taken) else poll.forgetting_validators() for poll in polls]


class _Frontier:
    """The pages found so far, in the order found, and those of them already settled in the store.

    At most `max_pages` pages are fetched: the first unsettled ones in this order. So once that many unsettled
    pages are known (`full`), no listing read later can change what this run fetches, which is what bounds the
    walk through a sitemap index.
    """

    def __init__(self, skip: Callable[[set[str]], set[str]], max_pages: int | None):
        self._skip, self._max_pages = skip, max_pages
        self.urls: dict[str, str] = {}
        self.settled: set[str] = set()

    def add(self, urls: Iterable[str]) -> set[str]:
        """Adds the pages not known yet; returns the keys of all of `urls`."""
        keys: set[str] = set()
        new: dict[str, str] = {}
        for url in urls:
            key = url_doc_key(url)
            keys.add(key)
            if key not in self.urls:
                new.setdefault(key, url)
        if new:
            self.urls.update(new)
            self.settled |= self._skip(set(new))
        return keys

    def full(self) -> bool:
        return self._max_pages is not None and len(self.urls) - len(self.settled) >= self._max_pages

    def todo(self) -> list[tuple[str, str]]:
        return [(key, url) for key, url in self.urls.items() if key not in self.settled][:self._max_pages]


@dataclass(frozen=True)
class _Poll:
    state: ListingState
    inputs: list[RawDoc]
    """The listing itself, or child sitemaps, when they could not be polled or read."""
    pages: set[str]
    walked_in_full: bool
    """False when child sitemaps were left unread for this run (enough pages, run deadline)."""

    def read_in_full(self, taken: set[str]) -> bool:
        return self.walked_in_full and self.pages <= taken

    def forgetting_validators(self) -> ListingState:
        return replace(self.state, etag=None, last_modified=None)


def _poll(source: WebListing, client: PoliteClient, last: ListingState | None, frontier: _Frontier,
          max_child_sitemaps: int) -> _Poll:
    """One listing, following a sitemap index one level down (a child that is an index again is not followed)."""
    fetched = client.fetch(source.url, etag=last.etag if last else None,
                           last_modified=last.last_modified if last else None)
    listing, problem = _read_listing(source.url, fetched)
    inputs = [_listing_input(source.name, source.url, fetched, problem)] if problem else []
    pages: set[str] = set()
    notes: list[str] = []
    walked_in_full = True
    if listing:
        pages = frontier.add(entry.url for entry in listing.entries)
        if listing.kind == "sitemap_index":
            child_inputs, child_pages, notes, walked_in_full = _walk_index(source, listing.sitemaps, client,
                                                                           frontier, max_child_sitemaps)
            inputs, pages = inputs + child_inputs, pages | child_pages
    state = ListingState(source.url, fetched.etag or (last.etag if last else None),
                         fetched.last_modified or (last.last_modified if last else None), fetched.status,
                         problem or "; ".join(notes) or None, len(pages), dt.datetime.now(dt.UTC).replace(tzinfo=None))
    return _Poll(state, inputs, pages, walked_in_full)


def _walk_index(source: WebListing, sitemaps: tuple[str, ...], client: PoliteClient, frontier: _Frontier,
                max_child_sitemaps: int) -> tuple[list[RawDoc], set[str], list[str], bool]:
    """Read the index's child sitemaps: the inputs for those that could not be read, the pages found, notes on
    what was left unread, and whether nothing was left for a later run.

    At most `max_child_sitemaps` are read, and none once the frontier is full or the run deadline has passed.
    """
    inputs, pages, notes, stopped, read = [], set(), [], None, 0
    for url in sitemaps[:max_child_sitemaps]:
        if frontier.full():
            stopped = "enough new pages for this run"
            break
        if client.run_deadline_reached():
            stopped = "run deadline reached"
            break
        fetched = client.fetch(url)
        child, problem = _read_listing(url, fetched)
        read += 1
        if problem:
            inputs.append(_listing_input(f"{source.name} (sitemap index)", url, fetched, problem))
        elif child and child.kind == "sitemap_index":
            notes.append(f"child sitemap {url} is a sitemap index itself; not followed")
        elif child:
            pages |= frontier.add(entry.url for entry in child.entries)
    if stopped or len(sitemaps) > read:
        notes.append(f"sitemap index lists {len(sitemaps):,} sitemaps; read the first {read}"
                     + (f": {stopped}" if stopped else ""))
    return inputs, pages, notes, stopped is None


def _read_listing(url: str, fetched: Fetched) -> tuple[Listing | None, str | None]:
    """The listing fetched, or why there is none (neither for a 304)."""
    if fetched.not_modified:
        return None, None
    if fetched.problem:
        return None, fetched.problem
    listing = _parse(fetched.content, fetched.final_url or url)
    return (None, listing.problem) if listing.problem else (listing, None)


def _parse(content: bytes, base_url: str) -> Listing:
    """The parsers tolerate broken XML and feeds, but a hostile listing must cost one input, not the run."""
    try:
        return parse_listing(content, base_url=base_url)
    except Exception as error:  # noqa: BLE001 - one unreadable listing must not end the run
        return Listing("feed", None, (), problem=f"unreadable listing: {type(error).__name__}: {error}"[:300])


def _listing_input(name: str, url: str, fetched: Fetched, problem: str) -> RawDoc:
    """A listing that could not be fetched for a passing reason fails (it is polled again next run). One that came
    back but cannot be used (too large, unreadable, HTTP 404, refused) is rejected with its bytes, and its key
    carries their digest: the same bytes again are settled as rejected before, a repaired listing is read afresh.
    """
    transient = fetched.transient
    key = f"listing:{url}" if transient else f"listing:{url}#{content_digest(fetched.content)[:16]}"
    return RawDoc(key, url, "listing", fetched.content, url=url, problem=f"listing {name}: {problem}",
                  transient=transient)


def _page_doc(key: str, url: str, fetched: Fetched) -> RawDoc:
    source_uri = url
    if fetched.problem:
        return RawDoc(key, source_uri, "html", fetched.content, url=url, problem=fetched.problem,
                      transient=fetched.transient)
    if fetched.content_type and fetched.content_type not in HTML_TYPES:
        return RawDoc(key, source_uri, "html", fetched.content, url=url, problem=not_html(fetched.content_type))
    return RawDoc(key, source_uri, "html", fetched.content, url=fetched.final_url or url)
