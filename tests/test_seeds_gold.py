"""The seeds against ../shared/acceptance/seeds_gold.json (read in place, never copied)."""

from __future__ import annotations

import pytest

from pipeline.settings import load_settings
from pipeline.stages.run import run_pipeline
from pipeline.store import query
from tests.conftest import SEEDS, SHARED
from tools.gold import load_gold, score

GOLD = SHARED / "acceptance" / "seeds_gold.json"
FILES = sorted(p.name for p in SEEDS.glob("*.txt"))


@pytest.fixture(scope="module")
def gold():
    if not GOLD.is_file():
        pytest.skip(f"{GOLD} is absent: the acceptance gold lives beside the repo only on dev/CI machines")
    return load_gold(GOLD)


@pytest.fixture(scope="module")
def seeds_db(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seeds")
    settings = load_settings().under(tmp)
    run_pipeline([str(SEEDS)], settings, "first")
    return settings


@pytest.fixture(scope="module")
def checks(gold, seeds_db):
    found = score(seeds_db.store, gold)
    passed = sum(c.passed for c in found)
    print(f"\nseeds gold: {passed}/{len(found)} checks pass")
    return found


def failures(checks, file):
    return [f"{c.kind} {c.expected!r}: got {c.got[:120]!r}" for c in checks if c.file == file and not c.passed]


@pytest.mark.parametrize("file", FILES)
def test_article_matches_gold(checks, file):
    assert any(c.file == file for c in checks)
    assert failures(checks, file) == []


def test_corpus_matches_gold(checks):
    assert failures(checks, "corpus") == []


def test_every_gold_article_is_a_seed(gold):
    assert sorted(item["file"] for item in gold["articles"]) == FILES


def test_second_replay_adds_nothing(seeds_db):
    tables = ("articles", "entities", "entity_mentions", "duplicates", "rejects")
    before = [query(seeds_db.store, f"SELECT count(*) FROM {t}")[1] for t in tables]
    summary = run_pipeline([str(SEEDS)], seeds_db, "second")
    assert [query(seeds_db.store, f"SELECT count(*) FROM {t}")[1] for t in tables] == before
    assert (summary.n_inputs, summary.n_duplicate, summary.n_loaded) == (5, 5, 0)
