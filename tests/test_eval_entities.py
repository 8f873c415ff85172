"""`python -m tools.evaluate entities` on the seeds against ../shared/acceptance/seeds_gold.json (read in place)."""

from __future__ import annotations

import pytest

from tools.evaluate.cli import main
from tools.evaluate.entities import DEFAULT_GOLD, evaluate_entities, format_report


@pytest.fixture(scope="module")
def report():
    if not DEFAULT_GOLD.is_file():
        pytest.skip(f"{DEFAULT_GOLD} is absent: the acceptance gold lives beside the repo only on dev/CI machines")
    return evaluate_entities(DEFAULT_GOLD, speed_words=2_000)


def test_every_gold_person_is_tagged_and_each_spelling_group_is_one_entity(report):
    assert [(a.file, a.recall) for a in report.articles] == [(a.file, 1.0) for a in report.articles]
    assert report.recall == 1.0
    assert report.groups and all(check.passed for check in report.groups)


def test_persons_not_are_not_tagged_and_article_counts_are_exact(report):
    assert report.precision == 1.0
    assert report.article_counts and all(check.passed for check in report.article_counts)


def test_speed_is_measured_side_by_side_and_reported(report):
    assert report.speed.words >= 2_000
    assert report.speed.tag_entities > 0 and report.speed.bare_pipe > 0
    text = format_report(report)
    assert "precision = gold persons tagged / (gold persons tagged + persons_not tagged)" in text
    assert "tag_entities" in text and "bare nlp.pipe" in text


def test_cli_says_when_the_gold_file_is_missing(tmp_path, capsys):
    missing = tmp_path / "seeds_gold.json"
    assert main(["entities", "--gold", str(missing)]) == 2
    assert f"no seeds gold file at {missing}" in capsys.readouterr().err
