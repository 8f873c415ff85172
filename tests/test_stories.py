"""Stories on the seeds: the gold's same-story pair is one story, its different-story pairs are not."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import replace

import pytest

from pipeline.settings import load_settings
from pipeline.stages import run_pipeline
from pipeline.store import connect
from pipeline.stories import assign_stories
from tests.conftest import SEEDS


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """The seeds loaded once (articles and entities, no stories yet); each test works on a copy."""
    root = tmp_path_factory.mktemp("stories")
    settings = replace(load_settings(), db_path=root / "news.duckdb", staging_dir=root / "staging",
                       gx_dir=root / "gx")
    run_pipeline([str(SEEDS)], settings, "stories_seeds")
    return settings.db_path


@pytest.fixture
def con(ingested, tmp_path):
    copy = tmp_path / "news.duckdb"
    shutil.copy(ingested, copy)
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
