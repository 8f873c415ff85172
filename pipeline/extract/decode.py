"""Bytes to text without mojibake, and a clear refusal for bytes that are not text."""

from __future__ import annotations

import charset_normalizer


class NotText(ValueError):
    """The input's bytes do not decode to readable text."""


def looks_binary(content: bytes) -> bool:
    """NUL bytes or a high share of control characters mean a binary file, not text."""
    sample = content[:8192]
    if b"\x00" in sample:
        return True
    controls = sum(1 for byte in sample if byte < 9 or 13 < byte < 32)
    return bool(sample) and controls / len(sample) > 0.05


def decode_text(content: bytes, declared: str | None = None) -> str:
    if looks_binary(content):
        raise NotText("binary content")
    for encoding in filter(None, ("utf-8-sig", declared)):
        try:
            return content.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    best = charset_normalizer.from_bytes(content).best()
    if best is None:
        raise NotText("undecodable bytes: no text encoding fits")
    return str(best)
