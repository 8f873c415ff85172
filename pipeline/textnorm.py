"""Text folding and tokenising shared by extraction, entity names, dedup, stories and evaluation.

One module so that every comparison folds text alike, and so that near-duplicate shingles (`pipeline.neardup`) and
story terms (`pipeline.stories`) are cut from the same `tokens`.
"""

from __future__ import annotations

import re
import unicodedata

QUOTES = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'", "`": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"', "\u2033": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
        "\u00a0": " ",
    }
)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_UNSPACED = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_UNSPACED}]|[^\W{_UNSPACED}]+")
"""Words, except in scripts written without spaces (Thai, Lao, Myanmar, Khmer, kana, Han), where each character
is a token, so a Japanese or Thai article still has thousands of shingles rather than a handful of "words".
Stored near-duplicate signatures are hashed from these tokens: a change here makes every one of them meaningless."""


def fold(text: str | None) -> str:
    """Comparison key: case, accents, Unicode quotes/dashes and spacing folded away; None folds to ""."""
    text = text or ""
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text.translate(QUOTES)))
    return " ".join(text.casefold().split())


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def escape_controls(text: str) -> str:
    """Control characters percent-encoded (`\x00` → `%00`), as a URL writes them. Keys and URLs are compared in
    SQL, and DuckLake's file pruning writes the values it prunes by into SQL of its own: a NUL cut that SQL short
    ("unterminated quoted string") and failed the whole load (a WARC record whose target URI had one)."""
    return _CONTROL.sub(lambda match: f"%{ord(match.group()):02X}", text) if _CONTROL.search(text) else text


def without_surrogates(text: str) -> str:
    """Lone surrogates (JSON may carry `"\\ud800"`) replaced by U+FFFD: they cannot be written as UTF-8."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def tokens(text: str) -> list[str]:
    """The folded text's words (one token per character in unspaced scripts), in order, repeats kept."""
    return _TOKEN.findall(fold(text))
