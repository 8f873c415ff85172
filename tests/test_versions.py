"""Versions of a page: the same URL with the same body is a duplicate, with a changed body a linked new article."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.quality import validate_run
from pipeline.stages.plan import plan_run, seen_keys
from pipeline.stages.run import run_pipeline
from pipeline.store import connect, named_query, query
from tests.conftest import SEEDS

PAGE = "https://www.example-news.com/world/2019/09/24/maduro-heads-to-russia"
SENTENCE = "Maduro said on his Twitter account"
CORRECTION = "The Venezuelan president wrote on his social media account"


@pytest.fixture
def seed_body() -> str:
    body = sorted(SEEDS.glob("*.txt"))[0].read_text()
    assert SENTENCE in body
    return body


def write_jsonl(folder: Path, name: str, *records: dict) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def record(body: str, url: str = PAGE, title: str = "Maduro heads to Russia") -> dict:
    return {"url": url, "title": title, "text": body, "published": "2019-09-24"}


def ledger(db_path, run_id: str) -> list[tuple]:
    return query(db_path, "SELECT state, reason FROM ingest_log WHERE run_id = ? ORDER BY source_uri", [run_id])[1]


def versions(db_path) -> list[tuple]:
    return query(db_path, "SELECT version, version_of IS NULL, story_id FROM articles ORDER BY version")[1]


def test_same_bytes_again_are_settled_before_extraction(settings, tmp_path, seed_body):
    path = write_jsonl(tmp_path / "in", "feed.jsonl", record(seed_body))
    run_pipeline([str(path)], settings, "r1")
    plan = plan_run([str(path)], settings, "r2")
    assert plan.batches == ()
    assert run_pipeline([str(path)], settings, "r2").n_duplicate == 1
    assert ledger(settings.store, "r2") == [("duplicate", "seen_before")]


def test_changed_body_under_a_known_url_is_a_linked_new_version(settings, tmp_path, seed_body):
    run_pipeline([str(write_jsonl(tmp_path / "a", "feed.jsonl", record(seed_body)))], settings, "r1")
    corrected = seed_body.replace(SENTENCE, CORRECTION)
    amp_copy = PAGE.replace("www.", "amp.") + "?outputType=amp"
    summary = run_pipeline([str(write_jsonl(tmp_path / "b", "feed.jsonl", record(corrected, url=amp_copy)))],
                           settings, "r2")

    assert (summary.n_loaded, summary.n_duplicate) == (1, 0)
    assert ledger(settings.store, "r2") == [("loaded", "new_version")]
    [(first_id, first_story), (second_id, second_version_of, second_story)] = [
        *query(settings.store, "SELECT article_id, story_id FROM articles WHERE version = 1")[1],
        *query(settings.store, "SELECT article_id, version_of, story_id FROM articles WHERE version = 2")[1]]
    assert second_version_of == first_id
    assert second_story == first_story
    assert query(settings.store, "SELECT count(*) FROM duplicates")[1] == [(0,)]
    assert query(settings.store, "SELECT article_id, version FROM latest_articles")[1] == [(second_id, 2)]
    _, rows = query(settings.store, named_query("article_versions"))
    assert [(row[0], row[1], row[2]) for row in rows] == [(first_id, 1, first_id), (first_id, 2, second_id)]
    assert validate_run(settings.store, "r2", settings.gx_dir).ok


def test_unchanged_body_in_new_bytes_is_a_duplicate_of_its_version(settings, tmp_path, seed_body):
    run_pipeline([str(write_jsonl(tmp_path / "a", "feed.jsonl", record(seed_body)))], settings, "r1")
    corrected = seed_body.replace(SENTENCE, CORRECTION)
    run_pipeline([str(write_jsonl(tmp_path / "b", "feed.jsonl", record(corrected)))], settings, "r2")
    recrawled = [record(seed_body, title="Maduro heads to Russia | Example News"),
                 record(corrected + "\n", url=PAGE + "#comments")]
    summary = run_pipeline([str(write_jsonl(tmp_path / "c", "feed.jsonl", *recrawled))], settings, "r3")

    assert (summary.n_loaded, summary.n_duplicate) == (0, 2)
    assert ledger(settings.store, "r3") == [("duplicate", "canonical_url")] * 2
    _, rows = query(settings.store, "SELECT a.version FROM duplicates d JOIN articles a "
                                      "ON a.article_id = d.duplicate_of ORDER BY a.version")
    assert rows == [(1,), (2,)]
    assert [v[0] for v in versions(settings.store)] == [1, 2]


def test_two_versions_in_one_run_are_both_kept_and_rerunning_keeps_the_ledger(settings, tmp_path, seed_body):
    corrected = seed_body.replace(SENTENCE, CORRECTION)
    path = write_jsonl(tmp_path / "in", "feed.jsonl", record(seed_body), record(corrected), record(seed_body))
    run_pipeline([str(path)], settings, "r1")
    first = ledger(settings.store, "r1")
    assert sorted(first, key=str) == [("duplicate", "same_input_in_run"), ("loaded", "new_version"),
                                      ("loaded", None)]
    assert [(v, original) for v, original, _ in versions(settings.store)] == [(1, True), (2, False)]

    run_pipeline([str(path)], settings, "r1")
    assert ledger(settings.store, "r1") == first
    assert len(versions(settings.store)) == 2


def test_a_fetcher_skips_a_page_loaded_in_any_version(settings, tmp_path, seed_body):
    run_pipeline([str(write_jsonl(tmp_path / "in", "feed.jsonl", record(seed_body)))], settings, "r1")
    with connect(settings.store, read_only=True) as con:
        [(stored_key,)] = con.execute("SELECT doc_key FROM articles").fetchall()
    assert stored_key.startswith("url:https://example-news.com/world/") and stored_key.count("#") == 1
    page = "url:https://example-news.com/world/2019/09/24/maduro-heads-to-russia"
    other = "url:https://example-news.com/world/other-story"
    assert seen_keys(settings.store, {page, other}) == {page}


def test_a_truncated_recapture_is_recorded_but_never_becomes_the_latest_version(settings, tmp_path, seed_body):
    run_pipeline([str(write_jsonl(tmp_path / "a", "feed.jsonl", record(seed_body)))], settings, "r1")
    truncated = seed_body[: len(seed_body) * 3 // 10]
    summary = run_pipeline([str(write_jsonl(tmp_path / "b", "feed.jsonl", record(truncated)))], settings, "r2")

    assert (summary.n_loaded, summary.n_duplicate) == (0, 1)
    assert ledger(settings.store, "r2") == [("duplicate", "degraded_version")]
    [(first_id,)] = query(settings.store, "SELECT article_id FROM latest_articles")[1]
    [(duplicate_of, share)] = query(settings.store, "SELECT duplicate_of, similarity FROM duplicates")[1]
    assert duplicate_of == first_id and share < 0.5


def test_a_page_whose_new_body_is_another_pages_body_gets_no_new_version(settings, tmp_path, seed_body):
    other_body = sorted(SEEDS.glob("*.txt"))[1].read_text()
    other = record(other_body, url="https://www.example-news.com/world/other-story", title="Other")
    run_pipeline([str(write_jsonl(tmp_path / "a", "feed.jsonl", record(seed_body), other))], settings, "r1")
    summary = run_pipeline([str(write_jsonl(tmp_path / "b", "feed.jsonl", record(other_body)))], settings, "r2")

    assert (summary.n_loaded, summary.n_duplicate) == (0, 1)
    assert ledger(settings.store, "r2") == [("duplicate", "content_hash")]
    assert query(settings.store, "SELECT count(*), count(DISTINCT content_hash) FROM articles")[1] == [(2, 2)]
