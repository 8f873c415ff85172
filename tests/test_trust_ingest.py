"""Ingesting mixed real-world forms: briefs and results tables load, German pages get no English NER but their
known names link, a surname joins its full name across articles, and every reason names its rule."""

from __future__ import annotations

import pytest

from pipeline.extract.text import extract_text
from pipeline.stages.run import run_pipeline
from pipeline.store import query

BRIEF = """SOCCER - RESULT IN SPANISH FIRST DIVISION.

MADRID 1996-08-31

Result of game played in the

Spanish first division on Saturday:

Deportivo Coruna 1 Real Madrid 1
"""
RESULTS = """ATHLETICS - BERLIN GRAND PRIX RESULTS.

Larry Fine

BERLIN 1996-08-30

Leading results at the Berlin Grand Prix athletics meeting on Friday:

Women's 100 metres hurdles

1. Michelle Freeman (Jamaica) 12.71 seconds

2. Ludmila Engquist (Sweden) 12.74

3. Aliuska Lopez (Cuba) 12.92
"""
ENGLISH = """Putin meets Scholz in Berlin

Russian President Vladimir Putin met German Chancellor Olaf Scholz in Berlin on Monday to discuss gas supplies.
Vladimir Putin said Germany would get what it paid for, and Olaf Scholz said the talks had been useful.
The two leaders will meet again in Moscow next month, officials in Berlin said after the meeting.
"""
GERMAN = """Putin trifft Scholz in Berlin

Der russische Präsident Wladimir Putin hat am Montag in Berlin mit Bundeskanzler Olaf Scholz gesprochen. Aber
Deutschland und die EU bleiben skeptisch, sagte ein Sprecher der Regierung nach dem Treffen am Abend in Berlin.
Wenn die Lieferungen nicht kommen, werde man neue Wege suchen, hieß es. Der Kreml äußerte sich zunächst nicht.
"""
MENU = "\n".join(["Home", "Politik", "Sport", "Wirtschaft", "Newsletter", "Login", "Suche", "Menu", "Impressum",
                  "Datenschutz", "Kontakt", "Cookies akzeptieren", "Abonnieren", "Teilen", "Drucken"] * 3)


@pytest.fixture
def ingested(tmp_path, settings):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name, text in {"brief.txt": BRIEF, "results.txt": RESULTS, "english.txt": ENGLISH, "german.txt": GERMAN,
                       "menu.txt": MENU}.items():
        (inbox / name).write_text(text)
    run_pipeline([str(inbox)], settings, "run-trust")
    return settings.store


def _by_file(store, sql: str) -> dict[str, tuple]:
    _, rows = query(store, sql)
    return {row[0].rsplit("/", 1)[-1]: row[1:] for row in rows}


def test_a_brief_and_a_results_table_load_and_a_menu_page_is_rejected_as_navigation(ingested):
    ledger = _by_file(ingested, "SELECT source_uri, state, reason FROM ingest_log")
    assert {name: state for name, (state, _) in ledger.items()} == {
        "brief.txt": "loaded", "results.txt": "loaded", "english.txt": "loaded", "german.txt": "loaded",
        "menu.txt": "rejected"}
    assert ledger["menu.txt"][1] == "no article body: navigation only (menus, links and notices, no paragraph of text)"
    rules = _by_file(ingested, "SELECT source_uri, body_rule, byline FROM articles")
    assert rules["brief.txt"][0] == rules["results.txt"][0] == "whole text"
    assert rules["results.txt"][1] == "Larry Fine"


def test_the_people_of_a_results_table_are_found(ingested):
    _, rows = query(ingested, "SELECT DISTINCT e.name FROM entity_mentions m JOIN entities e USING (entity_id) "
                              "JOIN articles a USING (article_id) WHERE a.source_uri LIKE '%results.txt' "
                              "AND e.label = 'PERSON'")
    assert {"Michelle Freeman", "Ludmila Engquist", "Aliuska Lopez"} <= {name for (name,) in rows}


def test_a_german_page_gets_no_ner_but_its_known_names_link(ingested):
    statuses = _by_file(ingested, "SELECT source_uri, language, entity_status FROM articles")
    assert statuses["german.txt"] == ("de", "no NER model for de")
    assert statuses["english.txt"] == ("en", "ner")
    _, rows = query(ingested, "SELECT e.name, e.label, m.linked_by, m.surface FROM entity_mentions m "
                              "JOIN entities e USING (entity_id) JOIN articles a USING (article_id) "
                              "WHERE a.source_uri LIKE '%german.txt'")
    linked = {(name, label) for name, label, _, _ in rows}
    assert {("Vladimir Putin", "PERSON"), ("Olaf Scholz", "PERSON"), ("Germany", "GPE"), ("Berlin", "GPE"),
            ("European Union", "ORG")} <= linked
    assert {by for _, _, by, _ in rows} == {"name"}
    assert not {surface for *_, surface in rows} & {"Der", "Aber", "Wenn"}


def test_a_country_named_in_german_is_one_entity_with_the_english_name(ingested):
    _, rows = query(ingested, "SELECT e.entity_id, list_sort(list_distinct(list(m.surface))) FROM entity_mentions m "
                              "JOIN entities e USING (entity_id) WHERE e.name = 'Germany' GROUP BY ALL")
    assert len(rows) == 1 and {"Germany", "Deutschland"} <= set(rows[0][1])


def test_the_gate_passes_the_mixed_run(ingested, settings):
    from pipeline.quality import validate_run

    report = validate_run(ingested, "run-trust", settings.gx_dir)
    assert report.ok, report.critical_failures


def test_a_surname_joins_the_full_name_across_articles(tmp_path, settings):
    """The Trump/Donald Trump split: one article names only the surname, others the full name and a relative."""
    inbox = tmp_path / "surnames"
    inbox.mkdir()
    rallies = {
        "ohio": "Donald Trump spoke to farmers in Ohio about corn prices, drought relief and new export deals.",
        "texas": "In Texas, Donald Trump promised oil workers that pipelines would be approved within months.",
        "iowa": "Donald Trump told a crowd in Iowa that ethanol subsidies would stay until the next election.",
        "maine": "Fishermen in Maine heard Donald Trump pledge to fight lobster tariffs imposed by Canada.",
    }
    for state, text in rallies.items():
        (inbox / f"rally-{state}.txt").write_text(f"Rally in {state.title()}\n\n{text} Aides said the crowd was "
                                                  f"large.")
    (inbox / "melania.txt").write_text("Visit to a school\n\nMelania Trump visited a school in Virginia on Friday "
                                       "and spoke with teachers about online safety for children, her office said.")
    (inbox / "surname.txt").write_text("Tariffs\n\nPresident Trump said on Saturday that new tariffs on steel "
                                       "would take effect next week, and Mr. Trump added that allies would not be "
                                       "exempt from them.")
    run_pipeline([str(inbox)], settings, "run-surnames")
    _, rows = query(settings.store, "SELECT DISTINCT e.name FROM entity_mentions m JOIN entities e "
                                    "USING (entity_id) JOIN articles a USING (article_id) "
                                    "WHERE a.source_uri LIKE '%surname.txt' AND e.label = 'PERSON'")
    assert rows == [("Donald Trump",)]


def test_a_wire_byline_and_sign_off_are_the_byline_not_the_body():
    extraction = extract_text(RESULTS)
    assert extraction.byline == "Larry Fine" and "Larry Fine" not in extraction.body
    signed = extract_text("Gold prices\n\nNEW YORK 1996-08-30\n\nGold rose on Friday in quiet trade, dealers said, "
                          "after a week of losses on the New York market.\n\n-- Harry Milling, New York Energy Desk, "
                          "+1 212-859-1761")
    assert signed.byline == "Harry Milling"
