"""Trust gate: people in the CoNLL-2003 dev stories and languages on 75 languages (../shared/eval, read in place)
against pinned floors, and no person from NER on a dev page whose language has no model."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.evaluate.extraction import load_floors
from tools.evaluate.language import evaluate_language
from tools.evaluate.ner import evaluate_ner

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"
FLOORS = load_floors()


def _needs(path: Path) -> None:
    if not path.is_file():
        pytest.skip(f"{path} is absent: the dev evaluation set lives beside the repo only on dev/CI machines")


@pytest.fixture(scope="module")
def ner_metrics() -> dict[str, float]:
    _needs(EVAL / "ner" / "persons.jsonl")
    return evaluate_ner(EVAL).metrics()


@pytest.fixture(scope="module")
def language_metrics() -> dict[str, float]:
    _needs(EVAL / "langid_sentences.jsonl")
    return evaluate_language(EVAL)


@pytest.mark.parametrize("name", sorted(n for n in FLOORS if n.startswith("ner.")))
def test_ner_metric_stays_at_or_above_its_floor(ner_metrics, name):
    assert ner_metrics[name] >= FLOORS[name], f"{name} fell to {ner_metrics[name]:.4f} (floor {FLOORS[name]})"


def test_the_pipeline_finds_people_better_than_the_bare_model(ner_metrics):
    assert ner_metrics["ner.pipeline.person_f1"] > ner_metrics["ner.bare_model.person_f1"]


@pytest.mark.parametrize("name", sorted(n for n in FLOORS if n.startswith("language.")))
def test_language_metric_stays_at_or_above_its_floor(language_metrics, name):
    assert language_metrics[name] >= FLOORS[name], (
        f"{name} fell to {language_metrics[name]:.4f} (floor {FLOORS[name]})")


def test_no_person_comes_from_ner_on_a_dev_page_without_a_model(language_metrics):
    assert language_metrics["pages.persons_without_model"] == 0
    assert language_metrics["pages.name_linked_mentions"] > 0
