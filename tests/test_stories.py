"""Stories: the seeds follow the gold, stored stories are joined, and candidate pruning misses no accepted pair."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import replace

import pyarrow as pa
import pytest

from pipeline import stories
from pipeline.settings import load_settings
from pipeline.stages.run import run_pipeline
from pipeline.store import Store, connect, migrate
from pipeline.stories import (
    Doc,
    Evidence,
    _Pool,
    _prefix,
    assign_stories,
    same_story,
)
from tests.conftest import SEEDS
from tests.support.stores import copy_store


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """The seeds loaded once; each test works on a copy."""
    root = tmp_path_factory.mktemp("stories")
    settings = replace(load_settings(), store=Store.at(root / "news.ducklake"), staging_dir=root / "staging",
                       gx_dir=root / "gx")
    run_pipeline([str(SEEDS)], settings, "stories_seeds")
    return settings.store


@pytest.fixture
def con(ingested, tmp_path):
    """A copy of the seeds' store with their stories (and story terms) taken away, so each test assigns them."""
    copy = tmp_path / "news.ducklake"
    copy_store(ingested, copy)
    with connect(copy) as connection:
        connection.execute("UPDATE articles SET story_id = NULL")
        connection.execute("DELETE FROM stories")
        connection.execute("DELETE FROM story_terms")
        connection.execute("DELETE FROM story_postings")
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


def test_articles_stored_before_their_terms_get_them_when_they_meet_a_new_one(con):
    """A store from before `story_terms` has none: an assigned article gets its terms the first time it falls in a
    new article's scope, and the decision is the one made with terms stored at load."""
    ids = seed_ids(con)
    assign_stories(con, [ids["003"], ids["000"]])
    con.execute("DELETE FROM story_terms")
    con.execute("DELETE FROM story_postings")
    assert assign_stories(con, [ids["001"]]) == {ids["001"]: ids["003"]}
    with_terms = {row[0] for row in con.execute("SELECT DISTINCT article_id FROM story_terms").fetchall()}
    assert with_terms == {ids["003"], ids["001"]}  # 000 (undated) is in no dated article's window
    assert not con.execute("SELECT * FROM duckdb_tables() WHERE temporary").fetchall()


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


def synthetic_articles(n: int, seed: int = 5) -> list[tuple[str, dt.date | None, list[str], dict[str, int]]]:
    """Articles about a dozen events: (id, date, title+lead words, entity mention counts). Each draws most words
    and names from its event, the rest from words and names all events share; three in four are dated within a
    fortnight."""
    rng = random.Random(seed)
    common = [f"common{i}" for i in range(60)]
    articles = []
    for number in range(n):
        event = rng.randrange(12)
        own = [f"word{i}" for i in range(event * 10, event * 10 + 40)]  # neighbouring events share words
        words = rng.choices(own, k=rng.randint(3, 30)) + rng.choices(common, k=rng.randint(5, 40))
        names = rng.sample([f"name{i}" for i in range(event * 3, event * 3 + 6)], rng.randint(0, 4))
        names += rng.sample([f"shared{i}" for i in range(8)], rng.randint(0, 3))
        published = None if number % 4 == 0 else dt.date(2019, 9, 1) + dt.timedelta(days=rng.randint(0, 14))
        articles.append((f"a{number:04d}", published, words, {name: rng.randint(1, 5) for name in names}))
    return articles


def synthetic_docs(n: int) -> list[Doc]:
    """The synthetic articles as `Doc`s, TF-IDF over all of them, with their prefixes."""
    import math

    articles = synthetic_articles(n)
    df = Counter(word for _, _, words, _ in articles for word in set(words))
    entity_df = Counter(name for *_, counts in articles for name in counts)
    docs = []
    for article_id, published, words, counts in articles:
        weights = {t: (1 + math.log(c)) * (math.log((1 + n) / (1 + df[t])) + 1) for t, c in Counter(words).items()}
        norm = math.sqrt(sum(w * w for w in weights.values()))
        vector = {t: w / norm for t, w in weights.items()}
        entities = {name: c / sum(counts.values()) for name, c in counts.items()}
        prefix_terms = _prefix({t: w * w for t, w in vector.items()}, df, stories._TEXT_PREFIX**2)
        prefix_entities = _prefix(entities, entity_df, stories.ENTITY_MIN * sum(entities.values()))
        docs.append(Doc(article_id, published, vector, entities, None, tuple(prefix_terms),
                        tuple(prefix_entities) if published else ()))
    return docs


def cosine(a: Doc, b: Doc) -> float:
    return sum(w * b.terms.get(t, 0.0) for t, w in a.terms.items())


def overlap(a: Doc, b: Doc) -> float:
    keys = a.entities.keys() | b.entities.keys()
    largest = sum(max(a.entities.get(k, 0), b.entities.get(k, 0)) for k in keys)
    return sum(min(a.entities.get(k, 0), b.entities.get(k, 0)) for k in keys) / largest if largest else 0.0


@pytest.mark.parametrize("window_days", [3, 7])
def test_pruning_meets_every_pair_the_rule_accepts(window_days):
    """The pool is exact for any story window: every pair `same_story` accepts is met, while far fewer pairs than
    all are (neighbouring events share words and names)."""
    docs = synthetic_docs(300)
    pool = _Pool(window_days)
    accepted = met = compared = 0
    for position, doc in enumerate(docs):
        meeting = pool.meeting(doc)
        compared += len(meeting)
        for other in docs[:position]:
            if same_story(doc.published, other.published, Evidence(cosine(doc, other), overlap(doc, other)),
                          window_days):
                accepted += 1
                met += other.article_id in meeting
        pool.add(doc)
    assert accepted > 300
    assert met == accepted
    assert compared < (0.6 if window_days == 3 else 0.9) * len(docs) * (len(docs) - 1) / 2


def insert_articles(con, articles: list[tuple[str, dt.date | None, list[str], dict[str, int]]]) -> list[str]:
    """Store articles given as (id, date, words of the body, entity mention counts): what a load leaves before
    stories are assigned."""
    rows = pa.Table.from_pylist([{"article_id": a, "published_at": published, "body": " ".join(words)}
                                 for a, published, words, _ in articles],
                                schema=pa.schema([("article_id", pa.string()), ("published_at", pa.date32()),
                                                  ("body", pa.string())]))
    mentions = pa.Table.from_pylist([{"article_id": a, "entity_id": name, "start_char": i}
                                     for a, _, _, counts in articles for name, c in counts.items() for i in range(c)])
    con.register("synthetic_rows", rows)
    con.execute(
        "INSERT INTO articles (article_id, doc_key, source_uri, published_at, body, body_chars, content_hash, "
        "ingested_at, run_id) SELECT article_id, article_id, 'synthetic', published_at, body, 0, article_id, "
        "TIMESTAMP '2019-10-01', 'synthetic' FROM synthetic_rows")
    if mentions.num_rows:
        con.register("synthetic_mentions", mentions)
        con.execute(
            "INSERT INTO entity_mentions (article_id, entity_id, surface, label, start_char, end_char) "
            "SELECT article_id, entity_id, entity_id, 'PERSON', start_char, start_char + 1 FROM synthetic_mentions")
    return [a for a, *_ in articles]


@pytest.fixture
def empty_store(tmp_path):
    with connect(tmp_path / "news.ducklake") as connection:
        migrate(connection)
        yield connection


def test_a_stored_article_is_met_up_to_the_window_edge_and_by_entities_when_undated(empty_store):
    """One event told again and again: four days before the stored telling it starts a story of its own, three
    days after it joins; undated, it joins the story it shares two entities with, not one it shares one with."""
    con = empty_store
    words = "minister resigns after protest over pension reform in capital".split()
    names = {"Anna Berg": 2, "Unity Party": 1}
    start = dt.date(2019, 9, 1)
    stored = insert_articles(con, [("s0", start, words, names)])
    assert assign_stories(con, stored) == {"s0": "s0"}
    later = insert_articles(con, [("before", start - dt.timedelta(days=4), words, names),
                                  ("after", start + dt.timedelta(days=3), words, names)])
    assert {a: assign_stories(con, [a])[a] for a in later} == {"before": "before", "after": "s0"}
    undated = insert_articles(con, [("u", None, words, names), ("u1", None, words, {"Anna Berg": 2})])
    assert assign_stories(con, undated) == {"u": "s0", "u1": "u1"}  # one shared entity links nothing


def test_the_store_and_the_pool_meet_what_comparing_every_pair_would(empty_store, monkeypatch):
    """Stored candidates found by their prefixes in SQL and the call's own found by the pool decide as comparing
    every pair in scope does (prefixes of every key, the cap lifted): half the articles are loaded first, the rest
    meet them stored."""
    con = empty_store
    ids = insert_articles(con, synthetic_articles(300))
    monkeypatch.setattr(stories, "MAX_COMPARED", len(ids))
    con.execute("BEGIN")
    pruned = {**assign_stories(con, ids[:150]), **assign_stories(con, ids[150:])}
    con.execute("ROLLBACK")
    monkeypatch.setattr(stories, "_ROUNDING", 10.0)  # every limit below zero: prefixes of every key
    unpruned = {**assign_stories(con, ids[:150]), **assign_stories(con, ids[150:])}
    assert pruned == unpruned
    assert len(set(pruned.values())) < 0.8 * len(ids)  # stories formed, across both calls
    assert sum(1 for article, story in pruned.items() if story < "a0150" <= article) > 10


def test_an_article_is_stored_with_its_unit_vector_and_its_prefix_keys_under_its_story(empty_store):
    """What a later load looks stored articles up by: each assigned article's term weights form a unit vector, and
    its postings are keys of its own (entities only when dated) filed under its story and date."""
    con = empty_store
    articles = synthetic_articles(300)
    ids = insert_articles(con, articles)
    assign_stories(con, ids[:150])
    norms = dict(con.execute("SELECT article_id, sum(weight * weight) FROM story_terms GROUP BY ALL").fetchall())
    assert len(norms) == 150 and all(abs(norm - 1) < 1e-9 for norm in norms.values())
    story = dict(con.execute("SELECT article_id, story_id FROM articles WHERE story_id IS NOT NULL").fetchall())
    postings = con.execute("SELECT article_id, key, is_term, published_at, story_id FROM story_postings").fetchall()
    own = {a: (published, set(words), set(names)) for a, published, words, names in articles}
    for article_id, key, is_term, published, story_id in postings:
        day, words, names = own[article_id]
        assert (published, story_id) == (day, story[article_id])
        assert key in words if is_term else (key in names and day is not None)
    assert {a for a, *_ in postings} == set(story)
    assert {is_term for _, _, is_term, *_ in postings} == {True, False}
    term_postings = sum(1 for _, _, is_term, *_ in postings if is_term)
    assert term_postings < 0.9 * con.execute("SELECT count(*) FROM story_terms").fetchone()[0]  # prefixes, not all


def test_a_key_common_on_one_day_is_met_through_one_holder_per_story_first(empty_store, monkeypatch):
    """Past `MAX_POSTINGS_A_DAY` holders of a prefix key on one day a new article meets a sample, and the sample
    takes one article of each story before a second of any: a big story cannot crowd a small one out."""
    con = empty_store
    monkeypatch.setattr(stories, "MAX_POSTINGS_A_DAY", 2)
    day = dt.date(2019, 9, 1)
    words = "zeppelin lands on the village green".split()
    stored = insert_articles(con, [(f"{name}", day, words, {}) for name in ("a1", "a2", "a3", "b1")])
    story = {article_id: "b1" if article_id == "b1" else "a1" for article_id in stored}
    scope = stories._open_scope(con, stored, stories.WINDOW_DAYS)
    stories._store_descriptions(con, stories._describe(con, scope, stored), story)
    con.execute("UPDATE articles SET story_id = CASE WHEN article_id LIKE 'a%' THEN 'a1' ELSE 'b1' END "
                "WHERE article_id = ANY(?)", [stored])
    insert_articles(con, [("new", day, words, {})])
    scope = stories._open_scope(con, ["new"], stories.WINDOW_DAYS)
    met = stories._stored_candidates(con, scope, stories._describe(con, scope, ["new"]), stories.WINDOW_DAYS)
    assert sorted(met.articles) == ["a1", "b1"]
    assert assign_stories(con, ["new"]) == {"new": "a1"}  # the sample still finds the best story
