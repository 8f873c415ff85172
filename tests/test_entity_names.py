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
