"""End to end through the engine (the same stage functions the DAG calls) on a real DuckDB file."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

from pipeline.stages.run import run_pipeline
from pipeline.store import query
from tests.conftest import SEEDS

TABLES = ("articles", "entities", "entity_mentions", "duplicates", "rejects", "date_candidates")


def counts(db_path) -> dict[str, int]:
    return {t: query(db_path, f"SELECT count(*) FROM {t}")[1][0][0] for t in TABLES}


def ledger(db_path, run_id) -> dict[str, str]:
    _, rows = query(db_path, "SELECT source_uri, state FROM ingest_log WHERE run_id = ?", [run_id])
    return {uri.rsplit("/", 1)[-1]: state for uri, state in rows}


def test_seeds_load_five_articles_with_a_balanced_ledger(settings):
    summary = run_pipeline([str(SEEDS)], settings, "r1")
    assert (summary.n_inputs, summary.n_loaded, summary.n_duplicate, summary.n_rejected, summary.n_failed) == (
        5, 5, 0, 0, 0)
    assert set(ledger(settings.store, "r1").values()) == {"loaded"}
    assert not (settings.staging_dir / "r1").exists()
    _, rows = query(settings.store, "SELECT count(*) FROM entity_mentions")
    assert rows[0][0] > 20


def test_second_replay_adds_nothing_and_accounts_every_input(settings):
    run_pipeline([str(SEEDS)], settings, "r1")
    before = counts(settings.store)
    summary = run_pipeline([str(SEEDS)], settings, "r2")
    assert counts(settings.store) == before
    assert (summary.n_inputs, summary.n_duplicate) == (5, 5)
    _, rows = query(settings.store, "SELECT DISTINCT reason FROM ingest_log WHERE run_id = 'r2'")
    assert rows == [("seen_before",)]


def test_rerunning_the_same_run_changes_nothing(settings):
    run_pipeline([str(SEEDS)], settings, "r1")
    before = counts(settings.store), ledger(settings.store, "r1")
    run_pipeline([str(SEEDS)], settings, "r1")
    assert (counts(settings.store), ledger(settings.store, "r1")) == before


def test_copy_under_another_name_is_a_content_duplicate(settings, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    seed = sorted(SEEDS.glob("*.txt"))[0]
    (folder / "a.txt").write_bytes(seed.read_bytes())
    (folder / "b.txt").write_bytes(seed.read_bytes() + b"\n\n")
    summary = run_pipeline([str(folder)], settings, "r1")
    assert (summary.n_loaded, summary.n_duplicate) == (1, 1)
    _, rows = query(settings.store, "SELECT rule FROM duplicates")
    assert rows == [("content_hash",)]


def test_a_seed_copy_with_new_boilerplate_is_a_near_duplicate(settings, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for seed in SEEDS.glob("*.txt"):
        (folder / seed.name).write_bytes(seed.read_bytes())
    seed_name = sorted(SEEDS.glob("*.txt"))[2].name
    original = (SEEDS / seed_name).read_text()
    head, _, rest = original.partition("\n\n")
    (folder / "mirror-site-copy.txt").write_text(
        f"{head}\n\nHome | World | Business | Sport\nSign in to read more\n\n{rest}\n\n"
        "Most read\nThe ten best beaches of the year\nCopyright Mirror Site. All rights reserved.\n")
    summary = run_pipeline([str(folder)], settings, "r1")
    assert (summary.n_loaded, summary.n_duplicate) == (5, 1)
    _, rows = query(settings.store, "SELECT d.doc_key, a.doc_key FROM duplicates d "
                                      "JOIN articles a ON a.article_id = d.duplicate_of")
    assert len(rows) == 1
    assert {key.split("#")[0] for key in rows[0]} == {"file:mirror-site-copy.txt", f"file:{seed_name}"}


@pytest.fixture
def bad_inputs(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    good = sorted(SEEDS.glob("*.txt"))[1].read_bytes()
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.txt").write_bytes(b"  \n\n \t")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (folder / "invalid_utf8.txt").write_bytes(good.replace(b"Maduro", b"Mad\xff\xfeuro"))
    (folder / "huge.txt").write_bytes(b"word " * 3_000_000)
    (folder / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (folder / "menu.html").write_text("<html><body><ul><li>Home</li><li>News</li></ul></body></html>")
    lines = [
        json.dumps({"url": "https://example.org/a", "title": "T", "text": good.decode()}),
        "{broken json",
        json.dumps({"url": "https://example.org/b", "title": "no body"}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"url": "https://EXAMPLE.org/a?utm_source=x", "title": "T again", "text": good.decode()[:5000]}),
    ]
    (folder / "records.jsonl").write_text("\n".join(lines))
    return folder


def test_bad_inputs_never_crash_and_every_input_ends_in_one_state(settings, bad_inputs):
    summary = run_pipeline([str(bad_inputs)], settings, "bad")
    assert summary.n_inputs == 12
    assert summary.n_loaded + summary.n_duplicate + summary.n_rejected + summary.n_failed == 12
    assert summary.n_failed == 0
    _, rows = query(settings.store, "SELECT source_uri, state, reason FROM ingest_log WHERE run_id = 'bad'")
    states = {uri.rsplit("/", 1)[-1]: (state, reason) for uri, state, reason in rows}
    assert states["empty.txt"] == ("rejected", "empty input")
    assert states["blank.txt"] == ("rejected", "empty input")
    assert states["binary.txt"] == ("rejected", "binary content")
    assert states["huge.txt"][0] == "rejected" and states["huge.txt"][1].startswith("too large")
    assert states["picture.png"] == ("rejected", "unsupported file type '.png'")
    assert states["menu.html"][0] == "rejected" and states["menu.html"][1].startswith("no article body")
    assert states["invalid_utf8.txt"][0] == "loaded"
    # L1 carries the same seed as invalid_utf8.txt (raw, boilerplate included): the dated copy is kept.
    assert states["records.jsonl#L1"] == ("duplicate", "near_duplicate")
    assert states["records.jsonl#L2"][0] == "rejected" and "invalid JSON" in states["records.jsonl#L2"][1]
    assert states["records.jsonl#L3"] == ("rejected", "JSON line has neither 'text' nor 'html'")
    assert states["records.jsonl#L4"] == ("rejected", "JSON line is not an object")
    # L5: L1's page again, with another (cut) body, so another input; a cut copy of the kept seed.
    assert states["records.jsonl#L5"] == ("duplicate", "near_duplicate")


def test_rejects_keep_the_raw_bytes(settings, bad_inputs):
    run_pipeline([str(bad_inputs)], settings, "bad")
    _, rows = query(settings.store, "SELECT source_uri, raw, raw_file FROM rejects")
    raw = {uri.rsplit("/", 1)[-1]: (value, file) for uri, value, file in rows}
    assert raw["picture.png"] == (b"\x89PNG\r\n\x1a\n", None)
    assert raw["records.jsonl#L2"] == (b"{broken json", None)
    inline, file = raw["huge.txt"]
    assert inline is None and file.startswith("rejects/"), "over 1 MiB, the bytes live in a file beside the store"
    kept = (settings.store.home / file).read_bytes()
    assert len(kept) == settings.max_input_bytes and hashlib.sha256(kept).hexdigest() in file


def test_replaying_bad_inputs_again_adds_no_reject(settings, bad_inputs):
    run_pipeline([str(bad_inputs)], settings, "bad1")
    before = counts(settings.store)
    summary = run_pipeline([str(bad_inputs)], settings, "bad2")
    assert counts(settings.store) == before
    assert summary.n_inputs == 12 and summary.n_loaded == 0


def test_mention_offsets_point_into_the_body(settings):
    run_pipeline([str(SEEDS)], settings, "r1")
    _, rows = query(settings.store, "SELECT count(*) FILTER (substr(a.body, m.start_char + 1, "
                                      "m.end_char - m.start_char) <> m.surface), count(*) "
                                      "FROM entity_mentions m JOIN articles a USING (article_id)")
    mismatched, total = rows[0]
    assert total > 0 and mismatched == 0


def test_rerunning_a_run_with_repeated_inputs_keeps_its_ledger(settings, bad_inputs):
    run_pipeline([str(bad_inputs)], settings, "bad")
    before = counts(settings.store), ledger(settings.store, "bad")
    run_pipeline([str(bad_inputs)], settings, "bad")
    assert (counts(settings.store), ledger(settings.store, "bad")) == before


def entity_rows(db_path) -> dict[str, tuple]:
    _, rows = query(db_path, "SELECT name, label, country_code, first_seen, last_seen FROM entities")
    return {name: tuple(rest) for name, *rest in rows}


def test_seed_entities_get_country_codes_and_first_last_seen(settings):
    run_pipeline([str(SEEDS)], settings, "r1")
    entities = entity_rows(settings.store)
    codes = {name: entities[name][1] for name in
             ("Venezuela", "Venezuelan", "Caracas", "Russia", "Russian", "Moscow", "United States", "Washington")}
    assert codes == {"Venezuela": "VE", "Venezuelan": "VE", "Caracas": "VE", "Russia": "RU", "Russian": "RU",
                     "Moscow": "RU", "United States": "US", "Washington": "US"}
    assert "US" not in entities and entities["Vladimir Putin"][1] is None
    _, ((first, last),) = query(settings.store, "SELECT min(published_at), max(published_at) FROM articles")
    assert first == dt.date(2018, 12, 4)
    assert entities["Vladimir Putin"][2:] == (first, last)
    assert entities["Hugo Ch\u00e1vez"][2:] == (None, None)


@pytest.fixture
def later_putin_article(tmp_path):
    """A newer article naming Putin by surname only, and a Russian city the seeds do not name."""
    body = ("Russian President Putin told reporters in Kazan on Thursday that talks with Venezuela would go on. "
            "Putin said the two countries had signed new energy agreements worth several billion dollars. "
            "Officials in Caracas welcomed the remarks, and Putin thanked the visiting delegation for its work.")
    folder = tmp_path / "later"
    folder.mkdir()
    record = {"url": "https://example.org/putin-kazan", "title": "Putin hosts talks in Kazan", "text": body,
              "published": "2024-03-01"}
    (folder / "later.jsonl").write_text(json.dumps(record))
    return folder


def test_later_run_attaches_to_known_entities_and_widens_last_seen(settings, later_putin_article):
    run_pipeline([str(SEEDS)], settings, "r1")
    before = entity_rows(settings.store)
    summary = run_pipeline([str(later_putin_article)], settings, "r2")
    assert summary.n_loaded == 1
    after = entity_rows(settings.store)
    assert "Putin" not in after
    assert after["Vladimir Putin"] == (*before["Vladimir Putin"][:3], dt.date(2024, 3, 1))
    assert after["Kazan"] == ("GPE", "RU", dt.date(2024, 3, 1), dt.date(2024, 3, 1))
    assert after["Hugo Ch\u00e1vez"] == before["Hugo Ch\u00e1vez"]
    _, rows = query(settings.store, "SELECT count(*) FROM entity_mentions m JOIN entities USING (entity_id) "
                                      "JOIN articles a USING (article_id) WHERE name = 'Vladimir Putin' "
                                      "AND a.run_id = 'r2'")
    assert rows[0][0] == 3

    tables = counts(settings.store)
    run_pipeline([str(later_putin_article)], settings, "r3")
    run_pipeline([str(later_putin_article)], settings, "r2")
    assert (counts(settings.store), entity_rows(settings.store)) == (tables, after)
