"""Headline and site rules, for both extraction paths.

A <title> joins headline, section, site and sometimes a date with separators ("Kicker: Headline | News | Site"), in
CJK titles often without spaces. `headline_key`, `title_keys`, `strip_site_name` and `names_site` cut a title at
those separators and compare its parts with a candidate headline; the HTML path chooses between <title>, og:title,
JSON-LD and <h1> with them. `find_title` and `find_site` read the plain-text path's classified `Page`, whose first
line is the <title> and where the headline readers saw is usually repeated above the body. Separate from both
extractors so that the two paths cut and compare titles alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipeline.extract.boilerplate import CJK_CHAR, CJK_CHARS, HEADER_WINDOW, HEADLINE_SLACK, Page, word_count
from pipeline.extract.dates import date_dominant, find_dates
from pipeline.records import DateCandidate
from pipeline.textnorm import fold

_SEPARATOR = re.compile(
    rf"\s+(?:\||-|\u2013|\u2014|--|::|\u00b7|\u2022|\u00bb)\s+|\s*[|\uff5c\u3163\uff1a]\s*"
    rf"|(?<=[{CJK_CHARS}])\s*[-\u2013\u2014]\s*(?=[{CJK_CHARS}])"
)
"""Where a <title> joins headline, section and site: spaced dashes and bars, and in CJK titles also
unspaced dashes, full-width bars and colons and the Hangul-letter bar ("...ㅣ한국일보")."""
_HEADLINE_CUT = re.compile(
    rf"{_SEPARATOR.pattern}|:\s+|\s+(?=\[)|(?<=[{CJK_CHARS}])\s+(?=[{CJK_CHARS}])"
)
"""Looser cuts, used only to match a headline shown on the page against parts of the <title>: a
kicker before a colon ("World news: ...") or a bracketed tag may be left off the on-page headline."""
_KEY_WORD = re.compile(r"\w+")
_DATELINE_SITE = re.compile(r"^[A-Z][A-Z .,'\-]{1,40}\s*\((?P<site>[^)]{2,40})\)\s*[\-\u2013\u2014:]")

CJK_SITE_MAX_CHARS = 10
"""Longest CJK <title> segment taken for a site or section name ("朝日新聞デジタル"); CJK headlines are longer."""

KICKER_MAX_WORDS = 5
"""Longest kicker (overline) set above a headline: "Umbau des Weissen Hauses –", "Emotionales Interview"."""

HEADLINE_MAX_GROWTH = 1.6
"""How much longer than the <title> copy the headline below a kicker may be; standfirsts run longer."""

_NAME_WORDS = frozenset({"blog", "news", "online", "de", "del", "der", "die", "of", "the", "and", "&", "-", "|"})


def find_title(page: Page) -> str | None:
    """Headline of the page.

    Pages usually open with the HTML <title>, often suffixed with section, site and date;
    the standalone headline line further down is preferred because it is what readers
    saw (its own apostrophes, no suffix). When the first line is metadata (a date label,
    a menu item) the headline is the last headline-like block above the body.
    """
    blocks = page.blocks
    first = blocks[0]
    if word_count(first) >= 2:
        shown = _shown_headline(page)
        if shown is not None:
            return _headline_after_kicker(page, shown) or blocks[shown]
        if page.kinds[0] not in ("meta", "boiler", "stop", "credit"):
            return _strip_title_suffix(first)
    for i in range(page.start - 1, max(-1, page.start - HEADER_WINDOW), -1):
        if page.kinds[i] in ("short", "medium", "caption") and 2 <= word_count(blocks[i]) <= 20:
            return blocks[i]
    return None


def _shown_headline(page: Page) -> int | None:
    """Index of the block above the body that repeats the <title> line or its headline part.

    A verbatim repeat of the first line counts whatever its kind (a headline saying "Bild:" looks
    like a credit); a part of it must not be metadata. The longest match wins, then the one
    nearest the body: site names sit in the page header, the headline right above the article.
    """
    first = page.blocks[0]
    full = headline_key(first)
    keys = title_keys(first) - _site_segment_keys(first)
    separator = _SEPARATOR.search(first)
    lead = fold(first[: separator.start()] if separator else first)
    best: tuple[int, int] | None = None
    for i in range(1, min(page.start + 1, len(page.blocks))):
        block = page.blocks[i]
        if len(block) > len(first) + HEADLINE_SLACK:
            continue
        key = headline_key(block)
        if key == full:
            return i
        if word_count(block) < 3 or page.kinds[i] in ("meta", "boiler", "stop"):
            continue
        if (key in keys or _after_date_prefix(lead, fold(block))) and (best is None or len(key) >= best[0]):
            best = (len(key), i)
    return best[1] if best else None


def _site_segment_keys(first: str) -> set[str]:
    """Key of the <title>'s last segment when it looks like a site name and the first does not
    ("... - 日本経済新聞", "... : 読売新聞"): a logo line repeating it is not the headline, however well it
    matches the <title>. When both ends look like names ("Site Blog | Short Title") neither is ruled out."""
    cuts = list(_HEADLINE_CUT.finditer(first))
    if not cuts:
        return set()
    head, last = first[: cuts[0].start()].strip(), first[cuts[-1].end() :].strip()
    if not last or not _suffix_like(last) or _suffix_like(head):
        return set()
    return {headline_key(last)}


def _headline_after_kicker(page: Page, shown: int) -> str | None:
    """The headline two blocks below a copy of the <title>, behind a short kicker ("Emotional interview").

    Many sites print the SEO <title> once more as the last breadcrumb, then the article's own kicker and
    headline. That headline is the one set above the article, so it wins when it is headline-shaped and
    shares at least two words with the <title> copy (it is about the same thing, not a teaser).
    """
    kicker, headline = shown + 1, shown + 2
    if headline > page.start + 2 or headline >= len(page.blocks):
        return None
    if not (word_count(page.blocks[kicker]) <= KICKER_MAX_WORDS and page.blocks[kicker][-1] not in ".!?"):
        return None
    block, kind = page.blocks[headline], page.kinds[headline]
    if kind not in ("short", "medium", "caption") or not 3 <= word_count(block) <= 30 or block[-1] in ".,;:":
        return None
    if len(block) > HEADLINE_MAX_GROWTH * len(page.blocks[shown]):
        return None
    shared = _content_words(block) & _content_words(page.blocks[shown])
    return block if len(shared) >= 2 else None


def _content_words(text: str) -> set[str]:
    """Folded words of four letters or more: enough to tell two headlines are about the same thing."""
    return {word for word in _KEY_WORD.findall(fold(text)) if len(word) >= 4}


def headline_key(text: str | None) -> str:
    """Comparison key of a headline: folded words only, so quotes, dashes and spacing don't matter."""
    return " ".join(_KEY_WORD.findall(fold(text)))


def title_keys(title: str, loose: bool = True) -> set[str]:
    """Keys of the title and of every run of its parts between separators.

    The on-page headline is usually one of these: "Headline | Site", "Site | Headline",
    "Kicker: Headline | Section - Site" or a CJK title with the site glued on by a bare dash.
    Not `loose`: only at the separators that set off a site or section, not at a kicker's colon.
    """
    cuts = list((_HEADLINE_CUT if loose else _SEPARATOR).finditer(title))
    starts = [0, *(match.end() for match in cuts)]
    ends = [*(match.start() for match in cuts), len(title)]
    keys = {headline_key(title[lo:hi]) for i, lo in enumerate(starts) for hi in ends[i:]}
    keys.discard("")
    return keys


def strip_site_name(title: str, sites: Iterable[str]) -> str:
    """Drop <title> segments that name the site (given as names or domain labels) from either end,
    then section segments left behind the site name ("Headline » Local » News » Site")."""
    names = site_keys(sites)
    cuts = list(_SEPARATOR.finditer(title))
    lo, hi, stripped = 0, len(title), False
    while cuts and names_site(title[cuts[-1].end() : hi], names):
        hi, stripped = cuts.pop().start(), True
    while cuts and names_site(title[lo : cuts[0].start()], names):
        lo = cuts.pop(0).end()
    while stripped and cuts and _suffix_like(title[cuts[-1].end() : hi]):
        hi = cuts.pop().start()
    return title[lo:hi].strip()


def site_keys(sites: Iterable[str]) -> set[str]:
    """Site names and domain labels as spaceless keys, for `names_site`."""
    return {key.replace(" ", "") for key in map(headline_key, sites) if len(key) >= 3}


def names_site(segment: str, names: set[str]) -> bool:
    """True when the segment and a site name contain one another, spaces aside ("Stack Overflow
    Blog" and stackoverflow, "Globalnews.ca" and globalnews)."""
    compact = headline_key(segment).replace(" ", "")
    return len(compact) >= 3 and any(name in compact or compact in name for name in names)


def _after_date_prefix(lead: str, key: str) -> bool:
    """True when the <title> is the headline behind a date label ("date 2019-05-02 Headline")."""
    return lead.endswith(" " + key) and bool(find_dates(lead[: len(lead) - len(key)]))


def _strip_title_suffix(first: str) -> str:
    """Drop trailing <title> segments that name a site, section or date, keeping the headline's own dashes."""
    cuts = [match.start() for match in _SEPARATOR.finditer(first)]
    while cuts and _suffix_like(first[cuts[-1] :].strip(" |-\u2013\u2014:\u00b7\u2022\u00bb\uff5c\u3163\uff1a")):
        first = first[: cuts.pop()]
    return _strip_comma_dated_suffix(first).replace("\u2032", "'")


def _strip_comma_dated_suffix(title: str) -> str:
    """Drop a ", Site name, 18.05.2026" tail: a comma segment that is a date marks a metadata suffix, and
    the short segment before it is the site or section it dates."""
    head, sep, last = title.rpartition(",")
    if not sep or not head.strip() or not date_dominant(last):
        return title
    before, sep, site = head.rpartition(",")
    if sep and before.strip() and word_count(site) <= KICKER_MAX_WORDS:
        head = before
    return head.rstrip()


def _suffix_like(segment: str) -> bool:
    """A site, section or date segment: a date, a domain, a few capitalised words ("The Daily Star"),
    or in CJK a short name ("新华网"), as CJK headlines run longer without spaces."""
    words = segment.split()
    if date_dominant(segment):
        return True
    if CJK_CHAR.search(segment):
        return len(segment) <= CJK_SITE_MAX_CHARS
    if len(words) == 1:
        return True
    return len(words) <= 5 and all(w[:1].isupper() or w[:1].isdigit() or w.lower() in _NAME_WORDS for w in words)


def find_site(page: Page, title: str | None) -> str | None:
    """Publisher named by the <title> suffix ("... | News | DW") or a dateline ("TEHRAN (Agency) -")."""
    if title:
        segments = _SEPARATOR.split(page.blocks[0])
        title_key = fold(title)
        for i in range(len(segments)):
            if title_key in fold(" | ".join(segments[: i + 1])):
                names = [s for s in segments[i + 1 :] if not date_dominant(s) and word_count(s) <= 5]
                if names:
                    return names[-1]
                break
    for block in page.blocks[page.start : page.start + 3]:
        match = _DATELINE_SITE.match(block)
        if match:
            return match.group("site").strip()
    return None


def title_suffix_dates(first: str) -> list[DateCandidate]:
    """The date a site appends to its <title> ("Headline | News | DW | 04.12.2018")."""
    segments = _SEPARATOR.split(first)
    found = [value for segment in segments[1:] for value, _ in find_dates(segment)]
    return [DateCandidate(value, "title_suffix") for value in found[:1]]
