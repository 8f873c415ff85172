"""Text folding shared by extraction, entity names and evaluation, so every comparison folds alike."""

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


def fold(text: str | None) -> str:
    """Comparison key: case, accents, Unicode quotes/dashes and spacing folded away; None folds to ""."""
    text = text or ""
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text.translate(QUOTES)))
    return " ".join(text.casefold().split())


def without_surrogates(text: str) -> str:
    """Lone surrogates (JSON may carry `"\\ud800"`) replaced by U+FFFD: they cannot be written as UTF-8."""
    return _LONE_SURROGATE.sub("\ufffd", text)
