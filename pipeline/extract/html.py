"""HTML pages: trafilatura for body and metadata, htmldate for the publication date."""

from __future__ import annotations

import datetime as dt

import htmldate
import trafilatura

from pipeline.records import DateCandidate, Extraction


def extract_html(html: str, url: str | None = None, today: dt.date | None = None) -> Extraction:
    today = today or dt.date.today()
    document = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False,
                                           include_tables=False, as_dict=True)
    if not document:
        return Extraction(body="")
    title = document.get("title") or None
    candidates = list(_date_candidates(html, url, document, today))
    published = next((c for c in candidates if c.kind == "published"), None)
    updated = next((c for c in candidates if c.kind == "updated"), None)
    if updated and published and updated.value <= published.value:
        updated = None
    return Extraction(
        body=_body(document.get("text") or "", title),
        title=title,
        site=document.get("sitename") or None,
        byline=document.get("author") or None,
        url=document.get("url") or url,
        published_at=published.value if published else None,
        published_rule=published.rule if published else None,
        updated_at=updated.value if updated else None,
        date_candidates=tuple(candidates),
    )


def _body(text: str, title: str | None) -> str:
    """Paragraphs separated by a blank line, as the text path does; a leading copy of the headline goes."""
    paragraphs = [line.strip() for line in text.splitlines() if line.strip()]
    if paragraphs and title and paragraphs[0].casefold() == title.strip().casefold():
        paragraphs = paragraphs[1:]
    return "\n\n".join(paragraphs)


def _date_candidates(html: str, url: str | None, document: dict, today: dt.date):
    """htmldate on markup first, then its extensive text search, then trafilatura's metadata date."""
    found = [
        ("htmldate_original", "published", _htmldate(html, url, today, original=True, extensive=False)),
        ("htmldate_extensive", "published", _unless_year_guess(
            _htmldate(html, url, today, original=True, extensive=True), html)),
        ("trafilatura_metadata", "published", _unless_year_guess(_parse(document.get("date")), html)),
        ("htmldate_updated", "updated", _htmldate(html, url, today, original=False, extensive=False)),
    ]
    for rule, kind, value in found:
        if value is not None and value <= today:
            yield DateCandidate(value=value, rule=rule, kind=kind)


def _unless_year_guess(value: dt.date | None, html: str) -> dt.date | None:
    """Drop htmldate's year-only fallback.

    On a bare year (a copyright line, a date it rejected) htmldate's free-text search answers
    1 January of that year; that is a guess, not a date the page carries, so such an answer
    counts only when the page spells that day out.
    """
    if value and (value.month, value.day) == (1, 1) and value.isoformat() not in html:
        return None
    return value


def _htmldate(html: str, url: str | None, today: dt.date, original: bool, extensive: bool) -> dt.date | None:
    try:
        found = htmldate.find_date(html, url=url, original_date=original, extensive_search=extensive,
                                   max_date=today.isoformat())
    except (ValueError, TypeError):
        return None
    return _parse(found)


def _parse(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None
