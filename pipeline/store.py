"""DuckDB: numbered migrations from sql/, connections, and the queries the engine needs.

DuckDB allows one writing process per file; every write goes through `connect(..., read_only=False)`
in the loader, which Airflow runs in a one-slot pool.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"
QUERIES_DIR = SQL_DIR / "queries"
_MIGRATION_NAME = re.compile(r"^(\d+)_[\w-]+\.sql$")


def migrations() -> list[tuple[int, Path]]:
    found = []
    for path in MIGRATIONS_DIR.iterdir():
        match = _MIGRATION_NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply the migrations not yet recorded in schema_migrations; returns the versions applied."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, "
        "applied_at TIMESTAMP DEFAULT current_timestamp)"
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for version, path in migrations():
        if version in done:
            continue
        con.execute("BEGIN")
        con.execute(path.read_text())
        con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [version, path.name])
        con.execute("COMMIT")
        applied.append(version)
    return applied


@contextmanager
def connect(db_path: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection that is always closed, so the file lock is released for the next writer."""
    if not read_only:
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db_path), read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def ensure_schema(db_path: Path) -> None:
    with connect(db_path) as con:
        migrate(con)


def named_query(name: str) -> str:
    """An analyst query from sql/queries/ by file stem."""
    return (QUERIES_DIR / f"{name}.sql").read_text()


def query(db_path: Path, sql: str, params: list | None = None) -> tuple[list[str], list[tuple]]:
    """Run SQL read-only and return column names and rows."""
    with connect(db_path, read_only=True) as con:
        cursor = con.execute(sql, params or [])
        columns = [d[0] for d in cursor.description] if cursor.description else []
        return columns, cursor.fetchall()
