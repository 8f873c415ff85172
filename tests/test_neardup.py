"""Near-duplicates: edited copies match, other articles do not, and the index lives in the store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipeline.neardup import DEFAULT_THRESHOLD, NearDupIndex, layout_for, lsh_layout, stored_layout
from pipeline.store import connect, query
from tests.conftest import SEEDS

BODIES = {path.name[:3]: path.read_text() for path in sorted(SEEDS.glob("*.txt"))}


def edited(body: str) -> str:
    """Another site's copy: its own chrome and headline around the text, one sentence reworded."""
    sentence = "Maduro said on his Twitter account"
    assert sentence in body
    return "\n".join([
        "Skip to main content", "World News Daily", "Maduro heads to Moscow for Putin talks",
        "By Staff Writer, World News Daily",
        body.replace(sentence, "The Venezuelan leader wrote on his social media account"),
        "Sign up for our newsletter", "© 2024 World News Daily. All rights reserved.",
    ])


def counts(con) -> tuple[int, int]:
    return (con.execute("SELECT count(*) FROM minhash_signatures").fetchall()[0][0],
            con.execute("SELECT count(*) FROM minhash_bands").fetchall()[0][0])


def test_edited_copy_matches_and_other_article_does_not(fresh_db):
    with connect(fresh_db) as con:
        index = NearDupIndex(con)
        index.add("a000", BODIES["000"])
        index.add("a002", BODIES["002"])
        match = index.match(edited(BODIES["000"]))
        assert match is not None and match.duplicate_of == "a000"
        assert DEFAULT_THRESHOLD <= match.similarity <= 1
        assert index.match(BODIES["001"]) is None


def test_match_finds_articles_stored_by_another_connection(fresh_db):
    with connect(fresh_db) as con:
        index = NearDupIndex(con)
        for key, body in BODIES.items():
            index.add(f"a{key}", body)
        assert index.flush() == len(BODIES)
    with connect(fresh_db, read_only=True) as con:
        match = NearDupIndex(con).match(edited(BODIES["000"]))
    assert match is not None and match.duplicate_of == "a000"


def test_flush_is_idempotent(fresh_db):
    with connect(fresh_db) as con:
        index = NearDupIndex(con)
        index.add("a003", BODIES["003"])
        index.add("a003", BODIES["003"])
        assert index.flush() == 1
        assert index.flush() == 0
        stored = counts(con)
        assert stored == (1, lsh_layout(0.6).bands)
        again = NearDupIndex(con)
        again.add("a003", BODIES["003"])
        assert again.flush() == 0
        assert counts(con) == stored


def test_nothing_is_written_before_flush(fresh_db):
    with connect(fresh_db) as con:
        index = NearDupIndex(con)
        index.add("a004", BODIES["004"])
        assert counts(con) == (0, 0)
        assert index.match(BODIES["004"]).similarity == 1.0


def wrapped(body: str, site: str) -> str:
    return "\n".join(["Skip to main content", f"{site} News", body, f"© 2024 {site}. All rights reserved."])


def cut(body: str) -> str:
    return body[: int(len(body) * 0.75)]


def verdicts(index: NearDupIndex, batch: list[tuple[str, str]]) -> list:
    """What the loader does: look each article up, and index it when it is no duplicate."""
    found = []
    for article_id, body in batch:
        match = index.match(body)
        found.append(match)
        if match is None:
            index.add(article_id, body)
    return found


def test_prefetch_gives_the_same_matches_as_one_lookup_per_article(fresh_db):
    """The loader's batch path: stored candidates read up front in two queries, then every match in memory,
    against stored articles and the batch's own earlier articles alike, with exactly the per-article verdicts."""
    with connect(fresh_db) as con:
        stored = NearDupIndex(con)
        for key in ("000", "001", "002"):
            stored.add(f"a{key}", BODIES[key])
        stored.flush()
        batch = [(f"b{n:02d}", body) for n, body in enumerate([
            wrapped(BODIES["000"], "Daily"), BODIES["003"], cut(BODIES["001"]), wrapped(BODIES["003"], "Courier"),
            BODIES["004"], "", "…", cut(wrapped(BODIES["004"], "Post")), BODIES["002"],
            wrapped(BODIES["003"], "Courier"), BODIES["001"]])]
        one_by_one = verdicts(NearDupIndex(con), batch)
        prefetching = NearDupIndex(con)
        assert prefetching.prefetch(body for _, body in batch) == 3
        prefetching.con = None  # type: ignore[assignment]  # the matches below must read nothing more
        assert verdicts(prefetching, batch) == one_by_one
    assert [match.duplicate_of if match else None for match in one_by_one] == [
        "a000", None, "a001", "b01", None, None, None, "b04", "a002", "b01", "a001"]


def test_flush_forgets_the_prefetch(fresh_db):
    """After a flush the batch's articles are stored, so a later match asks the store again and still finds them."""
    with connect(fresh_db) as con:
        index = NearDupIndex(con)
        index.prefetch([BODIES["000"], wrapped(BODIES["000"], "Daily")])
        assert index.match(BODIES["000"]) is None
        index.add("a000", BODIES["000"])
        assert index.flush() == 1
        match = index.match(wrapped(BODIES["000"], "Daily"))
    assert match is not None and match.duplicate_of == "a000"


def test_a_threshold_that_needs_other_band_keys_is_refused_until_reindexed(tmp_path):
    """Lowered below 0.6, the threshold needs another LSH layout: every stored article would silently stop
    matching, so runs are refused with a one-line message until `news reindex` re-bands the stored signatures."""
    db = tmp_path / "news.ducklake"
    seed = sorted(SEEDS.glob("*.txt"))[0]
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / seed.name).write_text(seed.read_text())
    (tmp_path / "later").mkdir()
    (tmp_path / "later" / "copy.txt").write_text(edited(seed.read_text()))
    env = {**os.environ, "NEWS_DATA_DIR": str(tmp_path), "NEWS_NEAR_DUPLICATE_THRESHOLD": "0.5"}
    news = [str(Path(sys.executable).with_name("news"))]
    first = subprocess.run([*news, "ingest", str(tmp_path / "inbox"), "--store", str(db), "--no-check"],
                           capture_output=True, text=True, env={**env, "NEWS_NEAR_DUPLICATE_THRESHOLD": "0.8"})
    assert first.returncode == 0, first.stderr

    refused = subprocess.run([*news, "ingest", str(tmp_path / "later"), "--store", str(db), "--no-check"],
                             capture_output=True, text=True, env=env)
    assert refused.returncode == 2 and "news reindex" in refused.stderr and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    rebanded = subprocess.run([*news, "reindex", "--store", str(db)], capture_output=True, text=True, env=env)
    assert rebanded.returncode == 0 and rebanded.stdout.startswith("news: 1 articles re-banded")
    with connect(db, read_only=True) as con:
        assert stored_layout(con) == layout_for(0.5) != layout_for(0.8)
    again = subprocess.run([*news, "ingest", str(tmp_path / "later"), "--store", str(db), "--no-check"],
                           capture_output=True, text=True, env=env)
    assert again.returncode == 0, again.stderr
    assert query(db, "SELECT state, reason FROM ingest_log WHERE source_uri LIKE '%copy.txt'")[1] == [
        ("duplicate", "near_duplicate")]
