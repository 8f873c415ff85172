"""The aggregates the named queries read (issue #13): kept by the loader, equal to a recount from the rows, and the
queries give what their old SQL over entity_mentions gave."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import duckdb
import pytest

from pipeline import store as store_module
from pipeline.aggregates import AGGREGATE_TABLES, add_articles, rebuild_aggregates
from pipeline.importer import import_store
from pipeline.settings import load_settings
from pipeline.stages.run import run_pipeline
from pipeline.store import commit, connect, migrate, named_query
from tests.conftest import SEEDS
from tests.test_import import build_legacy_store
from tools.bench import build_corpus

OLD_VIEWS = """
WITH entity_daily AS (
    SELECT e.entity_id, e.name, e.label, e.country_code, a.published_at AS day,
           count(*) AS mentions, count(DISTINCT m.article_id) AS articles
    FROM entity_mentions m
    JOIN entities e USING (entity_id)
    JOIN articles a USING (article_id)
    GROUP BY ALL
), entity_pairs AS (
    SELECT a.entity_id AS entity_a, b.entity_id AS entity_b, count(DISTINCT a.article_id) AS articles
    FROM (SELECT DISTINCT article_id, entity_id FROM entity_mentions) a
    JOIN (SELECT DISTINCT article_id, entity_id FROM entity_mentions) b
      ON a.article_id = b.article_id AND a.entity_id < b.entity_id
    GROUP BY ALL
)
"""
"""Migration 003's views, as CTEs the old queries read instead of today's views."""
OLD_QUERIES = {
    "top_people_by_day": """
        SELECT day, name, mentions, articles
        FROM entity_daily
        WHERE label = 'PERSON'
        QUALIFY row_number() OVER (PARTITION BY day ORDER BY mentions DESC, name) <= 5
        ORDER BY day NULLS LAST, mentions DESC, name""",
    "co_mentions": """
        SELECT ea.name AS person_a, eb.name AS person_b, p.articles
        FROM entity_pairs p
        JOIN entities ea ON ea.entity_id = p.entity_a
        JOIN entities eb ON eb.entity_id = p.entity_b
        WHERE ea.label = 'PERSON' AND eb.label = 'PERSON'
        ORDER BY p.articles DESC, person_a, person_b
        LIMIT 10""",
    "top_entities": """
        SELECT e.name, e.label, count(*) AS mentions, count(DISTINCT m.article_id) AS articles
        FROM entity_mentions m
        JOIN entities e USING (entity_id)
        GROUP BY ALL
        ORDER BY mentions DESC, e.name
        LIMIT 10""",
    "places_by_country": """
        SELECT e.country_code, count(*) AS mentions, count(DISTINCT m.article_id) AS articles,
               string_agg(DISTINCT e.name, ', ' ORDER BY e.name) AS names
        FROM entity_mentions m
        JOIN entities e USING (entity_id)
        WHERE e.label IN ('GPE', 'LOC', 'NORP')
        GROUP BY ALL
        ORDER BY mentions DESC, e.country_code NULLS LAST""",
    "entity_daily": "SELECT * FROM entity_daily ORDER BY ALL",
    "entity_pairs": "SELECT * FROM entity_pairs ORDER BY ALL",
}
"""The named queries before the aggregates (the views too, read whole), each SQL over the rows themselves."""
KEYS = {"entity_day_counts": "entity_id, day", "entity_counts": "entity_id", "entity_pair_counts": "entity_a, entity_b",
        "country_counts": "country_code"}


def answer(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[tuple[str, str]], list[tuple]]:
    """Column names and types, and rows."""
    cursor = con.execute(sql)
    return [(d[0], str(d[1])) for d in cursor.description], cursor.fetchall()


def assert_queries_match_the_old_sql(where: Path) -> None:
    with connect(where, read_only=True) as con:
        for name, old in OLD_QUERIES.items():
            new = f"SELECT * FROM {name} ORDER BY ALL" if name.startswith("entity_") else named_query(name)
            assert answer(con, new) == answer(con, OLD_VIEWS + old), name


def aggregates(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    return {table: con.execute(f"SELECT * FROM {table} ORDER BY {KEYS[table]}").fetchall() for table in KEYS}


def assert_aggregates_are_a_recount(where: Path) -> dict[str, list[tuple]]:
    """The aggregates as stored equal what `rebuild_aggregates` computes from the rows (rolled back)."""
    with connect(where) as con:
        kept = aggregates(con)
        con.execute("BEGIN")
        rebuild_aggregates(con)
        assert aggregates(con) == kept
        con.execute("ROLLBACK")
    return kept


# Synthetic articles, loaded in several transactions the way the loader does: rows, then `add_articles`.

def _entities(rng: random.Random) -> list[tuple]:
    """(entity_id, name, label, country_code); two organisations share a name (ids apart: an import could do that),
    and e011, e012 and e013 are places whose code is set later. Other names are unique: the old queries order by
    name, so two entities of one name tying on their counts would come in either order."""
    labels = ["PERSON", "PERSON", "ORG", "GPE", "LOC", "NORP", "PERSON", "ORG"]
    rows = []
    for n in range(40):
        label = labels[n % len(labels)]
        code = rng.choice(["FR", "DE", "US", None]) if label in ("GPE", "LOC", "NORP") else None
        rows.append((f"e{n:03d}", f"Name {n}", label, code))
    rows[2] = ("e002", "Acme", "ORG", None)
    rows[7] = ("e007", "Acme", "ORG", None)
    rows[11] = ("e011", "Gaul", "GPE", None)
    rows[12] = ("e012", "Name 12", "LOC", None)
    rows[13] = ("e013", "Europe", "NORP", None)
    return rows


def _articles(rng: random.Random, first: int, last: int) -> tuple[list[tuple], list[tuple]]:
    articles, mentions = [], []
    for n in range(first, last):
        article_id = f"a{n:04d}"
        day = None if rng.random() < 0.15 else dt.date(2024, 5, 1) + dt.timedelta(days=rng.randrange(12))
        articles.append((article_id, f"doc-{n}", f"file:///in/{n}.txt", "body", 4, f"hash-{n}",
                         dt.datetime(2024, 6, 1), "synthetic", day))
        offset = 0
        for _ in range(rng.randrange(11)):
            entity = f"e{int(40 * rng.random() ** 2):03d}"
            for _ in range(rng.randint(1, 3)):
                mentions.append((article_id, entity, "x", "PERSON", offset, offset + 1))
                offset += 2
    return articles, mentions


def _load(con: duckdb.DuckDBPyConnection, articles: list[tuple], mentions: list[tuple]) -> None:
    con.executemany("INSERT INTO articles (article_id, doc_key, source_uri, body, body_chars, content_hash, "
                    "ingested_at, run_id, published_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", articles)
    if mentions:
        con.executemany("INSERT INTO entity_mentions (article_id, entity_id, surface, label, start_char, end_char) "
                        "VALUES (?, ?, ?, ?, ?, ?)", mentions)


def build_synthetic(where: Path, seed: int = 5, aggregate: bool = True) -> None:
    """A few hundred articles in four loads; between them places get a country code, once in a load that also
    brings the place new mentions (as the loader sets a code on an entity created before codes existed)."""
    rng = random.Random(seed)
    with connect(where) as con:
        migrate(con)
        con.execute("BEGIN")
        con.executemany("INSERT INTO entities (entity_id, name, label, name_key, country_code) VALUES (?, ?, ?, ?, ?)",
                        [(e, name, label, name.lower(), code) for e, name, label, code in _entities(rng)])
        commit(con, "entities")
        for number, (first, last) in enumerate([(0, 60), (60, 150), (150, 220), (220, 300)]):
            con.execute("BEGIN")
            articles, mentions = _articles(rng, first, last)
            _load(con, articles, mentions)
            if number == 2:
                con.execute("UPDATE entities SET country_code = 'FR' WHERE entity_id IN ('e011', 'e013')")
            if aggregate:
                add_articles(con, [a[0] for a in articles])
            commit(con, f"load {number}")
            if number == 1:
                con.execute("UPDATE entities SET country_code = 'DE' WHERE entity_id = 'e012'")


def test_synthetic_loads_keep_the_aggregates_equal_to_a_recount(db_path):
    build_synthetic(db_path)
    kept = assert_aggregates_are_a_recount(db_path)
    assert all(kept.values())
    with connect(db_path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM entity_counts WHERE counted_country IS DISTINCT FROM "
                           "(SELECT country_code FROM entities e WHERE e.entity_id = entity_counts.entity_id)"
                           ).fetchone() == (0,)
    assert_queries_match_the_old_sql(db_path)


def test_the_shared_name_is_one_top_entity_counting_its_articles_once(db_path):
    build_synthetic(db_path)
    with connect(db_path, read_only=True) as con:
        top = {(name, label): row for name, label, *row in con.execute(named_query("top_entities")).fetchall()}
        shared = con.execute("SELECT count(DISTINCT article_id) FROM entity_mentions "
                             "WHERE entity_id IN ('e002', 'e007')").fetchone()
        both = con.execute("SELECT sum(articles) FROM entity_counts WHERE entity_id IN ('e002', 'e007')").fetchone()
    assert shared is not None and both is not None
    assert top[("Acme", "ORG")][1] == shared[0] < both[0]


def test_migration_backfills_a_store_with_articles(db_path, monkeypatch):
    every = store_module.migrations
    monkeypatch.setattr(store_module, "migrations", lambda: [m for m in every() if m[0] < 4])
    build_synthetic(db_path, aggregate=False)
    with connect(db_path, read_only=True) as con:
        assert "entity_counts" not in {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    monkeypatch.setattr(store_module, "migrations", every)
    with connect(db_path) as con:
        assert migrate(con) == [version for version, _ in every() if version >= 4]
        assert all(aggregates(con).values())
    assert_aggregates_are_a_recount(db_path)
    assert_queries_match_the_old_sql(db_path)


def test_every_aggregate_and_its_columns_are_commented(fresh_db):
    with connect(fresh_db, read_only=True) as con:
        missing = con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = 'news' AND table_name IN "
            f"({', '.join(repr(t) for t in AGGREGATE_TABLES)}) AND comment IS NULL").fetchall()
        tables = con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'news' AND comment IS NULL "
                             f"AND table_name IN ({', '.join(repr(t) for t in AGGREGATE_TABLES)})").fetchall()
        views = con.execute("SELECT view_name, comment FROM duckdb_views() WHERE database_name = 'news' "
                            "AND view_name IN ('entity_daily', 'entity_pairs')").fetchall()
    assert (missing, tables) == ([], [])
    assert len(views) == 2 and all(comment for _, comment in views)


def test_import_rebuilds_the_aggregates(tmp_path, db_path):
    import_store(build_legacy_store(tmp_path / "old"), db_path)
    kept = assert_aggregates_are_a_recount(db_path)
    assert kept["entity_counts"] == [("ent-acme", 1, 1, None), ("ent-oslo", 2, 2, "NO")]
    assert kept["country_counts"] == [("NO", 2, 2)]
    assert_queries_match_the_old_sql(db_path)


# The real loader, on the seeds and a few hundred generated articles.

@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """The seeds and 240 generated articles in two runs; then the second run re-run and the first replayed."""
    root = tmp_path_factory.mktemp("aggregates")
    first, second = root / "first", root / "second"
    first.mkdir()
    second.mkdir()
    corpus = root / "corpus"
    corpus.mkdir()
    build_corpus(corpus, 240, sorted(SEEDS.glob("*.txt")))
    for n, path in enumerate(sorted(corpus.iterdir())):
        path.rename((first if n % 2 else second) / path.name)
    for seed in SEEDS.glob("*.txt"):
        (first / seed.name).write_bytes(seed.read_bytes())
    settings = load_settings().under(root / "lake")
    run_pipeline([str(first)], settings, "first")
    run_pipeline([str(second)], settings, "second")
    with connect(settings.store, read_only=True) as con:
        before = aggregates(con)
    run_pipeline([str(second)], settings, "second")
    run_pipeline([str(first)], settings, "replay")
    return settings.store, before


def test_loads_keep_the_aggregates_equal_to_a_recount(loaded):
    where, _ = loaded
    kept = assert_aggregates_are_a_recount(where)
    assert all(kept.values())


def test_a_rerun_and_a_replay_add_nothing(loaded):
    where, before = loaded
    with connect(where, read_only=True) as con:
        assert aggregates(con) == before


def test_named_queries_give_what_the_old_sql_gave(loaded):
    where, _ = loaded
    assert_queries_match_the_old_sql(where)
    with connect(where, read_only=True) as con:
        for name in ("co_mentions", "top_entities", "places_by_country", "top_people_by_day"):
            assert con.execute(named_query(name)).fetchall(), name


def test_seeds_alone_give_what_the_old_sql_gave(tmp_path):
    settings = load_settings().under(tmp_path)
    run_pipeline([str(SEEDS)], settings, "seeds")
    assert_aggregates_are_a_recount(settings.store)
    assert_queries_match_the_old_sql(settings.store)
