"""Typed records handed from stage to stage.

Frozen dataclasses so a stage cannot quietly change what an earlier stage produced.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import date, datetime
from enum import StrEnum

from pipeline.textnorm import escape_controls


@dataclass(frozen=True)
class RawDoc:
    """One input exactly as it arrived, before any interpretation.

    `format` says how to read `content`: "text", "html" or "json" (one JSONL line); an input that is no document
    ("archive", "listing", "unknown") always carries a `problem`.
    `problem` is set when the source could not even hand over usable bytes
    (unsupported file type, too large); such a doc is rejected, never dropped.
    `transient` marks a problem worth retrying (a timeout, HTTP 503): the input fails
    instead, and failed inputs are tried again by the next run.
    """

    doc_key: str
    source_uri: str
    format: str
    content: bytes
    url: str | None = None
    problem: str | None = None
    transient: bool = False

    def __post_init__(self) -> None:
        """Keys and URLs carry no control characters (`escape_controls`), whichever source made them."""
        for name in ("doc_key", "source_uri", "url"):
            value = getattr(self, name)
            if value is not None and value != (escaped := escape_controls(value)):
                object.__setattr__(self, name, escaped)


class LedgerState(StrEnum):
    """The one state every input ends in."""

    LOADED = "loaded"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    FAILED = "failed"
    """A retry can help (a timeout, a 5xx, an I/O error): not remembered, so the next run tries again."""


class Reason(StrEnum):
    """Ledger reasons with a meaning of their own; rejections and failures carry free text (the problem)."""

    NEW_VERSION = "new_version"
    SEEN_BEFORE = "seen_before"
    SAME_INPUT_IN_RUN = "same_input_in_run"
    CANONICAL_URL = "canonical_url"
    CONTENT_HASH = "content_hash"
    NEAR_DUPLICATE = "near_duplicate"
    DEGRADED_VERSION = "degraded_version"


@dataclass(frozen=True)
class LedgerEntry:
    """One input's fate in a run: `article_id` is the article it became (loaded) or duplicates."""

    doc_key: str
    source_uri: str
    state: LedgerState
    reason: str | None = None
    article_id: str | None = None
    similarity: float | None = None

    def row(self) -> dict:
        return {**asdict(self), "state": str(self.state), "reason": None if self.reason is None else str(self.reason)}

    @classmethod
    def from_row(cls, row: dict) -> LedgerEntry:
        return cls(row["doc_key"], row["source_uri"], LedgerState(row["state"]), row.get("reason"),
                   row.get("article_id"), row.get("similarity"))


ENTITY_LABELS = ("PERSON", "ORG", "GPE", "LOC", "NORP")
"""The spaCy labels kept as entities; every other label the model knows is dropped."""


@dataclass(frozen=True)
class DateCandidate:
    """A date seen in the input, with the rule that found it, so the choice can be audited."""

    value: date
    rule: str
    kind: str = "published"  # "published" or "updated"


@dataclass(frozen=True)
class Extraction:
    """What the extractor read out of one input: cleaned body plus metadata.

    A field the input does not carry stays None; it is never guessed.
    """

    body: str
    body_rule: str | None = None
    """Which rule chose the body: "prose" (the densest run of paragraphs), "whole text" (every line of a plain
    text, for short-form news), "navigation only" (no body: a page of menus), "html" or "record" (a JSON text)."""
    title: str | None = None
    site: str | None = None
    byline: str | None = None
    url: str | None = None
    published_at: date | None = None
    published_rule: str | None = None
    updated_at: date | None = None
    date_candidates: tuple[DateCandidate, ...] = ()
    warnings: tuple[str, ...] = ()
    """What was repaired on the way in (bad bytes replaced, a field of the wrong type dropped): loaded, but said."""


@dataclass(frozen=True)
class Mention:
    """One entity mention, with offsets into the article body (title mentions are not stored)."""

    surface: str
    label: str
    start_char: int
    end_char: int
    canonical: str


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    n_inputs: int
    n_loaded: int
    n_duplicate: int
    n_rejected: int
    n_failed: int
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def to_xcom(self) -> dict:
        return {"run_id": self.run_id, "n_inputs": self.n_inputs, "n_loaded": self.n_loaded,
                "n_duplicate": self.n_duplicate, "n_rejected": self.n_rejected, "n_failed": self.n_failed}


def article_id_for(doc_key: str) -> str:
    """Stable id derived from the doc_key, so re-running a run yields the same ids."""
    return hashlib.sha1(doc_key.encode()).hexdigest()[:16]
