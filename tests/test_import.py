"""`news import`: a single-file DuckDB store of the old schema comes into the lake once, every table counted."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from pipeline.cli import main
from pipeline.extensions import load_extension
from pipeline.importer import IMPORT_KEYS, NOT_IMPORTED, import_store
from pipeline.store import Store, connect, query, snapshots

LEGACY_SCHEMA = Path(__file__).parent / "data" / "legacy_store_schema.sql"
RAW = b"\x00not an article\xff" * 64
RAW_NAME = f"rejects/{hashlib.sha256(RAW).hexdigest()}.bin"
ROWS_PER_TABLE = {
    "ingest_runs": 1, "articles": 2, "entities": 2, "entity_mentions": 3, "duplicates": 1, "ingest_log": 4,
    "rejects": 2, "minhash_signatures": 2, "minhash_bands": 4, "stories": 1, "source_state": 1, "index_layout": 1,
    "quality_results": 2, "date_candidates": 2,
}


def legacy_schema(upto: int = 11, after: int = 0) -> str:
    """The old migrations after `after` up to `upto`, from the fixture file that holds them all in order."""
    parts = re.split(r"^-- old migration (\d{3})_[\w-]+\.sql$", LEGACY_SCHEMA.read_text(), flags=re.MULTILINE)
    return "\n".join(sql for version, sql in zip(parts[1::2], parts[2::2], strict=True)
                     if after < int(version) <= upto)


def build_legacy_store(folder: Path, upto: int = 11, layout: tuple[int, int] = (42, 3)) -> Path:
    """An old store as the pipeline left it at old migration `upto`: a few rows in every table it had, and a
    large reject's raw bytes in rejects/ beside the file (from migration 010 on)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "news.duckdb"
    con = duckdb.connect(str(path))
    con.execute(legacy_schema(upto))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
    con.executemany("INSERT INTO schema_migrations VALUES (?, ?, TIMESTAMP '2025-01-01')",
                    [(version, f"{version:03d}_old.sql") for version in range(1, upto + 1)])
    con.execute("""INSERT INTO ingest_runs VALUES
        ('run-1', 'files', TIMESTAMP '2025-03-01 10:00', TIMESTAMP '2025-03-01 10:05', 5, 2, 1, 2, 0)""")
    con.execute("""INSERT INTO articles (article_id, doc_key, url, source_uri, site, title, published_at, body,
                                         body_chars, content_hash, story_id, ingested_at, run_id) VALUES
        ('art-1', 'key-1', 'https://example.org/a', 'file:///in/a.html', 'example.org', 'Harbour reopens',
         DATE '2025-02-28', 'The harbour in Oslo reopened.', 29, 'hash-1', 'art-1', TIMESTAMP '2025-03-01 10:01',
         'run-1'),
        ('art-2', 'key-2', 'https://example.org/b', 'file:///in/b.html', 'example.org', 'Bridge closes', NULL,
         'Acme closed the bridge in Bergen.', 33, 'hash-2', NULL, TIMESTAMP '2025-03-01 10:02', 'run-1')""")
    con.execute("""INSERT INTO entities (entity_id, name, label, name_key, aliases) VALUES
        ('ent-oslo', 'Oslo', 'GPE', 'oslo', ['Christiania']), ('ent-acme', 'Acme', 'ORG', 'acme', [])""")
    con.execute("""INSERT INTO entity_mentions (article_id, entity_id, surface, label, start_char, end_char) VALUES
        ('art-1', 'ent-oslo', 'Oslo', 'GPE', 20, 24),
        ('art-2', 'ent-acme', 'Acme', 'ORG', 0, 4), ('art-2', 'ent-oslo', 'Bergen', 'GPE', 26, 32)""")
    con.execute("INSERT INTO duplicates VALUES ('key-3', 'art-1', 'content_hash', NULL, 'run-1')")
    con.execute("""INSERT INTO ingest_log VALUES
        ('run-1', 'key-1', 'file:///in/a.html', 'loaded', NULL, 'art-1', TIMESTAMP '2025-03-01 10:01'),
        ('run-1', 'key-2', 'file:///in/b.html', 'loaded', NULL, 'art-2', TIMESTAMP '2025-03-01 10:02'),
        ('run-1', 'key-3', 'file:///in/c.html', 'duplicate', 'content_hash', 'art-1', TIMESTAMP '2025-03-01 10:03'),
        ('run-1', 'key-4', 'file:///in/d.bin', 'rejected', 'not_text', NULL, TIMESTAMP '2025-03-01 10:04')""")
    con.execute("INSERT INTO rejects (doc_key, source_uri, reason, raw) VALUES "
                "('key-4', 'file:///in/d.bin', 'not_text', '\\x00\\x01'::BLOB), "
                "('key-5', 'file:///in/e.bin', 'too_long', NULL)")
    con.execute("""INSERT INTO quality_results VALUES
        ('run-1', 'articles', 'expect_column_values_to_not_be_null', true, NULL, TIMESTAMP '2025-03-01 10:06'),
        ('run-1', 'ledger', 'every_input_has_one_state', true, '5 of 5', TIMESTAMP '2025-03-01 10:06')""")
    con.execute("""INSERT INTO date_candidates VALUES ('art-1', DATE '2025-02-28', 'published', 'meta'),
        ('art-1', DATE '2025-03-01', 'updated', 'meta')""")
    if upto >= 3:
        con.execute("UPDATE entities SET country_code = 'NO', first_seen = DATE '2025-02-28' "
                    "WHERE entity_id = 'ent-oslo'")
    if upto >= 4:
        con.execute("INSERT INTO minhash_signatures VALUES ('art-1', 3, '\\x01\\x02'::BLOB), "
                    "('art-2', 4, '\\x03\\x04'::BLOB)")
        con.execute("INSERT INTO minhash_bands VALUES (11, 'art-1'), (12, 'art-1'), (21, 'art-2'), (22, 'art-2')")
    if upto >= 5:
        con.execute("INSERT INTO stories VALUES ('art-1', DATE '2025-02-28', DATE '2025-02-28', 1, "
                    "'Harbour reopens', ['Oslo'])")
    if 6 <= upto < 9:
        con.execute("INSERT INTO fetch_state VALUES ('https://example.org/feed.xml', '\"v1\"', "
                    "'Sat, 01 Mar 2025 09:00:00 GMT', 200, NULL, 12, TIMESTAMP '2025-03-01 09:59:00.25')")
    if upto >= 7:
        con.execute("UPDATE articles SET version = 1")
    if upto >= 8:
        con.execute("UPDATE articles SET warnings = ['bad_bytes_replaced'] WHERE article_id = 'art-2'")
    if upto >= 9:
        con.execute("""INSERT INTO source_state VALUES ('https://example.org/feed.xml', 'web',
            '{"listing_kind": "feed", "etag": "v1"}', 'run-1', TIMESTAMP '2025-03-01 09:59')""")
    if upto >= 10:
        con.execute("UPDATE rejects SET raw_file = ? WHERE doc_key = 'key-5'", [RAW_NAME])
        (folder / "rejects").mkdir()
        (folder / RAW_NAME).write_bytes(RAW)
    if upto >= 11:
        con.execute("UPDATE index_layout SET bands = ?, \"rows\" = ?", list(layout))
    con.close()
    return path


@pytest.fixture
def legacy_store(tmp_path) -> Path:
    """An old single-file store at the last old migration (011), with its rejects/ folder."""
    return build_legacy_store(tmp_path / "old")


@contextmanager
def reading(store: Path) -> Iterator[Callable[[str], list[tuple]]]:
    """Rows of SQL on the lake, all through one read-only connection (attaching the lake takes a second)."""
    with connect(store, read_only=True) as con:
        yield lambda sql: con.execute(sql).fetchall()


def counts(store: Path) -> dict[str, int]:
    with reading(store) as rows:
        return {table: rows(f"SELECT count(*) FROM {table}")[0][0] for table in ROWS_PER_TABLE}


def import_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["import", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_import_copies_every_table_and_compares_the_counts(legacy_store, db_path, capsys):
    code, out, err = import_cli(capsys, str(legacy_store), "--store", str(db_path))

    assert (code, err) == (0, "")
    for table, rows in ROWS_PER_TABLE.items():
        # index_layout: the file's row has the key the lake's migration already wrote, so it adds nothing.
        added = 0 if table == "index_layout" else rows
        assert re.search(rf"^{table}\s+{rows}\s+{rows}\s+{added}\s+", out, re.MULTILINE), (table, out)
    assert counts(db_path) == ROWS_PER_TABLE
    assert "every row of the file is in the lake" in out
    assert "rejects' raw files: 1 copied" in out

    with reading(db_path) as rows:
        assert rows("SELECT article_id, title, published_at, version, warnings FROM articles ORDER BY 1") == [
            ("art-1", "Harbour reopens", dt.date(2025, 2, 28), 1, None),
            ("art-2", "Bridge closes", None, 1, ["bad_bytes_replaced"])]
        assert rows("SELECT entity_id, aliases, country_code FROM entities ORDER BY 1") == [
            ("ent-acme", [], None), ("ent-oslo", ["Christiania"], "NO")]
        assert rows("SELECT doc_key, raw, raw_file FROM rejects ORDER BY 1") == [
            ("key-4", b"\x00\x01", None), ("key-5", None, RAW_NAME)]
        assert rows("SELECT value ->> 'etag', run_id FROM source_state") == [("v1", "run-1")]
        (latest, applied), = rows("SELECT max(version), count(*) FROM schema_migrations")
        assert latest == applied < 11, "the file's migration ledger is not the lake's"
    assert (Store.at(db_path).home / RAW_NAME).read_bytes() == RAW
    message, extra = snapshots(db_path)[-1][1:]
    assert message == f"import {legacy_store}"
    assert extra == {"stage": "import", "source_file": str(legacy_store)}


def test_importing_the_same_file_again_adds_nothing(legacy_store, db_path, capsys):
    assert import_cli(capsys, str(legacy_store), "--store", str(db_path))[0] == 0
    before = snapshots(db_path)

    code, out, _ = import_cli(capsys, str(legacy_store), "--store", str(db_path))

    assert code == 0
    for table, rows in ROWS_PER_TABLE.items():
        assert re.search(rf"^{table}\s+{rows}\s+{rows}\s+0\s+already present\s*$", out, re.MULTILINE), (table, out)
    assert counts(db_path) == ROWS_PER_TABLE
    assert "nothing was added: already imported" in out
    assert snapshots(db_path) == before, "an import that adds nothing commits no snapshot"


def test_a_store_from_before_source_state_comes_in_as_its_migrations_would_have_left_it(tmp_path, db_path):
    """Old migration 006's store: listing validators in the fetch_state table, no article versions or warnings,
    no reject files, no recorded band layout."""
    old = build_legacy_store(tmp_path / "old", upto=6)
    migrated = tmp_path / "migrated.duckdb"
    shutil.copy(old, migrated)
    with duckdb.connect(str(migrated)) as con:
        con.execute(legacy_schema(upto=11, after=6))
        expected_state = con.execute("SELECT source_id, kind, value::VARCHAR, run_id, updated_at "
                                     "FROM source_state").fetchall()

    report = import_store(old, db_path)

    assert report.complete
    assert report.absent == ("index_layout",)
    tables = {table.table: table for table in report.tables}
    assert (tables["source_state"].source, tables["source_state"].added) == ("fetch_state", 1)
    assert json.loads(expected_state[0][2])["etag"] == '"v1"'
    with reading(db_path) as rows:
        assert rows("SELECT source_id, kind, value::VARCHAR, run_id, updated_at FROM source_state") == expected_state
        assert rows("SELECT version, version_of, warnings FROM articles") == [(1, None, None)] * 2, \
            "columns added after the file's schema take the lake's defaults"
        assert rows("SELECT raw_file FROM rejects") == [(None,), (None,)]
        assert rows("SELECT bands, \"rows\" FROM index_layout") == [(42, 3)]


def test_the_lake_takes_the_files_band_layout_unless_it_has_band_keys_of_another(tmp_path, db_path, capsys):
    reindexed = build_legacy_store(tmp_path / "reindexed", layout=(20, 5))

    report = import_store(reindexed, db_path)
    assert report.complete
    assert report.layout_adopted == (20, 5)
    assert query(db_path, "SELECT bands, \"rows\" FROM index_layout")[1] == [(20, 5)]

    other_lake = tmp_path / "other" / "news.ducklake"
    assert import_store(build_legacy_store(tmp_path / "plain"), other_lake).complete
    code, out, err = import_cli(capsys, str(reindexed), "--store", str(other_lake))
    assert (code, out) == (2, "")
    assert err == ("news import: the file's near-duplicate band keys are 20 × 5 and the lake's 42 × 3: the two "
                   "cannot be mixed; import the file into a new store\n")
    assert counts(other_lake)["articles"] == 2


def test_a_missing_raw_file_makes_the_import_incomplete(legacy_store, db_path, capsys):
    (legacy_store.parent / RAW_NAME).unlink()

    code, out, _ = import_cli(capsys, str(legacy_store), "--store", str(db_path))

    assert code == 1
    assert f"MISSING raw file beside the file: {RAW_NAME}" in out
    assert "INCOMPLETE" in out
    assert counts(db_path)["rejects"] == 2


def _newer_duckdb_file(path: Path) -> Path:
    """A DuckDB file whose header claims a storage version past what DuckDB 1.5.5 reads (as DuckDB 2.0 would
    write), its header checksum recomputed so DuckDB gets as far as the version check."""
    duckdb.connect(str(path)).close()
    with path.open("r+b") as file:
        header = bytearray(file.read(4096))
        header[12:20] = (99).to_bytes(8, "little")
        checksum = 5381
        for (word,) in struct.iter_unpack("<Q", header[8:]):
            checksum ^= (word * 0xBF58476D1CE4E5B9) & (2**64 - 1)
        header[0:8] = checksum.to_bytes(8, "little")
        file.seek(0)
        file.write(header)
    return path


def _duckdb_lake_catalog(path: Path) -> Path:
    """A DuckLake catalog kept in a DuckDB file (DuckLake's default when no catalog kind is named)."""
    con = duckdb.connect()
    load_extension(con, "ducklake")
    con.execute(f"ATTACH 'ducklake:{path}' AS lake (DATA_PATH '{path}.files/')")
    con.execute("CREATE TABLE lake.articles (article_id VARCHAR)")
    con.close()
    return path


@pytest.mark.parametrize(("make", "reason"), [
    (lambda folder: folder / "absent.duckdb", "no such file: "),
    (lambda folder: _text_file(folder / "notes.duckdb"), "is not a DuckDB database file"),
    (lambda folder: import_store_catalog(folder), "is a DuckLake catalog (a store of the new kind)"),
    (lambda folder: _duckdb_lake_catalog(folder / "duck.ducklake"), "is a DuckLake catalog (a store of the new kind)"),
    (lambda folder: _empty_duckdb(folder / "empty.duckdb"), "holds none of the store's tables"),
    (lambda folder: _newer_duckdb_file(folder / "v2.duckdb"),
     "was written by a newer DuckDB than the pipeline's 1.5.5 (storage version 99, this one reads 64-"),
], ids=["missing", "not-duckdb", "sqlite-lake-catalog", "duckdb-lake-catalog", "no-store-tables", "newer-duckdb"])
def test_a_file_that_is_no_old_store_is_refused_in_one_line(tmp_path, capsys, make, reason):
    folder = tmp_path / "in"
    folder.mkdir()
    target = tmp_path / "target" / "news.ducklake"

    code, out, err = import_cli(capsys, str(make(folder)), "--store", str(target))

    assert (code, out) == (2, "")
    assert err.startswith("news import: ") and err.count("\n") == 1, err
    assert reason in err
    assert "Traceback" not in err
    assert not target.exists(), "a refused file leaves no store behind"


def test_the_news_command_refuses_without_a_traceback(tmp_path):
    news = Path(sys.executable).with_name("news")
    text = _text_file(tmp_path / "old.duckdb")

    done = subprocess.run([str(news), "import", str(text), "--store", str(tmp_path / "news.ducklake")],
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == f"news import: {text} is not a DuckDB database file\n"


def test_every_lake_table_has_an_import_key(fresh_db):
    _, rows = query(fresh_db, "SELECT table_name FROM duckdb_tables() WHERE database_name = 'news'")
    assert {name for (name,) in rows} - NOT_IMPORTED == set(IMPORT_KEYS) == set(ROWS_PER_TABLE)


def _text_file(path: Path) -> Path:
    path.write_text("this is a text file, not a database\n")
    return path


def _empty_duckdb(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE notes (line VARCHAR)")
    return path


def import_store_catalog(folder: Path) -> Path:
    """A lake of the new kind (SQLite catalog), as `news import` itself writes."""
    from pipeline.store import ensure_schema

    catalog = folder / "news.ducklake"
    ensure_schema(catalog)
    return catalog
