"""Publication and update dates, for both extraction paths, and the rules that choose between them.

Every date an extractor finds is kept as a `DateCandidate` tagged with the rule that found it, and each path has one
function choosing the published and updated dates from its candidates, so a choice can be audited and a missing date
stays None. Plain text: dates written in the page (numeric and month-name formats in several languages, "Published"
and "Updated" labels), chosen by `RULE_PRECEDENCE`. HTML: htmldate on the markup, then on the text. Separate from the
extractors because the text path's block classifier, title rules and header search all parse dates with `find_dates`,
and so that every `published_rule` value of both paths is defined in one place.
"""

from __future__ import annotations

import datetime as dt
import re

import htmldate
from htmldate.utils import load_html
from lxml.html import HtmlElement

from pipeline.records import DateCandidate

RULE_PRECEDENCE = ("explicit_publish_label", "header_metadata", "title_suffix", "byline_date")
"""Publication-date rules of the plain-text path, most trusted first: a label saying "published" beats a bare
date line in the page header, which beats the date a site appends to its <title>, which beats a date next to the
author's name. An "Updated" label is used only when none of these fired."""

_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")

_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12,
    "januar": 1, "jänner": 1, "jän": 1, "februar": 2, "märz": 3, "mär": 3, "mai": 5, "juni": 6,
    "juli": 7, "oktober": 10, "okt": 10, "dezember": 12, "dez": 12,
    "janvier": 1, "février": 2, "fevrier": 2, "mars": 3, "avril": 4, "juin": 6, "juillet": 7,
    "août": 8, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11, "décembre": 12, "decembre": 12,
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7, "agosto": 8,
    "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11, "diciembre": 12,
    "gennaio": 1, "febbraio": 2, "aprile": 4, "maggio": 5, "giugno": 6, "luglio": 7,
    "settembre": 9, "ottobre": 10, "dicembre": 12,
    "janeiro": 1, "fevereiro": 2, "março": 3, "maio": 5, "junho": 6, "julho": 7, "setembro": 9,
    "outubro": 10, "dezembro": 12,
    "januari": 1, "februari": 2, "maart": 3, "mei": 5, "augustus": 8,
}
_MONTH = r"([^\W\d_]{3,10})\.?"
_DATE_PATTERNS = (
    ("ymd", re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")),
    ("ymd", re.compile(r"(?<!\d)(\d{4})/(\d{1,2})/(\d{1,2})(?!\d)")),
    ("ymd", re.compile(r"(\d{4})\s*[年년]\s*(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日일]")),
    ("dmy", re.compile(r"(?<![\d.])(\d{1,2})[./](\d{1,2})[./](\d{4})(?!\d)")),
    ("mdy_name", re.compile(_MONTH + r"\s*(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})(?!\d)", re.I)),
    (
        "dmy_name",
        re.compile(
            r"(?<!\d)(\d{1,2})(?:st|nd|rd|th|er|º)?\.?\s*(?:de\s+)?" + _MONTH + r",?\s+(?:de\s+)?(\d{4})(?!\d)", re.I
        ),
    ),
)

_PUBLISH_LABEL = re.compile(
    r"\b(?:publish(?:ed)?(?:\s+(?:date|on|at|in))?|posted(?:\s+(?:on|at))?|date\s+of\s+publication|first\s+published"
    r"|ver[öo]ffentlicht(?:\s+am)?|erschienen(?:\s+am)?|publi[ée]e?(?:\s+le)?|publicad[oa](?:\s+(?:el|em|en))?"
    r"|pubblicato(?:\s+il)?|gepubliceerd(?:\s+op)?)\s*[:\-\u2013]?\s*",
    re.I,
)
_UPDATED_LABEL = re.compile(
    r"\b(?:last\s+)?(?:updated|modified|aktualisiert|mis\s+[àa]\s+jour|actualizad[oa]|atualizad[oa]|aggiornato"
    r"|bijgewerkt)(?:\s+(?:in|on|at|am|le|el|em|il|op))?\s*[:\-\u2013]?\s*",
    re.I,
)
_DATE_LABEL = re.compile(r"(?:^|\s)(?:date|datum|fecha|data)\s*[:\-]?\s*(?=\d)", re.I)
_TIME_OR_ZONE = re.compile(r"\d{1,2}[:.h]\d{2}(?:\s*(?:am|pm|uhr))?|\b[A-Z]{2,4}\b|[^\w]", re.I)
"""What may stand beside a date in a date line: clock times, time zones and weekday abbreviations, punctuation."""


def find_dates(text: str) -> list[tuple[dt.date, tuple[int, int]]]:
    """Every calendar date written in the text, with its span; impossible dates are skipped."""
    if not _YEAR.search(text):
        return []
    found = []
    taken: list[tuple[int, int]] = []
    for order, pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            span = match.span()
            if any(lo < span[1] and span[0] < hi for lo, hi in taken):
                continue
            value = _to_date(order, match.groups())
            if value:
                found.append((value, span))
                taken.append(span)
    found.sort(key=lambda item: item[1][0])
    return found


def _to_date(order: str, groups: tuple[str, ...]) -> dt.date | None:
    """Date from regex groups; numeric dates are day-first unless only month-first is valid."""
    month: str | int
    if order == "ymd":
        year, month, day = groups
    elif order == "dmy":
        day, month, year = groups
        if int(month) > 12 >= int(day):
            day, month = month, day
    elif order == "mdy_name":
        month, day, year = _MONTHS.get(groups[0].lower(), 0), groups[1], groups[2]
    else:
        day, month, year = groups[0], _MONTHS.get(groups[1].lower(), 0), groups[2]
    try:
        value = dt.date(int(year), int(month), int(day))
    except ValueError:
        return None
    return value if value.year >= 1990 else None


def date_dominant(block: str) -> bool:
    """True when the block is essentially a date (plus time, weekday or a short label)."""
    found = find_dates(block)
    if not found:
        return False
    rest = block
    for _, (lo, hi) in found:
        rest = rest[:lo] + " " * (hi - lo) + rest[hi:]
    rest = _TIME_OR_ZONE.sub(" ", rest)
    return len(rest.split()) <= 3


def labelled_dates(block: str) -> list[DateCandidate]:
    """Dates right after a "Published"/"Updated"/"Date" label, each tagged with its label's rule."""
    out: list[DateCandidate] = []
    if not _YEAR.search(block):
        return out
    for label, rule, kind in (
        (_PUBLISH_LABEL, "explicit_publish_label", "published"),
        (_UPDATED_LABEL, "updated_label", "updated"),
        (_DATE_LABEL, "header_metadata", "published"),
    ):
        if label is _DATE_LABEL and out:
            break
        for match in label.finditer(block):
            found = find_dates(block[match.end() : match.end() + 40])
            if found and found[0][1][0] <= 12:
                out.append(DateCandidate(found[0][0], rule, kind))
    return out


def choose_text_dates(candidates: list[DateCandidate]) -> tuple[dt.date | None, str | None, dt.date | None]:
    """Published date by RULE_PRECEDENCE; an "Updated" date stands in only when nothing else was found."""
    updated = next((c.value for c in candidates if c.kind == "updated"), None)
    for rule in RULE_PRECEDENCE:
        chosen = next((c for c in candidates if c.rule == rule and c.kind == "published"), None)
        if chosen:
            return chosen.value, rule, updated
    if updated:
        return updated, "updated_label", None
    return None, None, None


def html_date_candidates(tree: HtmlElement, html: str, url: str | None, today: dt.date) -> list[DateCandidate]:
    """htmldate's searches of the page, each run only while it can still change the choice: the markup search for
    the publication date, its extensive search of the text only when the markup had none (a markup date is chosen
    before it anyway), and the search for the latest update.

    htmldate copies the tree it is given, so trafilatura's parse serves all three; only when its markup search finds
    nothing is the page parsed again, by htmldate's parser, which keeps the comments some sites write dates in.
    """
    candidates = []
    published = _htmldate(tree, url, today, original=True, extensive=False)
    if published is None:
        with_comments = _with_comments(html)
        tree = with_comments if with_comments is not None else tree
        published = _htmldate(tree, url, today, original=True, extensive=False)
    if published is None:
        published = _unless_year_guess(_htmldate(tree, url, today, original=True, extensive=True), html)
        rule = "htmldate_extensive"
    else:
        rule = "htmldate_original"
    if published is not None:
        candidates.append(DateCandidate(value=published, rule=rule, kind="published"))
    updated = _htmldate(tree, url, today, original=False, extensive=False)
    if updated is not None:
        candidates.append(DateCandidate(value=updated, rule="htmldate_updated", kind="updated"))
    return candidates


def _with_comments(html: str) -> HtmlElement | None:
    try:
        return load_html(html)
    except (ValueError, TypeError):
        return None


def _unless_year_guess(value: dt.date | None, html: str) -> dt.date | None:
    """Drop htmldate's year-only fallback.

    On a bare year (a copyright line, a date it rejected) htmldate's free-text search answers
    1 January of that year; that is a guess, not a date the page carries, so such an answer
    counts only when the page spells that day out.
    """
    if value and (value.month, value.day) == (1, 1) and value.isoformat() not in html:
        return None
    return value


def _htmldate(page: HtmlElement, url: str | None, today: dt.date, original: bool,
              extensive: bool) -> dt.date | None:
    try:
        found = htmldate.find_date(page, url=url, original_date=original, extensive_search=extensive,
                                   max_date=today.isoformat())
    except (ValueError, TypeError):
        return None
    return _parse(found)


def _parse(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def choose_html_dates(candidates: list[DateCandidate]) -> tuple[dt.date | None, str | None, dt.date | None]:
    """The first published and the first updated candidate; the update only when it is later than the publication."""
    published = next((c for c in candidates if c.kind == "published"), None)
    updated = next((c for c in candidates if c.kind == "updated"), None)
    if updated and published and updated.value <= published.value:
        updated = None
    published_at, rule = (published.value, published.rule) if published else (None, None)
    return published_at, rule, updated.value if updated else None
