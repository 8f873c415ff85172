"""Extraction quality gate: the dev evaluation set (../shared/eval, read in place) against pinned floors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.evaluate.extraction import bag_of_words, default_gold, evaluate_extraction, load_floors

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"
TRUST_PREFIXES = ("ner.", "language.")
"""Floors of `test_eval_trust.py`: other evaluations."""
FLOORS = {name: floor for name, floor in load_floors().items() if not name.startswith(TRUST_PREFIXES)}


@pytest.fixture(scope="module")
def metrics() -> dict[str, float]:
    if not (EVAL / "pages.jsonl").is_file():
        pytest.skip(f"{EVAL} is absent: the dev evaluation set lives beside the repo only on dev/CI machines")
    return evaluate_extraction(EVAL)


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_metric_stays_at_or_above_its_floor(metrics, name):
    if name.startswith("seeds.") and not default_gold(EVAL).is_file():
        pytest.skip(f"{default_gold(EVAL)} is absent, so the seeds gold is not scored")
    assert metrics[name] >= FLOORS[name], f"{name} fell to {metrics[name]:.4f} (floor {FLOORS[name]})"


def test_floors_only_name_metrics_the_evaluation_produces(metrics):
    if not default_gold(EVAL).is_file():
        pytest.skip(f"{default_gold(EVAL)} is absent, so the seeds metrics are not produced")
    assert sorted(set(FLOORS) - set(metrics)) == []
    assert not [name for name in FLOORS if name.endswith("docs_per_second")], "speed is measured, not gated"


def test_bag_of_words_scores_matches_disjoint_and_folded_text():
    assert bag_of_words("The mayor spoke.", "The mayor spoke.").f1 == 1.0
    assert bag_of_words("Cats and dogs", "Fish only").f1 == 0.0
    folded = bag_of_words("“CAFÉ au lait” — déjà vu!", "cafe AU LAIT deja vu")
    assert (folded.precision, folded.recall, folded.f1) == (1.0, 1.0, 1.0)


def test_bag_of_words_counts_repeated_words():
    score = bag_of_words("news news news", "news")
    assert (score.precision, score.recall) == (pytest.approx(1 / 3), 1.0)
