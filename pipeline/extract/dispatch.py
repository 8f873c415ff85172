"""Route a RawDoc to the extractor for its kind, and say clearly why an input is unusable."""

from __future__ import annotations

import datetime as dt
import json

from pipeline.extract.decode import NotText, decode_text
from pipeline.extract.html import extract_html
from pipeline.extract.text import extract_text
from pipeline.records import DateCandidate, Extraction, RawDoc


class Rejected(ValueError):
    """The input is readable in principle but holds no usable article; the message is the reason."""


def extract(raw: RawDoc, min_body_chars: int, today: dt.date | None = None) -> Extraction:
    if raw.problem:
        raise Rejected(raw.problem)
    if not raw.content.strip():
        raise Rejected("empty input")
    try:
        if raw.kind == "json":
            extraction = _extract_json(raw, today)
        elif raw.kind == "html":
            extraction = extract_html(decode_text(raw.content), url=raw.url, today=today)
        else:
            extraction = extract_text(decode_text(raw.content), today=today)
    except NotText as error:
        raise Rejected(str(error)) from error
    if len(extraction.body) < min_body_chars:
        raise Rejected(f"no article body: {len(extraction.body)} chars of text after cleaning (< {min_body_chars})")
    return extraction


def _extract_json(raw: RawDoc, today: dt.date | None) -> Extraction:
    """A JSONL article: `html` goes through the HTML extractor; `text` is taken as the body as given."""
    try:
        record = json.loads(raw.content)
    except ValueError as error:
        raise Rejected(f"invalid JSON line: {error}") from error
    if not isinstance(record, dict):
        raise Rejected("JSON line is not an object")
    html, text = record.get("html"), record.get("text")
    if isinstance(html, str) and html.strip():
        extraction = extract_html(html, url=raw.url, today=today)
    elif isinstance(text, str) and text.strip():
        extraction = Extraction(body=text.strip())
    else:
        raise Rejected("JSON line has neither 'text' nor 'html'")
    return _with_record_fields(extraction, record, raw.url, today or dt.date.today())


def _with_record_fields(extraction: Extraction, record: dict, url: str | None, today: dt.date) -> Extraction:
    """Fields the record states explicitly win over what was read from the page."""
    title = record.get("title") if isinstance(record.get("title"), str) else None
    published = _record_date(record.get("published"), today)
    candidates = extraction.date_candidates
    if published:
        candidates = (DateCandidate(published, "record_field"), *candidates)
    return Extraction(
        body=extraction.body,
        title=(title or "").strip() or extraction.title,
        site=extraction.site,
        byline=record.get("byline") or record.get("author") or extraction.byline,
        url=url or extraction.url,
        published_at=published or extraction.published_at,
        published_rule="record_field" if published else extraction.published_rule,
        updated_at=extraction.updated_at,
        date_candidates=candidates,
    )


def _record_date(value: object, today: dt.date) -> dt.date | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00")).date()
    except ValueError:
        return None
    return parsed if parsed <= today else None
