"""Find article URLs: RSS/Atom/RDF feeds (feedparser), XML and Google News sitemaps, plain URL lists.

Parsers take the bytes as fetched, so encodings declared in the XML prolog (windows-1251, ...) are
honoured by the parser rather than guessed by us. A sitemap's `lastmod` is when the page changed, not
when it was published, so only a Google News `publication_date` counts as a date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urljoin

import feedparser
from lxml import etree

SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS_NS = "{http://www.google.com/schemas/sitemap-news/0.9}"


@dataclass(frozen=True)
class Listing:
    """What one feed, sitemap or URL list points at: article URLs and nested sitemaps."""

    kind: str  # "feed", "sitemap", "sitemap_index", "url_list"
    title: str | None
    entries: tuple[Entry, ...]
    sitemaps: tuple[str, ...] = ()
    problem: str | None = None


@dataclass(frozen=True)
class Entry:
    url: str
    title: str | None = None
    published: dt.date | None = None


def parse_listing(content: bytes, base_url: str | None = None) -> Listing:
    """`base_url` (where the listing was fetched) resolves relative links."""
    head = content[:2048].lstrip().lower()
    if b"<urlset" in head or b"<sitemapindex" in head:
        return parse_sitemap(content)
    if head.startswith((b"http://", b"https://")):
        return parse_url_list(content)
    return parse_feed(content, base_url)


def parse_feed(content: bytes, base_url: str | None = None) -> Listing:
    """feedparser is lenient: a feed with minor errors (bozo) still yields its entries; none is a problem.

    Relative entry links (real feeds have them) resolve against the fetch URL, else the feed's own link.
    """
    parsed = feedparser.parse(content)
    base = base_url or parsed.feed.get("link") or ""
    entries = tuple(
        Entry(url=_resolve(base, e.link.strip()), title=(e.get("title") or None), published=_struct_date(e))
        for e in parsed.entries if e.get("link")
    )
    problem = None
    if not entries and parsed.get("bozo"):
        problem = f"unreadable feed: {type(parsed.get('bozo_exception')).__name__}"
    return Listing("feed", parsed.feed.get("title") or None, entries, problem=problem)


def parse_sitemap(content: bytes) -> Listing:
    try:
        root = etree.fromstring(content, parser=etree.XMLParser(resolve_entities=False, no_network=True,
                                                                recover=True, huge_tree=False))
    except etree.XMLSyntaxError as error:
        return Listing("sitemap", None, (), problem=f"unreadable sitemap: {error}")
    if root is None:
        return Listing("sitemap", None, (), problem="unreadable sitemap: empty document")
    if root.tag == f"{SITEMAP_NS}sitemapindex":
        locations = tuple(loc.text.strip() for loc in root.iter(f"{SITEMAP_NS}loc") if loc.text)
        return Listing("sitemap_index", None, (), sitemaps=locations)
    entries = tuple(_sitemap_entry(url) for url in root.iter(f"{SITEMAP_NS}url"))
    return Listing("sitemap", None, tuple(e for e in entries if e))


def parse_url_list(content: bytes) -> Listing:
    lines = content.decode("utf-8", errors="replace").splitlines()
    urls = (line.strip() for line in lines)
    return Listing("url_list", None, tuple(Entry(url) for url in urls if url.startswith(("http://", "https://"))))


def _resolve(base: str, link: str) -> str:
    """The absolute URL of `link`; a link urljoin cannot read (an invalid IPv6 literal such as `http://[::1/x`)
    is kept as written, so the fetcher refuses that one entry instead of the whole feed being lost."""
    try:
        return urljoin(base, link)
    except ValueError:
        return link


def _sitemap_entry(node: etree._Element) -> Entry | None:
    loc = node.findtext(f"{SITEMAP_NS}loc")
    if not loc or not loc.strip():
        return None
    title = node.findtext(f"{NEWS_NS}news/{NEWS_NS}title")
    published = node.findtext(f"{NEWS_NS}news/{NEWS_NS}publication_date")
    return Entry(loc.strip(), title.strip() if title else None, _iso_date(published))


def _struct_date(entry: feedparser.FeedParserDict) -> dt.date | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    try:
        return dt.date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday)
    except ValueError:
        return None


def _iso_date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value.strip()[:10]) if value else None
    except ValueError:
        return None
