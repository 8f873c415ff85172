"""How an entity name is written, and when two writings are the same name.

`normalise_name` turns a surface into the name it writes (ASCII quotes, no possessive, no honorific),
`canonical_key` folds a name into the key that decides "same entity", `curate` applies the curated aliases (merges
no rule can find, such as ``Wladimir Putin`` or ``UK``), and `is_junk` drops spans that name nothing. Separate from
spaCy tagging and from corpus linking because both apply these rules, and `pipeline.enrich.places` looks names up
with them without loading a model.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from pipeline.store import SQL_DIR
from pipeline.textnorm import QUOTES

ALIASES_FILE = SQL_DIR / "seed_data" / "entity_aliases.csv"

_APOSTROPHES = "'‘’′`´"
_TRAILING_POSSESSIVE = re.compile(f"[{_APOSTROPHES}][sS]$|(?<=[sS])[{_APOSTROPHES}]$")
_LEADING_POSSESSIVE_TAIL = re.compile(f"[{_APOSTROPHES}][sS]\\s+")
INNER_POSSESSIVE = re.compile(f"[{_APOSTROPHES}][sS]\\s")
"""A possessive inside a span: a person's name never holds one, so a PERSON span ends there."""
_EDGE_PUNCTUATION = "\"“”„,;:-–—()[]" + _APOSTROPHES
_HONORIFICS = (
    r"(?:mr|mrs|ms|mx|dr|prof|sen|rep|gov|gen|col|capt|lt|sgt)\.?|miss|sir|dame|lord|lady|professor|senator"
    r"|governor|general|president|vice[- ]president|prime minister|foreign minister|minister|chancellor|king"
    r"|queen|prince|princess|pope|premier|ambassador|secretary|sheikh|the"
)
_LEADING_HONORIFIC = re.compile(f"^(?:{_HONORIFICS})\\s+", re.IGNORECASE)
_ONLY_HONORIFIC = re.compile(f"^(?:{_HONORIFICS})$", re.IGNORECASE)
_DATE_WORDS = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "monday tuesday wednesday thursday friday saturday sunday today yesterday tomorrow".split()
)
_NUMBER_OR_ORDINAL = re.compile(r"^[\d.,:/-]+(?:st|nd|rd|th|s)?$")


def canonical_key(name: str) -> str:
    """Fold a name to the key that decides "same entity": accents, case, quotes, dots, possessive, spacing.

    Dots go so that ``U.S.`` and ``US`` meet; dashes are unified but kept.
    """
    text = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    text = _TRAILING_POSSESSIVE.sub("", text.translate(QUOTES).strip()).replace(".", "")
    return " ".join(text.lower().split())


def normalise_name(surface: str) -> str:
    """The name a surface writes: ASCII quotes, single spaces, no possessive, no honorific or leading "the"."""
    name = " ".join(surface.translate(QUOTES).split())
    name = _TRAILING_POSSESSIVE.sub("", name).strip(_EDGE_PUNCTUATION + " ")
    while (honorific := _LEADING_HONORIFIC.match(name)) and name[honorific.end():][:1].isupper():
        name = name[honorific.end():]
    return name


@dataclass(frozen=True)
class CuratedName:
    """The entity a curated alias stands for: its display name and label."""

    name: str
    label: str


@functools.cache
def curated_aliases(path: Path = ALIASES_FILE) -> dict[str, CuratedName]:
    """``canonical_key(name) -> CuratedName`` for every alias and canonical name of the curated alias file.

    The file holds merges no rule can find (``Wladimir Putin``, ``UK``); a curated name's label also overrides
    spaCy's, which is why the canonical names themselves are keys too.
    """
    with path.open(newline="", encoding="utf-8") as lines:
        rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    curated = {canonical_key(row["canonical"]): CuratedName(row["canonical"], row["label"]) for row in rows}
    curated.update({canonical_key(row["alias"]): curated[canonical_key(row["canonical"])] for row in rows})
    return curated


def curate(name: str, label: str) -> tuple[str, str]:
    """``(name, label)``, replaced by the curated entity when the name is a curated alias or canonical name."""
    curated = curated_aliases().get(canonical_key(name))
    return (curated.name, curated.label) if curated else (name, label)


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink ``[start, end)`` past spaces and quotes, a leading ``'s`` left by the word before, a possessive."""
    while start < end and (text[start].isspace() or text[start] in _EDGE_PUNCTUATION):
        tail = _LEADING_POSSESSIVE_TAIL.match(text, start, end)
        start = tail.end() if tail else start + 1
    while True:
        while end > start and (text[end - 1].isspace() or text[end - 1] in _EDGE_PUNCTUATION):
            end -= 1
        possessive = _TRAILING_POSSESSIVE.search(text, start, end)
        if not possessive:
            return start, end
        end = possessive.start()


def is_junk(name: str) -> bool:
    """Spans that name nothing: one character, no capital letter, numbers, dates, ordinals, a bare honorific."""
    return (
        len(name) < 2
        or not any(c.isupper() for c in name)
        or all(_NUMBER_OR_ORDINAL.match(w) or w in _DATE_WORDS for w in canonical_key(name).split())
        or _ONLY_HONORIFIC.match(name) is not None
    )
