"""Name cleaning, surname merging, country names in other languages and linking known names without a model."""

import pytest

from pipeline.enrich.entities import load_model, tag_entities
from pipeline.enrich.linking import resolve_corpus
from pipeline.enrich.name_links import known_names, name_mentions
from pipeline.enrich.names import curate, trim_name
from pipeline.enrich.places import country_code
from pipeline.records import Mention
from pipeline.settings import load_settings


@pytest.fixture(scope="module")
def nlp():
    return load_model(load_settings().spacy_model)


def article(*names: str, label: str = "PERSON") -> tuple[Mention, ...]:
    return tuple(Mention(name, label, 0, len(name), name) for name in names)


@pytest.mark.parametrize(
    ("span", "label", "name"),
    [
        ("Defender Hassan Abbas", "PERSON", "Hassan Abbas"),
        ("Centre Jason Little", "PERSON", "Jason Little"),
        ("Greg Blewett 57", "PERSON", "Greg Blewett"),
        ("P. Simmons 4-38", "PERSON", "P. Simmons"),
        ("\u201cChief Executive John Smith\u201d", "PERSON", "John Smith"),
        ("Aaron Judge", "PERSON", "Aaron Judge"),
        ("Coach", "PERSON", "Coach"),
        ("Somerset 83", "ORG", "Somerset"),
        ("Formula 1", "ORG", "Formula 1"),
    ],
)
def test_roles_and_scores_are_not_part_of_a_name(span, label, name):
    start, end = trim_name(span, 0, len(span), label)
    assert span[start:end] == name


def test_tagged_spans_of_a_results_list_lose_roles_and_scores(nlp):
    body = ("Australia 289 and 205 (Greg Blewett 57, Mark Taylor 48). Defender Hassan Abbas scored twice "
            "for the visitors.")
    (mentions,) = tag_entities(nlp, [(None, body)])
    persons = {m.canonical for m in mentions if m.label == "PERSON"}
    assert {"Greg Blewett", "Hassan Abbas"} <= persons
    assert not any(any(c.isdigit() for c in m.surface) or m.surface.startswith("Defender") for m in mentions)


def test_a_county_a_company_and_a_field_label_are_not_people(nlp):
    body = ("Surrey 429-7 against Kent on the last day.\nAttendance: 12,000\n"
            "Kloof Gold Mining Co said output rose, and Manchester United won.")
    (mentions,) = tag_entities(nlp, [(None, body)])
    persons = {m.canonical for m in mentions if m.label == "PERSON"}
    assert not persons & {"Surrey", "Kent", "Attendance", "Kloof Gold Mining Co", "Manchester United"}


def persons_in(nlp, body: str, title: str | None = None) -> set[str]:
    (mentions,) = tag_entities(nlp, [(title, body)])
    return {m.canonical for m in mentions if m.label == "PERSON"}


def test_teams_of_results_standings_and_fixture_lines_are_organisations(nlp):
    body = ("Results of Scottish league matches on Saturday:\n\nOrrell 13 Bath 56\n\n"
            "Pohang 3 Ulsan 2 (halftime 1-0)\n\n"
            "Borac 1 Mladost (L) 2\n\nGreenock Morton 3 2 0 1 5 2 6\n\nSt Johnstone 2 1 1 0 3 0 4\n\n"
            "Postponed: Birmingham v Barnsley, East Fife v\n\nClydebank.")
    (mentions,) = tag_entities(nlp, [(None, body)])
    assert not {m.canonical for m in mentions if m.label == "PERSON"}
    organisations = {m.canonical for m in mentions if m.label == "ORG"}
    assert {"Pohang", "Ulsan", "Birmingham", "Barnsley"} <= organisations


def test_golf_rounds_and_results_by_country_still_name_people(nlp):
    body = ("Leading scores:\n\nPhillip Price 72 76 74 69 291\n\n1. Michelle Freeman (Jamaica) 12.71\n\n"
            "Pete Sampras (U.S.) beat Todd Martin (U.S.) 6-4 6-2")
    assert {"Phillip Price", "Michelle Freeman", "Pete Sampras", "Todd Martin"} <= persons_in(nlp, body)


def test_a_table_label_and_a_town_are_not_people(nlp):
    body = ("Six people were injured in the blast in the town of Staouelli, the report said.\n\n"
            "Avg shrs 4,841 3,990\n\n-- Reuters Ottawa Bureau (613) 235-6745")
    assert not persons_in(nlp, body)


def test_a_name_inside_an_organisations_name_is_the_organisation_unless_it_ends_a_persons(nlp):
    company = ("Jones Medical Industries Inc said Friday it completed the acquisition of Daniels Pharmaceuticals Inc "
               "for about 2,960,000 shares of Jones common stock.\n\nJones stock closed down 1/8 at 40 Friday.")
    person = "Paula Jones said Jones Medical Industries Inc was not involved. Jones said so on Friday."
    by_company, by_person = tag_entities(nlp, [(None, company), (None, person)])
    assert {(m.surface, m.label) for m in by_company if m.surface == "Jones"} == {("Jones", "ORG")}
    assert {(m.canonical, m.label) for m in by_person if m.surface == "Jones"} == {("Paula Jones", "PERSON")}


def test_a_name_cut_by_a_particle_or_in_two_is_joined(nlp):
    body = ("Zairean Prime Minister Kengo wa Dondo said at the end of a visit to Rwanda that talks went well.\n\n"
            "Speaker Habib Boulares arrived to represent President Zine al-Abidine Ben Ali at the celebrations.")
    assert {"Kengo wa Dondo", "Zine al-Abidine Ben Ali"} <= persons_in(nlp, body)


def test_a_surname_joins_the_full_name_that_dominates_it():
    articles = [article("Donald Trump")] * 9 + [article("Melania Trump"), article("Trump"), article("Trump")]
    resolved = resolve_corpus(articles, known={})
    assert resolved["Trump"] == resolved["Donald Trump"] != resolved["Melania Trump"]


def test_a_surname_of_two_people_seen_alike_stays_apart():
    articles = [article("Anna Smith")] * 3 + [article("John Smith")] * 2 + [article("Smith")]
    resolved = resolve_corpus(articles, known={})
    assert len({resolved[name] for name in ("Anna Smith", "John Smith", "Smith")}) == 3


def test_stored_articles_count_toward_dominance():
    known = {"donald trump": ("Donald Trump", "PERSON"), "melania trump": ("Melania Trump", "PERSON")}
    resolved = resolve_corpus([article("Trump")], known, {"donald trump": 112, "melania trump": 3})
    assert resolved["Trump"] == ("donald trump", "Donald Trump", "PERSON")
    apart = resolve_corpus([article("Trump")], known, {"donald trump": 10, "melania trump": 8})
    assert apart["Trump"][0] == "trump"


@pytest.mark.parametrize("name", ["Deutschland", "Allemagne", "Alemania", "Германия"])
def test_a_country_named_in_another_language_is_that_country(name):
    assert curate(name, "GPE") == ("Germany", "GPE")
    assert country_code(name, "GPE") == "DE"


def test_a_person_is_never_renamed_as_a_country():
    assert curate("Deutschland", "PERSON") == ("Deutschland", "PERSON")


GERMAN = ("Der russische Präsident Wladimir Putin hat am Montag in Berlin mit Olaf Scholz gesprochen. "
          "Aber Deutschland und die EU bleiben skeptisch.\nDer Kreml schwieg. Smith kam nicht.")


def test_known_names_link_in_an_article_without_a_model():
    names = known_names([("Vladimir Putin", "PERSON", ["Putin"]), ("Berlin", "GPE", None),
                         ("Anna Smith", "PERSON", ["Smith"]), ("John Smith", "PERSON", ["Smith"])],
                        found=[("Olaf Scholz", "PERSON")])
    linked = {(m.surface, m.canonical, m.label) for m in name_mentions(GERMAN, names)}
    assert linked == {
        ("Wladimir Putin", "Vladimir Putin", "PERSON"),
        ("Berlin", "Berlin", "GPE"),
        ("Olaf Scholz", "Olaf Scholz", "PERSON"),
        ("Deutschland", "Germany", "GPE"),
        ("EU", "European Union", "ORG"),
    }
    for m in name_mentions(GERMAN, names):
        assert GERMAN[m.start_char:m.end_char] == m.surface


def test_a_name_does_not_run_across_a_line_break():
    names = known_names([("Skeptisch Der", "PERSON", None)])
    assert name_mentions("bleiben Skeptisch\nDer Kreml", names) == []
