"""Near-duplicates: edited copies match, other articles do not, and the index lives in DuckDB."""

from __future__ import annotations

import duckdb

from pipeline.neardup import DEFAULT_THRESHOLD, NearDupIndex, lsh_layout
from pipeline.store import connect, migrate
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


def test_nothing_is_written_before_flush():
    con = duckdb.connect()
    migrate(con)
    index = NearDupIndex(con)
    index.add("a004", BODIES["004"])
    assert counts(con) == (0, 0)
    assert index.match(BODIES["004"]).similarity == 1.0
