"""HTML pages: trafilatura for body and metadata, the headline chosen among <title>, og:title, JSON-LD and <h1>.

The headline is compared with the title rules the plain-text path uses (`pipeline.extract.titles`), and the dates
come from htmldate through `pipeline.extract.dates`, where both paths' date rules are defined.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html as html_entities
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import lxml.html
import trafilatura
from trafilatura.metadata import (
    META_URL,
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.settings import Document
from trafilatura.utils import load_html

from pipeline.extract.dates import choose_html_dates, html_date_candidates
from pipeline.extract.titles import headline_key, names_site, site_keys, strip_site_name, title_keys
from pipeline.records import Extraction

_HOST_WORDS = frozenset({"www", "amp", "edition", "com", "org", "net", "news"})
"""Host labels that name no site; with labels of two letters or fewer (de, co, m) dropped, the site's
own name is what is left ("www.golem.de" gives golem)."""

_ARTICLE_TYPE_ENDINGS = ("Article", "Posting")
"""schema.org types that describe the article itself (NewsArticle, ReportageNewsArticle, BlogPosting,
LiveBlogPosting, ...), as opposed to the WebPage, Organization or VideoObject items beside it."""


FULL_EXTRACTION_BELOW = 1000
"""Body size (`_text_size`) under which trafilatura's fast pass is redone with its fallback extractors. On the 258 dev
pages that is 22 pages, among them the 6 whose text the fallbacks change (Spiegel, Politico and a Latvian article
found under 1,000 of their 2,000 to 15,000 characters). The fast pass alone misses 7 of the 609 snippets, with
the redo 2, and pays for the fallbacks on a tenth of the pages instead of all."""

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def extract_html(html: str, url: str | None = None, today: dt.date | None = None) -> Extraction:
    """The page is parsed once, by trafilatura's parser: the tree gives the headline's evidence and the metadata,
    then trafilatura extracts the body from a copy of it and htmldate searches its own copies for the dates."""
    today = today or dt.date.today()
    tree = load_html(html)
    if tree is None:
        return Extraction(body="", body_rule="html")
    heads = _PageHeads.of(tree)
    metadata = _page_metadata(tree, url)
    extracted = _body_extraction(tree, url)
    title = _headline(heads, metadata, url)
    if extracted is None:
        return Extraction(body="", body_rule="html", title=title)
    candidates = html_date_candidates(tree, html, url, today)
    published, rule, updated = choose_html_dates(candidates)
    return Extraction(
        body=_body(extracted.text or "", title),
        body_rule="html",
        title=title,
        site=metadata.sitename or None,
        byline=metadata.author or None,
        url=metadata.url or url,
        published_at=published,
        published_rule=rule,
        updated_at=updated,
        date_candidates=tuple(candidates),
    )


def _body_extraction(tree: lxml.html.HtmlElement, url: str | None) -> Document | None:
    """trafilatura's own extractor first, its fallbacks (readability, jusText) only when that found little.

    The fallbacks cost a quarter of trafilatura's time and change the text of about one dev page in fifty; all but
    one of those where the fast pass found under `FULL_EXTRACTION_BELOW` characters, so only those pages pay for them.
    """
    fast = _trafilatura_body(tree, url, fast=True)
    if fast is not None and _text_size(fast.text or "") >= FULL_EXTRACTION_BELOW:
        return fast
    return _trafilatura_body(tree, url, fast=False) or fast


def _trafilatura_body(tree: lxml.html.HtmlElement, url: str | None, fast: bool) -> Document | None:
    found = trafilatura.bare_extraction(tree, url=url, fast=fast, include_comments=False, include_tables=False)
    return found if isinstance(found, Document) else None


def _text_size(text: str) -> int:
    """Characters, a CJK ideograph, kana or hangul syllable counting as three: one says about as much as a short
    word, so a whole Japanese article of 500 characters is not taken for an extraction that found little."""
    return len(text) + 2 * len(_CJK.findall(text)) if len(text) < FULL_EXTRACTION_BELOW else len(text)


def _page_metadata(tree: lxml.html.HtmlElement, url: str | None) -> Document:
    """trafilatura's metadata steps (`trafilatura.metadata.extract_metadata`) for what the pipeline keeps: title,
    author, canonical URL and site name. Its date search (htmldate's job here, run once in `html_date_candidates`),
    categories, tags and licence are left out: they were two thirds of its time and nothing reads them."""
    metadata = examine_meta(tree)
    if metadata.author and " " not in metadata.author:
        metadata.author = None
    with contextlib.suppress(Exception):
        metadata = extract_meta_json(tree, metadata)
    metadata.title = metadata.title or extract_title(tree)
    metadata.author = metadata.author or extract_author(tree)
    metadata.url = metadata.url or extract_url(tree, url)
    metadata.sitename = metadata.sitename or extract_sitename(tree)
    if metadata.sitename:
        metadata.sitename = metadata.sitename.lstrip("@")
        if metadata.sitename and "." not in metadata.sitename and not metadata.sitename[0].isupper():
            metadata.sitename = metadata.sitename.title()
    elif metadata.url and (match := META_URL.match(metadata.url)):
        metadata.sitename = match[1]
    metadata.clean_and_trim()
    return metadata


@dataclass(frozen=True)
class _PageHeads:
    """What the headline rules read from the page, taken before trafilatura prunes the tree."""

    page_title: str | None = None
    og_title: str | None = None
    og_site_name: str | None = None
    h1s: tuple[str, ...] = ()
    json_ld_headline: str | None = None

    @classmethod
    def of(cls, tree: lxml.html.HtmlElement | None) -> _PageHeads:
        if tree is None:
            return cls()
        return cls(_first(tree, "//title/text()"), _first(tree, '//meta[@property="og:title"]/@content'),
                   _first(tree, '//meta[@property="og:site_name"]/@content'), tuple(_h1s(tree)),
                   _json_ld_headline(tree))


def _headline(heads: _PageHeads, metadata: Document, url: str | None) -> str | None:
    """The headline readers saw, chosen by this precedence:

    1. When og:title says something else than <title> (site names aside), the publisher wrote a
       separate headline for sharing: an <h1> confirmed by it, else og:title itself (step 3).
    2. Otherwise og:title only repeats the SEO <title>, and an <h1> that the JSON-LD article
       `headline` repeats wins: the page and its structured data agree on what the article is called.
    3. An <h1> that is the title (og:title or <title>), one of its parts between separators, or exactly
       the page's <title>, unless it is the site's name (a logo in an <h1>); else the title without
       its site name.
    """
    page_title, og_title, h1s = heads.page_title, heads.og_title, heads.h1s
    title = metadata.title or og_title or page_title
    if not title:
        return None
    sites = [metadata.sitename or "", heads.og_site_name or "", *_host_labels(url or metadata.url)]
    names = site_keys(sites)
    if not _differs(og_title, page_title, sites):
        structured = headline_key(strip_site_name(heads.json_ld_headline or "", sites))
        for h1 in h1s:
            if structured and headline_key(h1) == structured:
                return h1
    keys = title_keys(title, loose=False) | {headline_key(page_title)}
    for h1 in h1s:
        if headline_key(h1) in keys and not names_site(h1, names):
            return h1
    return strip_site_name(title, sites) or title


def _differs(og_title: str | None, page_title: str | None, sites: list[str]) -> bool:
    """True when og:title and <title> both exist and name the article differently once site names are cut."""
    if not og_title or not page_title:
        return False
    return headline_key(strip_site_name(og_title, sites)) != headline_key(strip_site_name(page_title, sites))


def _json_ld_headline(tree: lxml.html.HtmlElement | None) -> str | None:
    """`headline` of the first schema.org article item in the page's JSON-LD blocks; broken JSON is skipped,
    as pages often ship it with stray commas or HTML comments."""
    if tree is None:
        return None
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text_content())
        except ValueError:
            continue
        for item in _json_ld_items(data):
            types = item.get("@type")
            types = types if isinstance(types, list) else [types]
            headline = item.get("headline")
            if isinstance(headline, str) and any(str(t).endswith(_ARTICLE_TYPE_ENDINGS) for t in types):
                return " ".join(html_entities.unescape(headline).split()) or None
    return None


def _json_ld_items(data: object) -> Iterator[dict[str, object]]:
    """Every object in a JSON-LD document, depth first: items sit at the top, in lists or under @graph."""
    stack = [data]
    while stack:
        node = stack.pop(0)
        if isinstance(node, list):
            stack[:0] = node
        elif isinstance(node, dict):
            yield node
            stack[:0] = [value for value in node.values() if isinstance(value, (dict, list))]


def _first(tree: lxml.html.HtmlElement | None, xpath: str) -> str | None:
    found = tree.xpath(xpath) if tree is not None else []
    text = " ".join(str(found[0]).split()) if found else ""
    return text or None


def _h1s(tree: lxml.html.HtmlElement | None) -> list[str]:
    if tree is None:
        return []
    return [text for text in (" ".join(h1.text_content().split()) for h1 in tree.iter("h1")) if text]


def _host_labels(url: str | None) -> list[str]:
    host = urlsplit(url).hostname or "" if url else ""
    return [label for label in host.split(".") if label not in _HOST_WORDS and len(label) > 2]


def _body(text: str, title: str | None) -> str:
    """Paragraphs separated by a blank line, as the text path does; a leading copy of the headline goes."""
    paragraphs = [line.strip() for line in text.splitlines() if line.strip()]
    if paragraphs and title and paragraphs[0].casefold() == title.strip().casefold():
        paragraphs = paragraphs[1:]
    return "\n\n".join(paragraphs)

