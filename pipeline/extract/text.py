"""Plain-text extraction: the article body and its metadata from the visible text of a scraped page.

This module wires the parts of the path together: `pipeline.extract.boilerplate` classifies the page's line blocks
and chooses the body, `pipeline.extract.titles` reads the headline and site, `pipeline.extract.dates` parses dates
and chooses between them. The byline and the dated header lines are read here, as they need both the block kinds
and the metadata patterns. Dates are collected with the rule that found them and chosen by a fixed precedence, so
a choice can be audited and a missing date stays None.
"""

from __future__ import annotations

import datetime as dt

from pipeline.extract.boilerplate import (
    AGENCY_CREDIT,
    BYLINE,
    HEADER_WINDOW,
    INPUTS_CREDIT,
    PROSE_SCORE,
    WIRE_BYLINE,
    WIRE_SIGNATURE,
    Page,
    clean_body,
    is_plain_text,
    read_page,
    whole_text_body,
    word_count,
)
from pipeline.extract.dates import choose_text_dates, find_dates, labelled_dates
from pipeline.extract.titles import find_site, find_title, title_suffix_dates
from pipeline.records import DateCandidate, Extraction

SHORT_BODY_CHARS = 400
"""A prose body shorter than this, in a plain text, is read again line by line (`whole_text_body`): short-form
news (a brief, a results table) has no long paragraphs to find."""
PROSE_SHARE = 0.5
"""A plain text whose prose run is less than this share of its lines (in characters) is read line by line too:
a results story is a paragraph of prose and a table of short lines (on the CoNLL dev split one kept 487 of 2,462
characters and lost 34 people); the plain-text scraped pages of the dev set keep 56 % or more in their prose."""


def extract_text(text: str, today: dt.date | None = None) -> Extraction:
    """Read the article body, title, site, byline and dates out of a page's visible text."""
    today = today or dt.date.today()
    page = read_page(text)
    if page is None:
        return Extraction(body="")
    title = find_title(page)
    candidates = _date_candidates(page, today)
    published, rule, updated = choose_text_dates(candidates)
    body, body_rule = _body(page, title)
    return Extraction(
        body=body,
        body_rule=body_rule,
        title=title,
        site=find_site(page, title),
        byline=_find_byline(page),
        published_at=published,
        published_rule=rule,
        updated_at=updated,
        date_candidates=tuple(candidates),
    )


def _body(page: Page, title: str | None) -> tuple[str, str]:
    """The body and the rule that chose it: the densest run of prose, or, in a plain text whose prose is short or
    a small part of it, every line (`whole_text_body`); a scraped page without prose is "navigation only"."""
    body = clean_body(page, title)
    plain = is_plain_text(page)
    if plain:
        whole = whole_text_body(page, title)
        if len(whole) > len(body) and (len(body) < SHORT_BODY_CHARS or len(body) < PROSE_SHARE * len(whole)):
            return whole, "whole text"
    if not body and not plain:
        return body, "navigation only"
    return body, "prose"


def _find_byline(page: Page) -> str | None:
    """Author or agency from a "By ..." line or a wire byline (a name above the dateline) near the body, else a
    "(With inputs from ...)" or agency credit line inside or just after it, else a wire sign-off ("-- Name, ...")."""
    lo = max(0, page.start - HEADER_WINDOW)
    blocks = page.blocks
    for i in range(lo, min(len(blocks), page.start + 5)):
        match = BYLINE.match(blocks[i])
        if match and word_count(match.group("name")) <= 6:
            return match.group("name").strip()
        if page.kinds[i] == "meta" and (wire := WIRE_BYLINE.match(blocks[i])):
            return wire.group("name")
    for block in blocks[page.start : page.end + 3]:
        match = INPUTS_CREDIT.match(block) or AGENCY_CREDIT.match(block)
        if match:
            return match.group("name").strip()
    for block in reversed(blocks[page.start:]):
        if match := WIRE_SIGNATURE.match(block):
            return match.group("name")
    return None


def _date_candidates(page: Page, today: dt.date) -> list[DateCandidate]:
    """Dates from labels, header lines, the <title> suffix and the byline, never from captions,
    teasers or the body's prose, and never later than today.

    Bare date lines are ranked by distance from the body start: the line next to the
    article is its dateline, lines further away belong to menus and teaser lists.
    """
    out: list[DateCandidate] = []
    out += title_suffix_dates(page.blocks[0])
    near: list[tuple[int, DateCandidate]] = []
    lo, hi = max(0, page.start - HEADER_WINDOW), min(page.end, page.start + HEADER_WINDOW // 2)
    for i, block in enumerate(page.blocks[: page.end]):
        kind = page.kinds[i]
        if kind in ("caption", "teaser", "stop") or (kind in PROSE_SCORE and i > page.start + 2):
            continue
        labelled = labelled_dates(block)
        if labelled:
            out += labelled
        elif lo <= i < hi and kind == "meta":
            rule = "byline_date" if BYLINE.match(block) else "header_metadata"
            near += [(abs(i - page.start), DateCandidate(value, rule)) for value, _ in find_dates(block)[:1]]
    out += [candidate for _, candidate in sorted(near, key=lambda item: item[0])]
    return list(dict.fromkeys(c for c in out if c.value <= today))
