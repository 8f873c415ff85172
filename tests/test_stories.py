"""Stories: the seeds follow the gold, stored stories are joined, and candidate pruning misses no accepted pair."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import replace

import pytest

from pipeline import stories
from pipeline.settings import load_settings
from pipeline.stages.run import run_pipeline
from pipeline.store import Store, connect
from pipeline.stories import (
    Doc,
    Evidence,
    _idf,
    _Pool,
    _tfidf,
    _Weights,
    assign_stories,
    same_story,
)
from tests.conftest import SEEDS
from tests.support.stores import copy_store


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """The seeds loaded once (articles and entities, no stories yet); each test works on a copy."""
    root = tmp_path_factory.mktemp("stories")
    settings = replace(load_settings(), store=Store.at(root / "news.ducklake"), staging_dir=root / "staging",
                       gx_dir=root / "gx")
    run_pipeline([str(SEEDS)], settings, "stories_seeds")
    return settings.store


@pytest.fixture
def con(ingested, tmp_path):
    copy = tmp_path / "news.ducklake"
    copy_store(ingested, copy)
    with connect(copy) as connection:
        yield connection


def seed_ids(con) -> dict[str, str]:
    """Seed number ("000") → article_id."""
    rows = con.execute("SELECT source_uri, article_id FROM articles").fetchall()
    return {uri.rsplit("/", 1)[-1][:3]: article_id for uri, article_id in rows}


def test_seed_stories_follow_the_gold(con):
    ids = seed_ids(con)
    stories = assign_stories(con, list(ids.values()))
    story = {seed: stories[article_id] for seed, article_id in ids.items()}
    assert story["001"] == story["003"] == ids["003"]  # the earlier article names the story
    assert story["000"] != story["001"]
    assert story["002"] != story["004"]
    assert len(set(story.values())) == 4
    stored = dict(con.execute("SELECT article_id, story_id FROM articles").fetchall())
    assert stored == stories


def test_reassigning_changes_nothing(con):
    ids = list(seed_ids(con).values())
    first = assign_stories(con, ids)
    rows = con.execute("SELECT * FROM stories ORDER BY story_id").fetchall()
    assert assign_stories(con, ids) == first
    assert assign_stories(con, ids[:2]) == {a: first[a] for a in ids[:2]}
    assert con.execute("SELECT * FROM stories ORDER BY story_id").fetchall() == rows


def test_a_later_article_joins_a_stored_story(con):
    ids = seed_ids(con)
    assert assign_stories(con, [ids["003"], ids["000"]]) == {ids["003"]: ids["003"], ids["000"]: ids["000"]}
    assert assign_stories(con, [ids["001"]]) == {ids["001"]: ids["003"]}


def test_a_load_comparing_more_articles_than_the_terms_cache_holds_decides_alike(con, monkeypatch):
    """The terms cache only saves work: with room for one article, every load still reads each article's terms
    (a window larger than the cache once evicted terms the same call was about to use)."""
    ids = seed_ids(con)
    con.execute("UPDATE articles SET story_id = NULL")
    con.execute("DELETE FROM stories")
    monkeypatch.setattr(stories, "TERMS_CACHED", 1)
    monkeypatch.setattr(stories, "_terms_cache", {})
    assert assign_stories(con, [ids["003"], ids["000"]]) == {ids["003"]: ids["003"], ids["000"]: ids["000"]}
    assert assign_stories(con, [ids["001"], ids["002"]])[ids["001"]] == ids["003"]
    assert len(stories._terms_cache) == 1


def test_stories_rows_summarise_their_articles(con):
    ids = seed_ids(con)
    assign_stories(con, list(ids.values()))
    rows = {r[0]: r[1:] for r in con.execute(
        "SELECT story_id, first_seen, last_seen, size, representative_title, top_entities FROM stories").fetchall()}
    assert sum(r[2] for r in rows.values()) == 5
    first_seen, last_seen, size, title, top = rows[ids["003"]]
    assert (first_seen, last_seen, size) == (dt.date(2019, 9, 23), dt.date(2019, 9, 24), 2)
    assert title.startswith("Maduro Thanks Russia")
    assert "Nicolas Maduro" in top and len(top) <= 5
    assert rows[ids["004"]][:3] == (None, None, 1)


def synthetic_docs(n: int, seed: int = 5) -> list[Doc]:
    """Articles about a dozen events: each draws most title+lead words and entities from its event, the rest from
    words and names all events share; three in four are dated within a fortnight."""
    rng = random.Random(seed)
    common = [f"common{i}" for i in range(60)]
    docs = []
    for number in range(n):
        event = rng.randrange(12)
        own = [f"word{i}" for i in range(event * 10, event * 10 + 40)]  # neighbouring events share words
        terms = Counter(rng.choices(own, k=rng.randint(3, 30)) + rng.choices(common, k=rng.randint(5, 40)))
        names = rng.sample([f"name{i}" for i in range(event * 3, event * 3 + 6)], rng.randint(0, 4))
        names += rng.sample([f"shared{i}" for i in range(8)], rng.randint(0, 3))
        counts = {name: rng.randint(1, 5) for name in names}
        entities = {name: count / sum(counts.values()) for name, count in counts.items()}
        published = None if number % 4 == 0 else dt.date(2019, 9, 1) + dt.timedelta(days=rng.randint(0, 14))
        docs.append(Doc(f"a{number:04d}", published, terms, entities))
    return docs


@pytest.mark.parametrize("window_days", [3, 7])
def test_pruning_meets_every_pair_the_rule_accepts(monkeypatch, window_days):
    """The index is exact for any story window: every pair `same_story` accepts is met (the cap on comparisons
    lifted), while far fewer pairs than all are compared (neighbouring events share words and names)."""
    monkeypatch.setattr(stories, "MAX_COMPARED", len(docs := synthetic_docs(300)))
    idf = _idf(docs)
    vectors = {d.article_id: _tfidf(d.terms, idf) for d in docs}
    texts = _Weights(vectors)
    entities = _Weights({d.article_id: d.entities for d in docs})
    pool = _Pool(idf, docs, window_days)
    accepted = met = compared = 0
    for position, doc in enumerate(docs):
        earlier = {d.article_id for d in docs[:position]}
        meeting = set(pool.meeting(doc, vectors[doc.article_id], stored=earlier, decided=()))
        compared += len(meeting)
        earlier_ids = [other.article_id for other in docs[:position]]
        scores = zip(docs[:position], texts.cosines(doc.article_id, earlier_ids),
                     entities.overlaps(doc.article_id, earlier_ids), strict=True)
        for other, text, overlap in scores:
            evidence = Evidence(text, overlap)
            if same_story(doc, other, evidence, window_days):
                accepted += 1
                met += other.article_id in meeting
        pool.add(doc, vectors[doc.article_id])
    assert accepted > 300
    assert met == accepted
    assert compared < (0.6 if window_days == 3 else 0.9) * len(docs) * (len(docs) - 1) / 2
