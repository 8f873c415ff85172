"""JSONL lines with malformed fields: each ends as an article with the field NULL and a warning, or as a
rejected input with a one-line reason; never as an exception that stops the run."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pipeline.extract.dispatch import Rejected, extract
from pipeline.records import RawDoc
from pipeline.stages.run import run_pipeline
from pipeline.store import query

TODAY = dt.date(2024, 6, 1)
MIN_BODY_CHARS = 200
BODY = ("The council approved the new budget on Tuesday after a long debate about school funding and roads. "
        "The mayor said the work would start in spring and finish before the end of next year. ") * 3
DEEP = "[" * 100_000 + "]" * 100_000
STORIES = (
    "Heavy rain flooded the lower town overnight, and firefighters pumped water out of forty cellars near the river "
    "while the bakery on the market square handed out bread to families who had to leave their homes. "
    "The mayor promised help for every household and asked volunteers to bring sandbags to the school gym.",
    "The national football team lost its qualifier in Lisbon by two goals, and the coach said the defence had "
    "never recovered from the early injury to its captain, who will miss the rest of the season. "
    "Supporters who had travelled by night train cheered the players anyway when they left the stadium.",
    "Scientists at the university observatory announced a comet that will be visible to the naked eye in March, "
    "and amateur astronomers are already booking the dark-sky campsite in the northern hills. "
    "The best view is expected just after sunset on the third weekend, weather permitting.",
    "A museum in the old harbour reopened after five years of restoration, showing the ship models, maps and "
    "letters of the merchants who traded salt and timber along the coast two centuries ago. "
    "Entry is free for children, and the café on the top floor looks out over the fishing boats.",
)


def _extract(line: str | bytes):
    content = line.encode("utf-8", errors="surrogatepass") if isinstance(line, str) else line
    return extract(RawDoc("key", "file:///records.jsonl#L1", "json", content), MIN_BODY_CHARS, TODAY)


def _record(**fields) -> str:
    return json.dumps({"text": BODY} | fields)


@pytest.mark.parametrize("value", [123, 1.5, True, ["Jane Reporter"], {"name": "Jane Reporter"}],
                         ids=["int", "float", "bool", "list", "dict"])
@pytest.mark.parametrize("field", ["title", "byline", "author", "published"])
def test_field_of_the_wrong_type_is_dropped_with_a_warning(field, value):
    extraction = _extract(_record(**{field: value}))

    assert (extraction.title, extraction.byline, extraction.published_at) == (None, None, None)
    assert extraction.warnings == (f"JSON field {field!r} is {type(value).__name__}, not a string: dropped",)


def test_string_fields_are_taken():
    extraction = _extract(_record(title=" Budget passed ", author="Jane Reporter", published="2024-05-01T10:00Z"))

    assert (extraction.title, extraction.byline, extraction.published_at) == (
        "Budget passed", "Jane Reporter", dt.date(2024, 5, 1))
    assert extraction.published_rule == "record_field"
    assert extraction.warnings == ()


@pytest.mark.parametrize("field", ["title", "byline", "text"])
def test_lone_surrogate_is_replaced_with_a_warning(field):
    record = {"text": BODY, "title": "Budget", "byline": "Jane"}
    record[field] += "\ud800"
    extraction = _extract(json.dumps(record))

    stored = {"title": extraction.title, "byline": extraction.byline, "text": extraction.body}[field]
    assert stored.endswith("\ufffd")
    assert all(value.encode("utf-8") for value in (extraction.title, extraction.byline, extraction.body))
    assert extraction.warnings == (f"lone surrogates replaced by U+FFFD in JSON field {field!r}",)


@pytest.mark.parametrize("published", ["0001-01-01", "1899-12-31", "9999-12-31", "2024-06-02"])
def test_published_outside_1900_to_today_is_dropped(published):
    extraction = _extract(_record(published=published))

    assert extraction.published_at is None and extraction.published_rule is None
    assert extraction.warnings == (f"JSON field 'published' {published} is outside 1900-01-01..{TODAY}: dropped",)


def test_published_that_is_no_date_is_dropped():
    extraction = _extract(_record(published="last Tuesday"))

    assert extraction.published_at is None
    assert extraction.warnings == ("JSON field 'published' 'last Tuesday' is not an ISO date: dropped",)


def test_invalid_utf8_in_a_line_is_replaced_with_a_warning():
    extraction = _extract(_record(title="Cafe news").encode().replace(b"Cafe", b"Caf\xe9"))

    assert extraction.title == "Caf\ufffd news"
    assert extraction.warnings == ("decoded as UTF-8 with 1 invalid byte sequence replaced",)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (DEEP, "invalid JSON line: nested too deep"),
        (_record()[:-1] + ', "title": ' + DEEP + "}", "invalid JSON line: nested too deep"),
        ("{broken json", "invalid JSON line: Expecting property name enclosed in double quotes"),
        ('{"text": "' + "9" * 5000 + '" , "n": ' + "9" * 5000 + "}", "invalid JSON line: Exceeds the limit"),
        ('"just a string"', "JSON line is not an object"),
        (json.dumps({"text": 123}), "JSON line has neither 'text' nor 'html'"),
        (json.dumps({"html": ["<p>x</p>"], "text": None}), "JSON line has neither 'text' nor 'html'"),
        (json.dumps({"text": "   "}), "JSON line has neither 'text' nor 'html'"),
    ],
    ids=["deep-array", "deep-field", "broken", "huge-number", "not-object", "text-number", "html-list", "blank"],
)
def test_unusable_line_is_rejected_with_a_one_line_reason(line, reason):
    with pytest.raises(Rejected) as rejected:
        _extract(line)

    assert str(rejected.value).startswith(reason)
    assert "\n" not in str(rejected.value)


def test_malformed_lines_load_or_reject_end_to_end(settings, tmp_path):
    """Through Arrow staging and the DuckDB load, where the wrong types and dates used to crash the run."""
    lines = [
        json.dumps({"text": STORIES[0], "url": "https://example.org/byline", "byline": 123, "title": ["x"],
                    "published": {"y": 1}}),
        json.dumps({"text": STORIES[1], "url": 123, "title": "Number url"}),
        json.dumps({"text": STORIES[2], "url": "https://example.org/surrogate\ud800", "title": "T\ud800",
                    "byline": "B\udfff"}),
        json.dumps({"text": STORIES[3], "url": "https://example.org/year-one", "published": "0001-01-01"}),
        DEEP,
    ]
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "records.jsonl").write_bytes("\n".join(lines).encode("utf-8", errors="surrogatepass"))

    summary = run_pipeline([str(folder)], settings, "fields", today=TODAY)

    assert (summary.n_inputs, summary.n_failed, summary.n_rejected) == (5, 0, 1)
    _, rows = query(settings.store, "SELECT url, title, byline, published_at FROM articles ORDER BY url")
    assert sorted(rows, key=str) == sorted([
        ("https://example.org/byline", None, None, None),
        (None, "Number url", None, None),
        ("https://example.org/surrogate\ufffd", "T\ufffd", "B\ufffd", None),
        ("https://example.org/year-one", None, None, None),
    ], key=str)
    _, rejects = query(settings.store, "SELECT reason FROM ingest_log WHERE state = 'rejected'")
    assert rejects == [("invalid JSON line: nested too deep",)]
