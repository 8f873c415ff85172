"""Stable keys for inputs, so the same input is recognised whichever way it arrives, and the one test of
what counts as an HTML page, shared by archive replay and fetching."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from pipeline.urls import canonical_url

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
CONTENT_DIGEST = r"#[0-9a-f]{16}$"
"""How a key ends when it carries the digest of the bytes read (a regular expression, shared with SQL)."""


def content_digest(content: bytes) -> str:
    return hashlib.sha1(content).hexdigest()


def file_doc_key(path: Path, content: bytes) -> str:
    """Key for an input without a URL: file name plus content hash.

    The name rather than the full path, so replaying the same folder from another
    working directory or mount point finds the same keys and adds nothing.
    """
    return f"file:{printable_path(path.name)}#{content_digest(content)[:16]}"


def printable_path(path: str | Path) -> str:
    """A path as text that any store can hold: bytes that are not UTF-8 in a file name (Python keeps them as
    lone surrogates) are written as `\\xNN` escapes instead of failing the run at the first write."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def url_doc_key(url: str) -> str:
    """Key of a page: its canonical URL. What a fetcher checks before requesting it; `input_key` adds what was
    read."""
    return f"url:{canonical_url(url) or url}"


def input_key(doc_key: str, content: bytes) -> str:
    """The key of one input: a page key plus the digest of the bytes read from the page.

    A page changes. Keyed by its URL alone, a changed body would be settled as seen before and never reach
    extraction; with the digest, the same bytes again are the same input (settled before extraction) and new
    bytes are a new input, which the loader compares with the page's versions. File keys carry their digest
    already, and a key that has one keeps it, so a key read back from the ledger stays as it is.
    """
    if doc_key.startswith("url:") and not re.search(CONTENT_DIGEST, doc_key):
        return f"{doc_key}#{content_digest(content)[:16]}"
    return doc_key


def page_key(doc_key: str) -> str:
    """The page an input key names, without the digest of what was read from it."""
    return re.sub(CONTENT_DIGEST, "", doc_key) if doc_key.startswith("url:") else doc_key


def not_html(content_type: str) -> str:
    return f"not an HTML page: content type {content_type or 'unknown'!r}"
