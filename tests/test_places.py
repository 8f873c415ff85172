import csv

import pycountry
import pytest

from pipeline.enrich.places import DEMONYMS_FILE, country_code


@pytest.mark.parametrize(
    ("name", "label", "code"),
    [
        ("Venezuelan", "NORP", "VE"),
        ("Venezuelans", "NORP", "VE"),
        ("Russian", "NORP", "RU"),
        ("Caracas", "GPE", "VE"),
        ("Moscow", "GPE", "RU"),
        ("Russia", "GPE", "RU"),
        ("US", "GPE", "US"),
        ("U.S.", "GPE", "US"),
        ("United States", "GPE", "US"),
        ("Washington", "GPE", "US"),
        ("UK", "GPE", "GB"),
        ("the Netherlands", "GPE", "NL"),
        ("Turkey", "GPE", "TR"),
        ("New York", "GPE", "US"),
    ],
)
def test_places_get_their_country(name, label, code):
    assert country_code(name, label) == code


@pytest.mark.parametrize("city", ["Hyderabad", "Valencia"])
def test_city_name_shared_without_a_dominant_country_gets_no_code(city):
    """Hyderabad: India 7.0M, Pakistan 1.9M; Valencia: Venezuela 1.6M, Spain 0.8M. Neither is 5 times the other."""
    assert country_code(city, "GPE") is None


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("Qwertyland", "GPE"),
        ("", "GPE"),
        ("Europe", "LOC"),
        ("Asia", "GPE"),
        ("White House", "GPE"),
        ("Latin American", "NORP"),
        ("Republicans", "NORP"),
        ("Moscow", "PERSON"),
        ("Vladimir Putin", "PERSON"),
        ("Kremlin", "ORG"),
    ],
)
def test_junk_regions_groups_and_non_places_get_no_code(name, label):
    assert country_code(name, label) is None


def test_demonyms_are_unique_and_map_to_iso_codes():
    with DEMONYMS_FILE.open(encoding="utf-8") as lines:
        rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    assert len(rows) > 100
    assert len({row["demonym"].lower() for row in rows}) == len(rows)
    assert all(pycountry.countries.get(alpha_2=row["country_code"]) for row in rows)
