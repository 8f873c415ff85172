"""The person scoring of `make eval-ner`: per document, a predicted person is right when one of its names is a
form of a gold cluster, a cluster is found when one predicted name is among its forms."""

from __future__ import annotations

import json

import pytest

from tools.evaluate.ner import load_clusters, score_document


def test_a_surname_form_finds_its_cluster_and_a_stranger_costs_precision():
    clusters = [{"nasser hussain", "hussain"}, {"mark butcher"}]
    score = score_document("doc.txt", [{"hussain"}, {"defender john smith"}], clusters)
    assert (score.precision, score.recall) == (0.5, 0.5)
    assert score.f1 == pytest.approx(0.5)
    assert (score.missed, score.wrong) == (("mark butcher",), ("defender john smith",))


def test_an_entity_with_several_names_counts_once():
    score = score_document("doc.txt", [{"donald trump", "trump"}], [{"donald trump", "trump"}])
    assert (score.precision, score.recall, score.f1) == (1.0, 1.0, 1.0)


def test_a_document_without_people_either_way_is_not_scored_and_one_without_predictions_scores_zero():
    assert score_document("doc.txt", [], []) is None
    assert score_document("doc.txt", [], [{"mark butcher"}]).f1 == 0.0


def test_the_gold_forms_are_folded(tmp_path):
    (tmp_path / "ner").mkdir()
    (tmp_path / "ner" / "persons.jsonl").write_text(json.dumps(
        {"file": "text/a.txt", "persons": [["Tim O’Gorman", "O'GORMAN"]]}) + "\n")
    assert load_clusters(tmp_path) == {"a.txt": [{"tim o'gorman", "o'gorman"}]}
