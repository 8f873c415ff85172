"""`read_only_query`, the sandbox for SQL from a person: it reads the store and touches nothing else.

Each attack runs against a store made by ingesting the seeds and checks both that it is refused and that
nothing was written: no target file appeared and the store's bytes did not change.
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys

import duckdb
import pytest

from pipeline.settings import load_settings
from pipeline.stages.run import run_pipeline
from pipeline.store import (
    QUERIES_DIR,
    SANDBOX_CONFIG,
    QueryError,
    QueryRefused,
    Store,
    named_queries,
    named_query,
    query,
    read_only_query,
    sandbox,
)
from tests.conftest import REPO, SEEDS


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    settings = load_settings().under(tmp_path_factory.mktemp("sandbox"))
    run_pipeline([str(SEEDS)], settings, "seeds")
    return settings.store


def fingerprint(store: Store) -> str:
    """The bytes of the catalog and of every file in the data folder, with their names. Folders are left out:
    DuckLake makes a table's (empty) folder before it refuses a CREATE on a read-only store."""
    digest = hashlib.sha256(store.catalog_file.read_bytes())
    for path in sorted(store.home.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(store.home)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def unchanged(store):
    """Fails the test if the catalog or the data folder changed, or a file appeared beside them."""
    before, neighbours = fingerprint(store), sorted(store.catalog_file.parent.iterdir())
    yield store
    assert fingerprint(store) == before
    assert sorted(store.catalog_file.parent.iterdir()) == neighbours


def test_every_named_query_gives_the_same_answer_in_the_sandbox(store):
    assert named_queries() == sorted(path.stem for path in QUERIES_DIR.glob("*.sql")) != []
    for name in named_queries():
        columns, rows = read_only_query(store, named_query(name))
        assert columns and (columns, rows) == query(store, named_query(name)), name


def test_every_view_reads_in_the_sandbox(store):
    _, views = query(store, "SELECT view_name FROM duckdb_views() WHERE NOT internal")
    assert {"entity_daily", "entity_pairs"} <= {name for (name,) in views}
    for (name,) in views:
        assert read_only_query(store, f"SELECT count(*) FROM {name}") == query(store, f"SELECT count(*) FROM {name}")


@pytest.mark.parametrize("sql", [
    "SELECT count(*) FROM articles",
    "WITH n AS (SELECT count(*) AS c FROM articles) SELECT c FROM n",
    "FROM articles SELECT count(*)",
    "DESCRIBE articles",
    "SHOW TABLES",
    "SUMMARIZE SELECT body_chars FROM articles",
    "EXPLAIN SELECT * FROM articles",
    "EXPLAIN ANALYZE SELECT count(*) FROM entity_daily",
    "-- a comment first\nSELECT 1;",
])
def test_read_statements_run(unchanged, sql):
    columns, rows = read_only_query(unchanged, sql)
    assert columns and rows


def test_parameters_are_bound(store):
    assert read_only_query(store, "SELECT count(*) FROM articles WHERE run_id = ?", ["seeds"])[1] == [(5,)]


WRITES_TARGET = [
    "COPY articles TO '{target}'",
    "COPY (SELECT 1) TO '{target}' (FORMAT csv)",
    "EXPORT DATABASE '{target}'",
    "ATTACH '{target}' AS other",
    "PRAGMA profiling_output = '{target}'",
    "SET profiling_output = '{target}'",
    "SELECT 1; COPY articles TO '{target}'",
    "EXPLAIN ANALYZE COPY articles TO '{target}'",
    "CALL glob('{target}')",
]


@pytest.mark.parametrize("template", WRITES_TARGET)
def test_statements_that_reach_a_file_are_refused_and_write_nothing(unchanged, tmp_path, template):
    target = tmp_path / "target"
    with pytest.raises(QueryRefused, match=r"^refused: "):
        read_only_query(unchanged, template.format(target=target))
    assert not target.exists()


def test_copy_cannot_overwrite_the_store_it_reads(unchanged):
    with pytest.raises(QueryRefused, match="COPY"):
        read_only_query(unchanged, f"COPY (SELECT 1 AS x) TO '{unchanged}' (FORMAT csv)")


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_blob('/etc/passwd')",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM glob('/root/*')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM read_parquet('https://example.com/news.parquet')",
    "SELECT count(*) FROM articles UNION ALL SELECT length(content) FROM read_text('/etc/hostname')",
])
def test_selects_that_read_other_files_or_the_network_are_refused(unchanged, sql):
    with pytest.raises(QueryRefused, match="file system operations are disabled"):
        read_only_query(unchanged, sql)


@pytest.mark.parametrize("sql", [
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "RESET enable_external_access",
    "USE memory",
    "PRAGMA version",
    "PRAGMA disable_checkpoint_on_shutdown",
    "INSTALL httpfs",
    "FORCE INSTALL httpfs",
    "LOAD httpfs",
    "LOAD '/tmp/evil.duckdb_extension'",
    "UPDATE EXTENSIONS",
    "SELECT 1; SELECT 2",
    "",
    "CREATE TABLE stolen AS SELECT * FROM articles",
    "CREATE TEMP TABLE scratch AS SELECT 1",
    "CREATE VIEW v AS SELECT 1",
    "INSERT INTO articles SELECT * FROM articles",
    "WITH a AS (SELECT * FROM articles) INSERT INTO articles SELECT * FROM a",
    "DELETE FROM articles",
    "UPDATE articles SET title = 'x'",
    "DROP TABLE articles",
    "ALTER TABLE articles ADD COLUMN x INTEGER",
    "DETACH sandbox",
    "CALL pragma_version()",
    "CHECKPOINT",
    "VACUUM",
    "BEGIN TRANSACTION",
    "IMPORT DATABASE '/tmp'",
    "EXPLAIN ANALYZE CREATE TABLE stolen AS SELECT 1",
    "PREPARE p AS SELECT 1",
])
def test_statements_that_are_not_one_read_are_refused(unchanged, sql):
    with pytest.raises(QueryRefused, match=r"^refused: .*; only one read-only SELECT"):
        read_only_query(unchanged, sql)


@pytest.mark.parametrize("template", [
    "COPY articles TO '{target}'",
    "ATTACH '{target}' AS other",
    "EXPORT DATABASE '{target}'",
    "SELECT * FROM glob('{target}')",
    "INSTALL httpfs",
    "CREATE TABLE stolen AS SELECT 1",
    "SET autoinstall_known_extensions = true",
    "SET autoload_known_extensions = true",
    "SET lock_configuration = false",
])
def test_the_connection_itself_refuses_what_the_statement_check_lets_through(unchanged, tmp_path, template):
    """The second wall alone, as if the statement check had a gap: these go straight to the sandbox connection."""
    target = tmp_path / "target"
    with sandbox(unchanged) as con, pytest.raises(duckdb.Error):
        con.execute(template.format(target=target))
    assert not target.exists()


def test_the_connection_runs_with_the_sandbox_settings(store):
    with sandbox(store) as con:
        for name, value in SANDBOX_CONFIG.items():
            assert con.execute("SELECT current_setting(?)", [name]).fetchone()[0] == value, name


def test_errors_are_one_line_without_the_echoed_sql(store):
    with pytest.raises(QueryError) as binder:
        read_only_query(store, "SELECT x FROM articles")
    with pytest.raises(QueryError) as syntax:
        read_only_query(store, "SELEKT 1")
    for error, start in ((binder, "Binder Error: "), (syntax, "Parser Error: ")):
        message = str(error.value)
        assert message.startswith(start) and "\n" not in message and "LINE 1" not in message
        assert not isinstance(error.value, QueryRefused)


def test_a_missing_store_is_not_created(tmp_path):
    missing = tmp_path / "news.ducklake"
    with pytest.raises(QueryError, match=r"^no such store: "):
        read_only_query(missing, "SELECT 1")
    assert not missing.exists()


def test_an_sqlite_file_that_is_no_catalog_is_named(tmp_path):
    other = tmp_path / "file.sqlite"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE t (x)")
    con.close()
    before = other.read_bytes()
    with pytest.raises(QueryError, match=r"^not a store \(no DuckLake catalog\): .*file\.sqlite$"):
        read_only_query(other, "SELECT 1")
    assert other.read_bytes() == before


def test_a_single_file_duckdb_store_points_at_the_import(tmp_path):
    old = tmp_path / "news.duckdb"
    duckdb.connect(str(old)).close()
    with pytest.raises(QueryError, match=r"single-file DuckDB database.*news import"):
        read_only_query(old, "SELECT 1")


def test_a_writer_in_the_middle_of_a_load_does_not_stop_a_reader(fresh_db):
    """The writer holds the writer slot and an open transaction; the reader neither waits nor sees its rows."""
    writer = ("import sys; from pipeline.store import connect\n"
              "with connect(sys.argv[1]) as con:\n"
              "    con.execute('BEGIN'); con.execute(\"INSERT INTO ingest_runs (run_id) VALUES ('half')\")\n"
              "    print('held', flush=True); sys.stdin.read()")
    holder = subprocess.Popen(
        [sys.executable, "-c", writer, str(fresh_db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert read_only_query(fresh_db, "SELECT count(*) FROM ingest_runs") == (["count_star()"], [(0,)])
    finally:
        holder.communicate("")
    assert holder.returncode == 0
