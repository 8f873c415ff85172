"""`news import`: bring a store of the old kind (one DuckDB file, schema of the old migrations 001-011) into the
DuckLake once, and prove nothing was lost by comparing the two table by table.

The old file is attached READ_ONLY in the lake's own connection, so the copy is plain SQL from one database to the
other in a single transaction: one snapshot, named after the file, and a crash leaves the lake as it was. The lake
has no keys, so every table is written with `merge_rows` by the key the old file's primary key (or the loader's
rule) gave it: importing the same file again, or a file whose rows the lake partly holds, adds only what is missing.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.aggregates import AGGREGATE_TABLES, rebuild_aggregates
from pipeline.report import format_table
from pipeline.stages.load import REJECTS_FOLDER
from pipeline.store import LAKE, Store, StoreLike, commit, connect, merge_rows, migrate

LEGACY = "legacy"
"""The name the old file is attached under, beside the lake (`news`)."""

IMPORT_KEYS: dict[str, tuple[str, ...]] = {
    "ingest_runs": ("run_id",),
    "articles": ("article_id",),
    "entities": ("entity_id",),
    "entity_mentions": ("article_id", "start_char", "end_char"),
    "duplicates": ("doc_key",),
    "ingest_log": ("run_id", "source_uri"),
    "rejects": ("doc_key",),
    "minhash_signatures": ("article_id",),
    "minhash_bands": ("band_key", "article_id"),
    "stories": ("story_id",),
    "source_state": ("source_id",),
    "index_layout": ("name",),
    "quality_results": ("run_id", "suite", "expectation", "checked_at"),
    "date_candidates": ("article_id", "value", "kind", "rule"),
}
"""Each lake table's key: the old file's primary key where it had one, else what identifies a row for the loader.
Rows with a key the lake already holds are kept as the lake has them."""

NOT_IMPORTED = frozenset({"schema_migrations", "story_terms", "story_postings", *AGGREGATE_TABLES})
"""The old file's migration ledger describes the old schema, not the lake's; the aggregates are recomputed from the
rows imported (`rebuild_aggregates`), not copied; an imported article's story terms and postings are cut from its
body the first time it falls in a new article's story window (`pipeline.stories`)."""

PRE_011_LAYOUT = (42, 3)
"""The band layout of every store before old migration 011 recorded one (its comment says so)."""

FETCH_STATE_ROWS = f"""
    SELECT url AS source_id, 'web' AS kind,
           json_object('listing_kind', 'feed', 'etag', etag, 'last_modified', last_modified, 'status', status,
                       'problem', problem, 'entries', entries,
                       'fetched_at', strftime(fetched_at, '%Y-%m-%dT%H:%M:%S.%f'))::JSON AS value,
           NULL::VARCHAR AS run_id, fetched_at AS updated_at
    FROM {LEGACY}.main.fetch_state"""
"""A file from before old migration 009 keeps listing validators in the table `fetch_state`: they become
`source_state` rows exactly as that migration turned them, so the web source resumes from them."""

_DUCKDB_MAGIC = b"DUCK"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_NEWER_STORAGE = re.compile(r"version number (\d+), but we can only read versions between (\d+) and (\d+)")


class ImportRefused(Exception):
    """The file cannot be imported (not a DuckDB file, a lake catalog, unreadable by this DuckDB, ...); the message
    is one line, fit to show as it is."""


@dataclass(frozen=True)
class TableImport:
    """One lake table's count comparison: the old file's rows against the lake's rows with their keys."""

    table: str
    source: str
    """The old file's table the rows came from (`fetch_state` for `source_state` before old migration 009)."""
    rows_in_file: int
    keys_in_file: int
    """Distinct keys among the file's rows: fewer than its rows only where the old table had no primary key."""
    keys_in_lake: int
    """How many of the file's keys the lake holds after the import."""
    added: int
    """Rows this import added to the lake (0 on a second import of the same file)."""

    @property
    def complete(self) -> bool:
        return self.keys_in_lake == self.keys_in_file

    @property
    def status(self) -> str:
        if not self.complete:
            return f"{self.keys_in_file - self.keys_in_lake} keys MISSING"
        if self.rows_in_file == 0:
            return "empty"
        collapsed = self.rows_in_file - self.keys_in_file
        note = f" ({collapsed} repeated keys kept once)" if collapsed else ""
        return ("already present" if self.added == 0 else "imported") + note


@dataclass(frozen=True)
class ImportReport:
    file: Path
    store: str
    tables: tuple[TableImport, ...]
    absent: tuple[str, ...]
    """Lake tables the file does not have (written before the old migration that made them): left as they are."""
    ignored: tuple[str, ...]
    """Tables of the file the lake has no place for."""
    raw_files_copied: int
    raw_files_missing: tuple[str, ...]
    """Rejects' raw files (`rejects.raw_file`) named in the file but absent beside it."""
    layout_adopted: tuple[int, int] | None = None
    """The file's near-duplicate band layout (bands, rows), when the lake took it over from its own."""

    @property
    def complete(self) -> bool:
        """Every key of every table is in the lake, and every reject's raw file came along."""
        return all(table.complete for table in self.tables) and not self.raw_files_missing

    @property
    def added(self) -> int:
        return sum(table.added for table in self.tables)


@dataclass(frozen=True)
class _LegacyFile:
    tables: dict[str, list[str]]
    """Base table → its columns (views, such as `fetch_state` after old migration 009, are not data)."""


def import_store(file: Path, where: StoreLike) -> ImportReport:
    """Copy every table of the old single-file store `file` into the lake at `where`, in one transaction, then
    count both sides. Raises ImportRefused, before the lake is created or touched, for a file it cannot read."""
    file = Path(file).expanduser().absolute()
    store = Store.at(where)
    legacy = _probe(file)
    with connect(store) as con:
        try:
            con.execute(f"ATTACH '{_quoted(str(file))}' AS {LEGACY} (READ_ONLY)")
        except duckdb.Error as exc:
            raise ImportRefused(_unopenable(file, exc)) from None
        migrate(con)
        lake_columns = _columns(con, LAKE)
        plans, absent = _plans(legacy, lake_columns)
        raw_files = _raw_files(con, legacy)
        if raw_files and "://" in store.data_path:
            raise ImportRefused(f"{len(raw_files)} rejects keep their raw bytes in files, and the lake's data "
                                f"path {store.data_path} is not a local folder: import into a local store")
        layout = _layout_to_adopt(con, legacy)
        # A failure before the commit closes the connection, which rolls the whole import back.
        con.execute("BEGIN")
        added: dict[str, int] = {}
        for plan in plans:
            before = _count(con, plan.table)
            merge_rows(con, plan.table, plan.rows_sql, plan.keys, plan.columns)
            added[plan.table] = _count(con, plan.table) - before
        if layout is not None:
            merge_rows(con, "index_layout", "SELECT 'minhash_bands' AS name, ?::INTEGER AS bands, "
                       "?::INTEGER AS \"rows\"", ["name"], ["name", "bands", "rows"], update=True,
                       params=list(layout))
        if any(added.values()):  # else the aggregates still count the same rows, and no snapshot is committed
            rebuild_aggregates(con)
        copied, missing = _copy_raw_files(raw_files, file.parent, store.home / REJECTS_FOLDER)
        commit(con, f"import {file}", {"stage": "import", "source_file": str(file)})
        tables = tuple(_compare(con, plan, added[plan.table]) for plan in plans)
    ignored = sorted(set(legacy.tables) - set(lake_columns) - NOT_IMPORTED - {"fetch_state"})
    return ImportReport(file, str(store), tables, tuple(absent), tuple(ignored), copied, tuple(missing), layout)


def format_import(report: ImportReport) -> str:
    """The comparison as `news import` prints it: a table, then what the counts alone do not say."""
    rows = [(table.table if table.source == table.table else f"{table.table} (from {table.source})",
             table.rows_in_file, table.keys_in_lake, table.added, table.status) for table in report.tables]
    lines = [f"import {report.file} into {report.store}",
             format_table(["table", "rows in file", "rows in lake after", "added", "status"], rows)]
    if report.absent:
        lines.append(f"not in the file (written before these tables existed): {', '.join(report.absent)}")
    if report.ignored:
        lines.append(f"not imported (no such table in the lake): {', '.join(report.ignored)}")
    if report.raw_files_copied or report.raw_files_missing:
        lines.append(f"rejects' raw files: {report.raw_files_copied} copied")
    lines += [f"MISSING raw file beside the file: {name}" for name in report.raw_files_missing]
    if report.layout_adopted:
        bands, rows_per_band = report.layout_adopted
        lines.append(f"near-duplicate band layout: the lake now uses the file's {bands} × {rows_per_band}")
    if report.complete:
        already = report.added == 0
        lines.append("every row of the file is in the lake" + (" (nothing was added: already imported)"
                                                               if already else ""))
    else:
        lines.append("INCOMPLETE: some rows or raw files of the file are not in the lake")
    return "\n".join(lines)


def _probe(file: Path) -> _LegacyFile:
    """Open the file on its own, read-only, and refuse it before connecting to the lake: connecting creates the
    lake and takes its writer slot, which a file that turns out unreadable should not leave behind."""
    if not file.is_file():
        raise ImportRefused(f"not a file: {file}" if file.exists() else f"no such file: {file}")
    with file.open("rb") as head:
        magic = head.read(16)
    if magic == _SQLITE_MAGIC:
        if _is_sqlite_lake_catalog(file):
            raise ImportRefused(f"{file} is a DuckLake catalog (a store of the new kind), not a single-file DuckDB "
                                "store; there is nothing to import")
        raise ImportRefused(f"{file} is an SQLite database, not a single-file DuckDB store")
    if magic[8:12] != _DUCKDB_MAGIC:
        raise ImportRefused(f"{file} is not a DuckDB database file")
    con = duckdb.connect()
    try:
        try:
            con.execute(f"ATTACH '{_quoted(str(file))}' AS {LEGACY} (READ_ONLY)")
        except duckdb.Error as exc:
            raise ImportRefused(_unopenable(file, exc)) from None
        columns = _columns(con, LEGACY)
    finally:
        con.close()
    if any(name.startswith("ducklake_") for name in columns):
        raise ImportRefused(f"{file} is a DuckLake catalog (a store of the new kind), not a single-file DuckDB "
                            "store; there is nothing to import")
    if not (set(columns) & (set(IMPORT_KEYS) - {"index_layout"})) and "fetch_state" not in columns:
        raise ImportRefused(f"{file} holds none of the store's tables (articles, ingest_runs, ...): not a news store")
    return _LegacyFile(columns)


def _is_sqlite_lake_catalog(file: Path) -> bool:
    try:
        with sqlite3.connect(f"{file.as_uri()}?mode=ro", uri=True) as catalog:
            found = catalog.execute("SELECT 1 FROM sqlite_master WHERE name = 'ducklake_metadata'").fetchall()
    except sqlite3.Error:
        return False
    return bool(found)


def _unopenable(file: Path, exc: duckdb.Error) -> str:
    """One line for a DuckDB file this DuckDB cannot open. The storage format only moves forward: a file written
    by a newer DuckDB (2.0 among them) is unreadable here, and only that DuckDB can write it out again."""
    newer = _NEWER_STORAGE.search(str(exc))
    if newer:
        return (f"cannot open {file}: it was written by a newer DuckDB than the pipeline's {duckdb.__version__} "
                f"(storage version {newer.group(1)}, this one reads {newer.group(2)}-{newer.group(3)}; files written "
                f"by DuckDB 2.0 cannot be opened): EXPORT DATABASE it with that DuckDB, IMPORT DATABASE the export "
                f"into a new file with .venv/bin/duckdb, and import that file")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"cannot open {file} with DuckDB {duckdb.__version__}: {first}"


def _columns(con: duckdb.DuckDBPyConnection, database: str) -> dict[str, list[str]]:
    """Base table → columns in order, of one attached database's main schema."""
    rows = con.execute("SELECT table_name, column_name FROM duckdb_columns() "
                       "WHERE database_name = ? AND schema_name = 'main' AND NOT internal "
                       "AND table_name IN (SELECT table_name FROM duckdb_tables() "
                       "                   WHERE database_name = ? AND schema_name = 'main') "
                       "ORDER BY table_name, column_index", [database, database]).fetchall()
    found: dict[str, list[str]] = {}
    for table, column in rows:
        found.setdefault(table, []).append(column)
    return found


@dataclass(frozen=True)
class _Plan:
    table: str
    source: str
    rows_sql: str
    keys: Sequence[str]
    columns: Sequence[str]


def _plans(legacy: _LegacyFile, lake: dict[str, list[str]]) -> tuple[list[_Plan], list[str]]:
    """What to copy into each lake table: the columns both have (a column the file lacks, added by a later old
    migration, is left to the lake's default: NULL, or 1 for articles.version, as those migrations set it), by
    the table's key; and which lake tables the file lacks."""
    plans, absent = [], []
    for table, lake_columns in lake.items():
        if table in NOT_IMPORTED:
            continue
        keys = IMPORT_KEYS.get(table)
        if keys is None:
            raise ImportRefused(f"the lake table {table} has no import key (pipeline/importer.py IMPORT_KEYS)")
        if table == "source_state" and table not in legacy.tables and "fetch_state" in legacy.tables:
            plans.append(_Plan(table, "fetch_state", FETCH_STATE_ROWS, keys, lake_columns))
            continue
        if table not in legacy.tables:
            absent.append(table)
            continue
        shared = [column for column in lake_columns if column in legacy.tables[table]]
        lacking = [key for key in keys if key not in shared]
        if lacking:
            raise ImportRefused(f"the file's table {table} lacks its key column(s) {', '.join(lacking)}")
        selected = ", ".join(_selected(table, column) for column in shared)
        plans.append(_Plan(table, table, f'SELECT {selected} FROM {LEGACY}.main."{table}"', keys, shared))
    return plans, absent


def _selected(table: str, column: str) -> str:
    """A rejects' raw file moves into the lake's rejects folder under its own (content-addressed) name."""
    if table == "rejects" and column == "raw_file":
        return f"'{REJECTS_FOLDER}/' || parse_filename(raw_file) AS raw_file"
    return f'"{column}"'


def _layout_to_adopt(con: duckdb.DuckDBPyConnection, legacy: _LegacyFile) -> tuple[int, int] | None:
    """The file's band layout when the lake must take it, else None. Band keys only match keys made with the same
    layout, so the file's keys are useful only under the file's layout (a store reindexed for a low threshold
    stays so): a lake without band keys of its own takes it; one whose keys have another layout is refused
    rather than mixed."""
    if "minhash_bands" not in legacy.tables or _count(con, f"{LEGACY}.main.minhash_bands") == 0:
        return None
    found = (con.execute(f"SELECT bands, \"rows\" FROM {LEGACY}.main.index_layout WHERE name = 'minhash_bands'")
             .fetchall() if "index_layout" in legacy.tables else [PRE_011_LAYOUT])
    lake = con.execute("SELECT bands, \"rows\" FROM index_layout WHERE name = 'minhash_bands'").fetchall()
    file_layout = (int(found[0][0]), int(found[0][1])) if found else PRE_011_LAYOUT
    lake_layout = (int(lake[0][0]), int(lake[0][1])) if lake else None
    if file_layout == lake_layout:
        return None
    if _count(con, "minhash_bands") > 0:
        lake_text = f"{lake_layout[0]} × {lake_layout[1]}" if lake_layout else "of no recorded layout"
        raise ImportRefused(f"the file's near-duplicate band keys are {file_layout[0]} × {file_layout[1]} and the "
                            f"lake's {lake_text}: the two cannot be mixed; import the file into a new store")
    return file_layout

def _raw_files(con: duckdb.DuckDBPyConnection, legacy: _LegacyFile) -> list[str]:
    if "raw_file" not in legacy.tables.get("rejects", []):
        return []
    return [name for (name,) in con.execute(
        f"SELECT DISTINCT raw_file FROM {LEGACY}.main.rejects WHERE raw_file IS NOT NULL ORDER BY 1").fetchall()]


def _copy_raw_files(names: list[str], old_home: Path, rejects: Path) -> tuple[int, list[str]]:
    """Copy each raw file (relative to the old file's folder) into the lake's rejects folder, before the commit
    like the loader: a failed import leaves at most files a second import finds in place. Names are content
    addresses, so a file already there is the same bytes and is not copied again."""
    copied, missing = 0, []
    for name in names:
        source = old_home / name
        target = rejects / Path(name).name
        if target.exists():
            continue
        if not source.is_file():
            missing.append(name)
            continue
        rejects.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".tmp")
        shutil.copyfile(source, partial)
        partial.replace(target)
        copied += 1
    return copied, missing


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def _compare(con: duckdb.DuckDBPyConnection, plan: _Plan, added: int) -> TableImport:
    """The file's rows, its distinct keys, and how many of those keys the committed lake holds."""
    keys = ", ".join(f'"{key}"' for key in plan.keys)
    match = " AND ".join(f'l."{key}" = f."{key}"' for key in plan.keys)
    row = con.execute(
        f"WITH f AS (SELECT {keys} FROM ({plan.rows_sql})), k AS (SELECT DISTINCT * FROM f) "
        f"SELECT (SELECT count(*) FROM f), (SELECT count(*) FROM k), "
        f"(SELECT count(*) FROM k AS f WHERE EXISTS (SELECT 1 FROM {LAKE}.main.\"{plan.table}\" AS l "
        f"WHERE {match}))").fetchone()
    assert row is not None
    return TableImport(plan.table, plan.source, int(row[0]), int(row[1]), int(row[2]), added)


def _quoted(text: str) -> str:
    return text.replace("'", "''")
