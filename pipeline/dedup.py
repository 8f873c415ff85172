"""Exact duplicate detection and page versions, on the canonical URL (`pipeline.urls`) and a normalised content hash.

A known canonical URL decides first: the same body as one of the page's versions is a duplicate (rule
`canonical_url`), a body new to that URL is a new version of the page, loaded and linked to its first version.
Only an input whose URL is new (or absent) is then matched on its body alone (rule `content_hash`), and after
that on near-duplicate bodies (`pipeline.neardup`). The same page is the stronger evidence: a corrected article
is a near-duplicate of its earlier text, and it must become a version, not vanish as a duplicate.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def content_hash(body: str) -> str:
    """Hash of the body folded to lower-case words, so whitespace and punctuation noise match."""
    folded = unicodedata.normalize("NFKC", body).casefold()
    return hashlib.sha256(_NON_WORD.sub(" ", folded).strip().encode()).hexdigest()


@dataclass(frozen=True)
class DuplicateMatch:
    duplicate_of: str  # article_id of the kept article
    rule: str  # "canonical_url" (a version of that page has this body) or "content_hash" (another page has it)


@dataclass(frozen=True)
class NewVersion:
    """A known page with a body none of its versions has: loaded as a new article linked to the first one."""

    version_of: str  # article_id of the page's first version
    version: int  # this version's number: 2 for the first change


@dataclass(frozen=True)
class DegradedVersion:
    """A known page re-captured with a body that shrank sharply (a truncated capture, a paywall or error page):
    recorded as a duplicate of the page's latest version, never promoted to latest."""

    latest: str  # article_id of the page's latest version
    share: float  # this body's length as a share of the latest version's


DEGRADED_SHARE = 0.5
"""A new version whose body is shorter than this share of the latest version's is a degraded re-capture."""


@dataclass(frozen=True)
class KnownArticle:
    article_id: str
    canonical_url: str | None
    content_hash: str
    body_chars: int = 0


class ExactIndex:
    """Versions per canonical URL and content hashes already kept, from the store and from this run so far.

    Known articles must come in version order (the first version of a page first), as `add` appends.
    """

    def __init__(self, known: Iterable[KnownArticle] = ()):
        self._versions: dict[str, list[KnownArticle]] = {}
        self._by_hash: dict[str, str] = {}
        for article in known:
            self.add(article)

    def match(self, url: str | None, digest: str,
              body_chars: int = 0) -> DuplicateMatch | NewVersion | DegradedVersion | None:
        """Same page first (duplicate of the version with this body, else a new version), then same body.

        A body equal to *any* earlier version is a duplicate, not a new version: replaying an older capture
        adds nothing. The price: a page reverted to an earlier text is not recorded as a version again.
        A body new to the page becomes a version only when it is a body of its own: one another page already
        has (a site's navigation, an error page) is a `content_hash` duplicate, and one less than
        `DEGRADED_SHARE` of the latest version's length is a degraded re-capture.
        """
        versions = self._versions.get(url) if url else None
        if versions:
            same = next((v.article_id for v in versions if v.content_hash == digest), None)
            if same:
                return DuplicateMatch(same, "canonical_url")
            if digest in self._by_hash:
                return DuplicateMatch(self._by_hash[digest], "content_hash")
            latest = versions[-1]
            if latest.body_chars and body_chars < DEGRADED_SHARE * latest.body_chars:
                return DegradedVersion(latest.article_id, round(body_chars / latest.body_chars, 4))
            return NewVersion(versions[0].article_id, len(versions) + 1)
        if digest in self._by_hash:
            return DuplicateMatch(self._by_hash[digest], "content_hash")
        return None

    def add(self, article: KnownArticle) -> None:
        if article.canonical_url:
            self._versions.setdefault(article.canonical_url, []).append(article)
        self._by_hash.setdefault(article.content_hash, article.article_id)
