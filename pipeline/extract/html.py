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
    candidates = list(_date_candidates(html, url, document, today))
    published = next((c for c in candidates if c.kind == "published"), None)
    updated = next((c for c in candidates if c.kind == "updated"), None)
    if updated and published and updated.value <= published.value:
        updated = None
    return Extraction(
        body=(document.get("text") or "").strip(),
        title=document.get("title") or None,
        site=document.get("sitename") or None,
        byline=document.get("author") or None,
        url=document.get("url") or url,
        published_at=published.value if published else None,
        published_rule=published.rule if published else None,
        updated_at=updated.value if updated else None,
        date_candidates=tuple(candidates),
    )


def _date_candidates(html: str, url: str | None, document: dict, today: dt.date):
    """htmldate's original date first (extensive search), then trafilatura's metadata date."""
    found = [
        ("htmldate_original", "published", _htmldate(html, url, original=True, today=today)),
        ("trafilatura_metadata", "published", _parse(document.get("date"))),
        ("htmldate_updated", "updated", _htmldate(html, url, original=False, today=today)),
    ]
    for rule, kind, value in found:
        if value is not None and value <= today:
            yield DateCandidate(value=value, rule=rule, kind=kind)


def _htmldate(html: str, url: str | None, original: bool, today: dt.date) -> dt.date | None:
    try:
        found = htmldate.find_date(html, url=url, original_date=original, extensive_search=True,
                                   max_date=today.isoformat())
    except (ValueError, TypeError):
        return None
    return _parse(found)


def _parse(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None
