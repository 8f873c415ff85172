import duckdb
import pyarrow as pa
import pytest

from pipeline.store import connect, execute, migrate, migrations, named_query, query

CONTRACT = {"articles", "entities", "entity_mentions", "duplicates", "ingest_log", "ingest_runs", "rejects",
            "quality_results"}


def test_migrations_create_the_documented_tables(fresh_db):
    _, rows = query(fresh_db, "SELECT table_name FROM information_schema.tables")
    assert {r[0] for r in rows} >= CONTRACT


def test_migrating_twice_applies_nothing_the_second_time(db_path):
    with connect(db_path) as con:
        assert migrate(con) == [v for v, _ in migrations()]
        assert migrate(con) == []


def test_articles_columns_match_the_contract(fresh_db):
    columns, _ = query(fresh_db, "SELECT * FROM articles LIMIT 0")
    assert columns[:5] == ["article_id", "doc_key", "url", "canonical_url", "source_uri"]
    assert {"published_rule", "language_prob", "content_hash", "story_id", "run_id"} <= set(columns)


def test_named_queries_run_on_an_empty_database(fresh_db):
    for name in ("top_people_by_day", "co_mentions", "articles_per_site_language", "top_entities", "ledger_by_run",
                 "places_by_country"):
        columns, rows = query(fresh_db, named_query(name))
        assert columns and rows == []


def test_a_table_read_inside_a_transaction_is_freed_when_its_statement_ends(db_path):
    """The load reads a score of Arrow tables per chunk inside one transaction: each must be freed after its
    statement, not kept to the commit as a registered view is (which held every chunk's rows to the end)."""
    with connect(db_path) as con:
        migrate(con)
        con.execute("BEGIN")
        before = pa.total_allocated_bytes()
        incoming = pa.table({"article_id": pa.array([f"{n:016x}" for n in range(200_000)], pa.string())})
        assert pa.total_allocated_bytes() - before > 3_000_000
        rows = execute(con, "SELECT count(*) FROM incoming WHERE article_id NOT IN (SELECT article_id FROM articles)",
                       tables={"incoming": incoming}).fetchall()
        assert rows == [(200_000,)]
        del incoming
        assert pa.total_allocated_bytes() - before < 100_000
        with pytest.raises(duckdb.CatalogException):
            con.execute("SELECT count(*) FROM incoming")
        con.execute("ROLLBACK")
