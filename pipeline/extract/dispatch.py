"""Route a RawDoc to the extractor for its kind, and say clearly why an input is unusable.

Whatever comes back is safe to store: every text field is a string free of lone surrogates, and every
repair made on the way (bad bytes replaced, a field of the wrong type dropped) is listed in `warnings`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from pipeline.extract.decode import NotText, decode
from pipeline.extract.html import extract_html
from pipeline.extract.text import extract_text
from pipeline.records import DateCandidate, Extraction, RawDoc
from pipeline.textnorm import without_surrogates

EARLIEST_DATE = dt.date(1900, 1, 1)
"""No news article predates this; an earlier date is a placeholder ("0001-01-01") or a misreading (a year typed as
19), and date arithmetic on it overflows inside the load."""

TEXT_FIELDS = ("body", "title", "site", "byline", "url")


class Rejected(ValueError):
    """The input is readable in principle but holds no usable article; the message is the reason."""


def extract(raw: RawDoc, min_body_chars: int, today: dt.date | None = None) -> Extraction:
    if raw.problem:
        raise Rejected(raw.problem)
    if not raw.content.strip():
        raise Rejected("empty input")
    try:
        if raw.format == "json":
            extraction = _extract_json(raw, today)
        else:
            decoded = decode(raw.content, html=raw.format == "html")
            if raw.format == "html":
                extraction = extract_html(decoded.text, url=raw.url, today=today)
            else:
                extraction = extract_text(decoded.text, today=today)
            extraction = _warned(extraction, decoded.warnings)
    except NotText as error:
        raise Rejected(str(error)) from error
    extraction = _within_calendar(_storable(extraction))
    if len(extraction.body) < min_body_chars:
        raise Rejected(_no_body_reason(extraction, min_body_chars))
    return extraction


def _no_body_reason(extraction: Extraction, min_body_chars: int) -> str:
    """One line naming the rule that fired, so a reader knows whether the page or the minimum is at fault."""
    if extraction.body_rule == "navigation only":
        return "no article body: navigation only (menus, links and notices, no paragraph of text)"
    rule = f" by the {extraction.body_rule} rule" if extraction.body_rule else ""
    return (f"no article body: {len(extraction.body)} chars of text after cleaning{rule} "
            f"(< {min_body_chars}, the minimum NEWS_MIN_BODY_CHARS sets)")


def _warned(extraction: Extraction, warnings: tuple[str, ...] | list[str]) -> Extraction:
    return dataclasses.replace(extraction, warnings=(*extraction.warnings, *warnings)) if warnings else extraction


def _storable(extraction: Extraction) -> Extraction:
    """Lone surrogates replaced in every text field, whichever extractor let them through: a single one
    fails the UTF-8 write of the whole batch."""
    changes: dict[str, Any] = {}  # only str fields, but replace(**changes) is checked against every field
    for name in TEXT_FIELDS:
        value = getattr(extraction, name)
        if value is not None and without_surrogates(value) != value:
            changes[name] = without_surrogates(value)
    if not changes:
        return extraction
    warnings = [f"lone surrogates replaced by U+FFFD in {name}" for name in changes]
    return _warned(dataclasses.replace(extraction, **changes), warnings)


def _within_calendar(extraction: Extraction) -> Extraction:
    """Dates before `EARLIEST_DATE` dropped from every extractor's result, with a warning."""

    def sane(value: dt.date | None) -> dt.date | None:
        return value if value is None or value >= EARLIEST_DATE else None

    candidates = tuple(c for c in extraction.date_candidates if sane(c.value))
    if (sane(extraction.published_at), sane(extraction.updated_at), candidates) == (
            extraction.published_at, extraction.updated_at, extraction.date_candidates):
        return extraction
    published = sane(extraction.published_at)
    return dataclasses.replace(
        extraction, published_at=published, published_rule=extraction.published_rule if published else None,
        updated_at=sane(extraction.updated_at), date_candidates=candidates,
        warnings=(*extraction.warnings, f"dates before {EARLIEST_DATE} dropped"))


def _extract_json(raw: RawDoc, today: dt.date | None) -> Extraction:
    """A JSONL article: `html` goes through the HTML extractor; `text` is taken as the body as given.

    A malformed line is rejected with a one-line reason; a field of the wrong type is dropped with a
    warning, never converted (a byline of 123 is no byline, not the byline "123").
    """
    decoded = decode(raw.content)
    try:
        record = json.loads(decoded.text)
    except RecursionError as error:
        raise Rejected("invalid JSON line: nested too deep") from error
    except ValueError as error:
        raise Rejected(f"invalid JSON line: {' '.join(str(error).split())}") from error
    if not isinstance(record, dict):
        raise Rejected("JSON line is not an object")
    warnings = list(decoded.warnings)
    html, text = _string_field(record, "html", warnings), _string_field(record, "text", warnings)
    if html:
        extraction = extract_html(html, url=raw.url, today=today)
    elif text:
        extraction = Extraction(body=text, body_rule="record")
    else:
        raise Rejected("JSON line has neither 'text' nor 'html'")
    return _with_record_fields(extraction, record, raw.url, today or dt.date.today(), warnings)


def _with_record_fields(extraction: Extraction, record: dict, url: str | None, today: dt.date,
                        warnings: list[str]) -> Extraction:
    """Fields the record states explicitly win over what was read from the page."""
    title = _string_field(record, "title", warnings)
    byline = _string_field(record, "byline", warnings) or _string_field(record, "author", warnings)
    published = _record_date(_string_field(record, "published", warnings), today, warnings)
    candidates = extraction.date_candidates
    if published:
        candidates = (DateCandidate(published, "record_field"), *candidates)
    return dataclasses.replace(
        extraction,
        title=title or extraction.title,
        byline=byline or extraction.byline,
        url=url or extraction.url,
        published_at=published or extraction.published_at,
        published_rule="record_field" if published else extraction.published_rule,
        date_candidates=candidates,
        warnings=(*extraction.warnings, *warnings),
    )


def _string_field(record: dict, name: str, warnings: list[str]) -> str | None:
    """The record's field `name` as stripped text, or None when absent, blank or not a string (warned)."""
    value = record.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        warnings.append(f"JSON field {name!r} is {type(value).__name__}, not a string: dropped")
        return None
    safe = without_surrogates(value)
    if safe != value:
        warnings.append(f"lone surrogates replaced by U+FFFD in JSON field {name!r}")
    return safe.strip() or None


def _record_date(value: str | None, today: dt.date, warnings: list[str]) -> dt.date | None:
    """An ISO date between EARLIEST_DATE and `today`; anything else is dropped with a warning, because
    a year-1 date overflows the store's timestamp conversion and a future one cannot be a publication date."""
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        warnings.append(f"JSON field 'published' {value[:40]!r} is not an ISO date: dropped")
        return None
    if not EARLIEST_DATE <= parsed <= today:
        warnings.append(f"JSON field 'published' {parsed} is outside {EARLIEST_DATE}..{today}: dropped")
        return None
    return parsed
