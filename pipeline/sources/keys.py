"""Stable keys for inputs, so the same input is recognised whichever way it arrives."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline.dedup import canonical_url


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
