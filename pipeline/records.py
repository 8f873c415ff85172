"""Typed records handed from stage to stage.

Frozen dataclasses so a stage cannot quietly change what an earlier stage produced.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class RawDoc:
    """One input exactly as it arrived, before any interpretation.

    `kind` says how to read `content`: "text", "html" or "json" (one JSONL line).
    `problem` is set when the source could not even hand over usable bytes
    (unsupported file type, too large); such a doc is rejected, never dropped.
    `transient` marks a problem worth retrying (a timeout, HTTP 503): the input fails
    instead, and failed inputs are tried again by the next run.
    """

    doc_key: str
    source_uri: str
    kind: str
    content: bytes
    url: str | None = None
    problem: str | None = None
    transient: bool = False


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
