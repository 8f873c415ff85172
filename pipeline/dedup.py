"""Exact duplicate detection: canonical URL and normalised content hash.

Near-duplicates and story grouping build on these keys later; here a document is a
duplicate when it has the same canonical URL or the same body after normalisation.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import courlan

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def canonical_url(url: str | None) -> str | None:
    """Scheme/host lower-cased, tracking parameters and fragment gone; None for what is not a web URL."""
    cleaned = courlan.clean_url(url.strip()) if url else None
    checked = courlan.check_url(cleaned) if cleaned else None
    return courlan.normalize_url(checked[0], strict=True) if checked else None


def content_hash(body: str) -> str:
    """Hash of the body folded to lower-case words, so whitespace and punctuation noise match."""
    folded = unicodedata.normalize("NFKC", body).casefold()
    return hashlib.sha256(_NON_WORD.sub(" ", folded).strip().encode()).hexdigest()


@dataclass(frozen=True)
class DuplicateMatch:
    duplicate_of: str  # article_id of the kept article
    rule: str  # "canonical_url" or "content_hash"


class ExactIndex:
    """Canonical URLs and content hashes already kept, from the store and from this run so far."""

    def __init__(self, known: Iterable[tuple[str, str | None, str]] = ()):
        self._by_url: dict[str, str] = {}
        self._by_hash: dict[str, str] = {}
        for article_id, url, digest in known:
            self.add(article_id, url, digest)

    def match(self, url: str | None, digest: str) -> DuplicateMatch | None:
        if url and url in self._by_url:
            return DuplicateMatch(self._by_url[url], "canonical_url")
        if digest in self._by_hash:
            return DuplicateMatch(self._by_hash[digest], "content_hash")
        return None

    def add(self, article_id: str, url: str | None, digest: str) -> None:
        if url:
            self._by_url.setdefault(url, article_id)
        self._by_hash.setdefault(digest, article_id)
