"""People in results and market tables, where the statistical model reads names worst.

Short-form news is often a list: ``1. Michelle Freeman (Jamaica) 12.71 seconds``, ``Pete Sampras (U.S.) beat Todd
Martin (U.S.) 6-4``, ``Glamorgan 259 (A. Dale 69, H. Morris 69)``. Without sentences around them, spaCy's small
English model tags such names as organisations or not at all (on the CoNLL-2003 dev split, three of four people it
missed stood in such lines) and tags the county in ``Surrey 429-7`` as a person. Two patterns of the genre find the
people, a "person" that is a place, and the tail of no full name in the article, is read as the place it names
(`is_place_name`), one holding a company or team word is an organisation, and a word labelling a field
(``Attendance: 200``) is no name:

- a name of two to five capitalised words (particles such as ``van der`` allowed) followed by a country in
  parentheses, ``Name (Country)``, the way results tables credit a competitor; a name holding a team word
  (``United``, ``FC``) or itself a place is left alone, as teams are credited the same way;
- a name before a goal's minute, ``Cosmin Contra (31st)``, or before three or four rounds of golf, ``Phillip Price
  72 76 74 69``;
- initials and a surname, ``P. Simmons``, ``T.O'Gorman``, ``A.de Silva``: cricket and golf scorecards name players
  so, and initials that spell a curated name (``U.S.``) are not a person.

Teams are credited in lines of their own, which the model reads as people (``Pohang 3 Ulsan 2``, ``Greenock Morton
3 2 0 1 5 2 6``, ``Postponed: Birmingham v Barnsley``): `team_spans` finds the team names of results, standings and
fixture lines, and a "person" there is a team. A table row's label (``Avg shrs 4,841 3,990``, from a company's
results) is no name, nor is the place a ``town of`` names a person.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pipeline.enrich.names import canonical_key, curated_aliases
from pipeline.enrich.places import country_code, is_major_place

_PARTICLE = r"(?:van|von|de|der|den|da|di|du|dos|del|della|le|la|el|al|bin|ben|ter|ten)"
_WORD = r"(?:[A-Z]\.[ ]?)*[A-Z][\w'’\-]*"
NAME_BEFORE = re.compile(rf"(?<![\w.])(?P<name>{_WORD}(?:[ ](?:{_PARTICLE}[ ])*{_WORD}){{1,4}})[ ]?$")
"""A name of two to five words ending a window of text: matched only where the anchors below stand, so the name
pattern never runs over a whole article."""
NAME_WINDOW = 80
COUNTRY_AFTER = re.compile(r"\((?P<country>[^()\n\d]{2,30})\)")
MINUTE_AFTER = re.compile(r"\(\d{1,3}(?:st|nd|rd|th)?(?:[ ,]+(?:pen|penalty|og|\d{1,3}(?:st|nd|rd|th)?))*\)")
"""A goal scorer's minute: ``Cosmin Contra (31st)``, ``Alan Shearer (12th, 75th pen)``."""
ROUNDS_AFTER = re.compile(r"(?<=[A-Za-z'’] )\d{2}(?: \d{2}){2,3}\b")
"""Three or four rounds of golf after a name: ``Phillip Price 72 76 74 69``."""
INITIALS_AND_SURNAME = re.compile(
    rf"(?<![\w.])(?P<initials>(?:[A-Z]\.[ ]?){{1,3}})(?P<surname>(?:{_PARTICLE}[ ]?)?[A-Z][a-z]*['’]?[A-Z]?[a-z]+"
    rf"(?:-[A-Z][a-z]+)?)(?![\w.])"
)
TEAM_WORDS = frozenset(
    "fc ac sc cf afc united city club athletic athletico atletico sporting real rapid dinamo dynamo spartak "
    "olympique olympic racing red star stars rovers wanderers town county rangers celtic inter borussia bayern "
    "national team national league cup university college school bank group corp inc ltd".split()
)
ORGANISATION_WORDS = TEAM_WORDS | frozenset(
    "co corp corporation inc ltd plc spa ag nv gmbh llc holdings holding mining airlines airways motors industries "
    "stadium party ministry council committee association federation union institute foundation bureau newsroom "
    "newsdesk agency cement steel textiles petroleum chemicals pharmaceuticals electronics breweries brewery "
    "tobacco insurance securities shipping telecom telecoms telecommunications refinery fertilisers fertilizers "
    "lamps".split()
)
"""Words no person's name holds: a PERSON span with one is an organisation (``Kloof Gold Mining Co``,
``Manchester United``, ``Pirelli SpA``, ``Reuters Ottawa Bureau``, ``Chittagong Cement``)."""
_TEAM = r"[A-Z][\w'’.&\-]*(?:[ ](?:of[ ])?[A-Za-z][\w'’.&\-]*){0,3}?(?:[ ]\([A-Z]{1,3}\))?"
"""A team's name in a table: up to four words (``Queen of South``, ``OFK Beograd``), perhaps with the short tag
that tells two clubs of one name apart (``Mladost (L)``)."""
RESULT_LINE = re.compile(rf"^(?:\d{{1,3}}\.?[ ]+)?(?P<a>{_TEAM})[ ]\d{{1,3}}[ ]+(?P<b>{_TEAM})[ ]\d{{1,3}}(?:[ ].*)?$",
                         re.MULTILINE)
"""``Pohang 3 Ulsan 2 (halftime 1-0)``, ``Orrell 13 Bath 56``: two teams, each followed by its score."""
STANDINGS_LINE = re.compile(rf"^(?:\d{{1,3}}\.?[ ]+)?(?P<a>{_TEAM})(?P<cells>(?:[ ]+[-+]?\d+(?:\.\d+)?){{5,}})[ ]*$",
                            re.MULTILINE)
"""``Greenock Morton 3 2 0 1 5 2 6``: a team and five or more figures (played, won, drawn, lost, goals, points);
a golfer's four rounds and total (``Phillip Price 72 76 74 69 291``) are all 60 or more, and are left alone."""
FIXTURE = re.compile(rf"(?P<a>{_TEAM})[ ]vs?\.?\s+(?P<b>{_TEAM})(?=[,;.)]|$)", re.MULTILINE)
"""``Birmingham v Barnsley``: two teams to meet (a wrapped line may part them)."""
TABLE_ROW_LABEL = re.compile(r"^[A-Z][a-z]*\.?(?:[ ][a-z][\w.]*)+(?:[ ]+[-+$(]?\d[\d,.]*\)?%?)+[ ]*$", re.MULTILINE)
"""``Avg shrs 4,841 3,990``: a row of figures whose label is a capitalised word and lower-case ones."""
PLACE_BEFORE = re.compile(r"\b(?:town|city|village|port|province|region|district|capital|island|county)[ ]of[ ]$",
                          re.IGNORECASE)
"""``in the town of Staouelli``: what follows names a place."""
PLACE_SUFFIXES = ("shire",)
"""Word endings that make a place name (Yorkshire, Leicestershire) whatever the gazetteer holds."""


def list_person_spans(text: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of the people the results-table patterns find in ``text``."""
    for match in COUNTRY_AFTER.finditer(text):
        if country_code(match.group("country"), "GPE"):
            yield from _name_before(text, match.start())
    for anchor in (MINUTE_AFTER, ROUNDS_AFTER):
        for match in anchor.finditer(text):
            yield from _name_before(text, match.start())
    for match in INITIALS_AND_SURNAME.finditer(text):
        if canonical_key(match.group("initials")) not in curated_aliases():
            yield match.start(), match.end()


def team_spans(text: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of the team names in results, standings and fixture lines of ``text``."""
    for match in RESULT_LINE.finditer(text):
        yield match.span("a")
        yield match.span("b")
    for match in STANDINGS_LINE.finditer(text):
        if any(float(cell) < 60 for cell in match.group("cells").split()):
            yield match.span("a")
    for match in FIXTURE.finditer(text):
        yield match.span("a")
        yield match.span("b")


def is_table_label(text: str, start: int, end: int) -> bool:
    """The span opens a line that is a label and a row of figures (``Avg shrs 4,841 3,990``)."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    return start == line_start and TABLE_ROW_LABEL.fullmatch(text, line_start,
                                                            len(text) if line_end < 0 else line_end) is not None


def is_named_as_place(text: str, start: int) -> bool:
    """The span follows ``town of``, ``province of`` and the like."""
    return PLACE_BEFORE.search(text, max(0, start - 20), start) is not None


def _name_before(text: str, end: int) -> Iterator[tuple[int, int]]:
    """The name that ends just before ``end``, when it may be a person's."""
    start = max(0, end - NAME_WINDOW)
    match = NAME_BEFORE.search(text, start, end)
    if match and all(any(c.islower() for c in word) for word in match.group("name").split()
                     if not word.endswith(".")) and _may_be_person(match.group("name")):
        yield match.start("name"), match.end("name")


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


def is_organisation_name(name: str) -> bool:
    return bool(ORGANISATION_WORDS.intersection(canonical_key(name).split()))


def is_field_label(text: str, start: int, end: int) -> bool:
    """A single word opening a line and followed by a colon (``Attendance: 200``, ``Scorers:``) names a field."""
    return (" " not in text[start:end] and text[end:end + 1] == ":"
            and (start == 0 or text[start - 1] == "\n"))


def is_place_name(name: str) -> bool:
    """A name that is a country, a US state, a city of 100,000 people or a shire."""
    return is_major_place(name) or canonical_key(name).endswith(PLACE_SUFFIXES)
