"""People in results and market tables, where the statistical model reads names worst.

Short-form news is often a list: ``1. Michelle Freeman (Jamaica) 12.71 seconds``, ``Pete Sampras (U.S.) beat Todd
Martin (U.S.) 6-4``, ``Glamorgan 259 (A. Dale 69, H. Morris 69)``. Without sentences around them, spaCy's small
English model tags such names as organisations or not at all (on the CoNLL-2003 dev split, three of four people it
missed stood in such lines) and tags the county in ``Surrey 429-7`` as a person. Two patterns of the genre find the
people, and a "person" that is a place, and the tail of no full name in the article, is read as the place it names
(`is_place_name`):

- a name of two to five capitalised words (particles such as ``van der`` allowed) followed by a country in
  parentheses, ``Name (Country)``, the way results tables credit a competitor; a name holding a team word
  (``United``, ``FC``) or itself a place is left alone, as teams are credited the same way;
- a name before a goal's minute, ``Cosmin Contra (31st)``, or before three or four rounds of golf, ``Phillip Price
  72 76 74 69``;
- initials and a surname, ``P. Simmons``, ``T.O'Gorman``, ``A.de Silva``: cricket and golf scorecards name players
  so, and initials that spell a curated name (``U.S.``) are not a person.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pipeline.enrich.names import canonical_key, curated_aliases
from pipeline.enrich.places import country_code, is_major_place

_PARTICLE = r"(?:van|von|de|der|den|da|di|du|dos|del|della|le|la|el|al|bin|ben|ter|ten)"
_WORD = r"(?:[A-Z]\.\s?)*[A-Z][\w'’\-]*[a-z][\w'’\-]*"
_NAME = rf"(?P<name>{_WORD}(?:[ ](?:{_PARTICLE}[ ])*{_WORD}){{1,4}})"
NAME_BEFORE_COUNTRY = re.compile(rf"(?<![\w.]){_NAME}[ ]\((?P<country>[^()\n]{{2,30}})\)")
SCORER = re.compile(rf"(?<![\w.]){_NAME}[ ]\(\d{{1,3}}(?:st|nd|rd|th)?(?:[ ,]+(?:pen|penalty|og|\d{{1,3}}"
                    rf"(?:st|nd|rd|th)?))*\)")
"""A goal scorer and the minute: ``Cosmin Contra (31st)``, ``Alan Shearer (12th, 75th pen)``."""
ROUND_SCORES = re.compile(rf"(?<![\w.]){_NAME}(?:[ ]\d{{2}}){{3,4}}\b")
"""A golfer and the strokes of three or four rounds: ``Phillip Price 72 76 74 69``."""
INITIALS_AND_SURNAME = re.compile(
    rf"(?<![\w.])(?P<initials>(?:[A-Z]\.[ ]?){{1,3}})(?P<surname>(?:{_PARTICLE}[ ]?)?[A-Z][a-z]*['’]?[A-Z]?[a-z]+"
    rf"(?:-[A-Z][a-z]+)?)(?![\w.])"
)
TEAM_WORDS = frozenset(
    "fc ac sc cf afc united city club athletic athletico atletico sporting real rapid dinamo dynamo spartak "
    "olympique olympic racing red star stars rovers wanderers town county rangers celtic inter borussia bayern "
    "national team national league cup university college school bank group corp inc ltd".split()
)
PLACE_SUFFIXES = ("shire",)
"""Word endings that make a place name (Yorkshire, Leicestershire) whatever the gazetteer holds."""


def list_person_spans(text: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of the people the results-table patterns find in ``text``."""
    for match in NAME_BEFORE_COUNTRY.finditer(text):
        if country_code(match.group("country"), "GPE") and _may_be_person(match.group("name")):
            yield match.start("name"), match.end("name")
    for match in (*SCORER.finditer(text), *ROUND_SCORES.finditer(text)):
        if _may_be_person(match.group("name")):
            yield match.start("name"), match.end("name")
    for match in INITIALS_AND_SURNAME.finditer(text):
        if canonical_key(match.group("initials")) not in curated_aliases():
            yield match.start(), match.end()


def _may_be_person(name: str) -> bool:
    """Not a team (``Leeds United``, ``Red Star``) and not a place (``New York 74 52``)."""
    return not TEAM_WORDS.intersection(canonical_key(name).split()) and not country_code(name, "GPE")


def after_demonym(text: str, start: int, end: int) -> int:
    """Start of a person's name past a nationality before it (``Australian Rodney Eyles``): a demonym is no part
    of a name, but the model often takes it in when a results line starts with it."""
    first = re.match(r"(\w+)\s+(?=[A-Z]\w*\s+[A-Z])", text[start:end])
    if first and country_code(first.group(1), "NORP") and not is_major_place(first.group(1)):
        return start + first.end()
    return start


def is_place_name(name: str) -> bool:
    """A name that is a country, a US state, a city of 100,000 people or a shire."""
    return is_major_place(name) or canonical_key(name).endswith(PLACE_SUFFIXES)
