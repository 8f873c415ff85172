"""The dedup evaluation on a sample of the shared dev set: near-duplicate and story quality floors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SEEDS
from tools.evaluate.dedup import evaluate_dedup, format_report

EVAL_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "eval"
GOLD = EVAL_DIR.parent / "acceptance" / "seeds_gold.json"
SAMPLE = 60
"""Originals taken from the dev set: with seven edits each and every pair of originals, about 450 labelled
copies and 1,770 different pairs, in well under a minute."""


@pytest.fixture(scope="module")
def metrics() -> dict[str, float]:
    if not EVAL_DIR.is_dir():
        pytest.skip(f"{EVAL_DIR} is absent: the shared dev set lives beside the repo only on dev/CI machines")
    return evaluate_dedup(EVAL_DIR, SEEDS, GOLD if GOLD.is_file() else None, limit=SAMPLE, timing_sizes=(2_000,))


def test_near_duplicates_are_found_and_not_confused(metrics):
    assert metrics["neardup_positives"] >= 7 * SAMPLE
    assert metrics["neardup_precision"] >= 0.99
    assert metrics["neardup_recall"] >= 0.98


def test_seed_stories_score_against_the_gold(metrics):
    if "story_pairs" not in metrics:
        pytest.skip(f"{GOLD} is absent")
    assert metrics["story_pairs"] == 3
    assert metrics["story_precision"] == metrics["story_recall"] == 1.0


def test_report_names_every_figure(metrics):
    report = format_report(metrics)
    assert "precision" in report and "recall cut_70" in report
    assert "lookup against 2000 stored articles" in report
