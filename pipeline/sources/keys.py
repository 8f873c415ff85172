"""Stable keys for inputs, so the same input is recognised whichever way it arrives, and the one test of
what counts as an HTML page, shared by archive replay and fetching."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline.dedup import canonical_url

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def content_digest(content: bytes) -> str:
    return hashlib.sha1(content).hexdigest()


def file_doc_key(path: Path, content: bytes) -> str:
    """Key for an input without a URL: file name plus content hash.

    The name rather than the full path, so replaying the same folder from another
    working directory or mount point finds the same keys and adds nothing.
    """
    return f"file:{path.name}#{content_digest(content)[:16]}"


def url_doc_key(url: str) -> str:
    return f"url:{canonical_url(url) or url}"


def not_html(content_type: str) -> str:
    return f"not an HTML page: content type {content_type or 'unknown'!r}"
