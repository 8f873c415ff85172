"""DuckDB: numbered migrations from sql/, connections, and the queries the engine needs.

DuckDB allows one writing process per file; every write goes through `connect(..., read_only=False)`
in the loader, which Airflow runs in a one-slot pool.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
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
    """A connection that is always closed, so the file lock is released for the next writer. A read-write
    connection first takes the store's writer slot (`writer_slot`), so a second writing process waits its turn
    instead of failing on DuckDB's file lock."""
    if not read_only:
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    with nullcontext() if read_only else writer_slot(Path(db_path)):
        con = duckdb.connect(str(db_path), read_only=read_only)
        try:
            yield con
        finally:
            con.close()


class StoreBusy(RuntimeError):
    """Another process held the store's writer slot for longer than this one would wait."""


WRITER_WAIT_SECONDS = float(os.environ.get("NEWS_WRITER_WAIT", "900"))
"""How long a writer waits for another process's writer slot before giving up with `StoreBusy`."""
_held_slots: dict[Path, tuple[int, int]] = {}
"""Store → (lock file descriptor, depth): the slot is re-entrant within a process (a stage may open the store
again while it holds it), so only other processes wait."""


@contextmanager
def writer_slot(db_path: Path, wait_seconds: float | None = None) -> Iterator[None]:
    """Hold `<store>.writer.lock` (an advisory `flock`) while writing. DuckDB lets one process write a file; two
    `news ingest` runs started at once would otherwise fail on its lock with a traceback. The slot is released
    when the process dies, so a killed run never leaves it taken. Airflow's writers also share a one-slot pool."""
    key = db_path.resolve()
    if key in _held_slots:
        descriptor, depth = _held_slots[key]
        _held_slots[key] = (descriptor, depth + 1)
    else:
        descriptor = os.open(f"{key}.writer.lock", os.O_RDWR | os.O_CREAT, 0o644)
        _acquire(descriptor, key, WRITER_WAIT_SECONDS if wait_seconds is None else wait_seconds)
        _held_slots[key] = (descriptor, 1)
    try:
        yield
    finally:
        descriptor, depth = _held_slots[key]
        if depth > 1:
            _held_slots[key] = (descriptor, depth - 1)
        else:
            del _held_slots[key]
            fcntl.flock(descriptor, fcntl.LOCK_UN)
            os.close(descriptor)


def _acquire(descriptor: int, store: Path, wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(descriptor)
                raise StoreBusy(f"store busy: another process has been writing {store} for over "
                                f"{wait_seconds:g} s (NEWS_WRITER_WAIT); try again when it finishes") from None
            time.sleep(0.2)


def merge_rows(con: duckdb.DuckDBPyConnection, table: str, rows_sql: str, keys: Sequence[str],
               columns: Sequence[str], *, update: bool = False, params: Sequence[object] = ()) -> None:
    """Write the rows `rows_sql` selects into `table` by key, saying what happens to a key the table has: kept as
    it is, or with `update` overwritten; the input gives one row per key. This is what `INSERT OR IGNORE` and
    `INSERT OR REPLACE` did through primary keys, made explicit because the live store (DuckLake) has no
    constraints, so re-running a run or replaying its inputs still adds nothing."""
    quoted = [f'"{column}"' for column in columns]
    quoted_keys = [f'"{key}"' for key in keys]
    on = " AND ".join(f"t.{key} = s.{key}" for key in quoted_keys)
    source = (f"SELECT {', '.join(quoted)} FROM ({rows_sql}) "
              f"QUALIFY row_number() OVER (PARTITION BY {', '.join(quoted_keys)}) = 1")
    assignments = ", ".join(f"{column} = s.{column}" for column in quoted if column not in quoted_keys)
    matched = f"WHEN MATCHED THEN UPDATE SET {assignments} " if update and assignments else ""
    con.execute(f"MERGE INTO {table} AS t USING ({source}) AS s ON ({on}) {matched}"
                f"WHEN NOT MATCHED THEN INSERT ({', '.join(quoted)}) VALUES ({', '.join('s.' + c for c in quoted)})",
                list(params))


def ensure_schema(db_path: Path) -> None:
    with connect(db_path) as con:
        migrate(con)


def named_query(name: str) -> str:
    """An analyst query from sql/queries/ by file stem."""
    return (QUERIES_DIR / f"{name}.sql").read_text()


def named_queries() -> list[str]:
    """The names `news query NAME` accepts, for the message that lists them."""
    return sorted(path.stem for path in QUERIES_DIR.glob("*.sql"))


def query(db_path: Path, sql: str, params: list | None = None) -> tuple[list[str], list[tuple]]:
    """Run the pipeline's own SQL read-only and return column names and rows.

    It trusts its SQL: text from a person (the CLI, a UI, a report parameter) goes through `read_only_query`.
    """
    with connect(db_path, read_only=True) as con:
        cursor = con.execute(sql, params or [])
        columns = [d[0] for d in cursor.description] if cursor.description else []
        return columns, cursor.fetchall()


ONE_READ_STATEMENT = "only one read-only SELECT/WITH/DESCRIBE/SHOW/SUMMARIZE/EXPLAIN statement is allowed"
STORE_ONLY = "a query reads the store only, no other file, the network or extensions"
# lock_configuration comes last: once it is on, SQL cannot SET the others back.
SANDBOX_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}
_DUCKDB_MAGIC = b"DUCK"
_EXPLAIN_PREFIX = re.compile(r"EXPLAIN\s+(?:ANALYZE\s+)?(?:\([^)]*\)\s*)?", re.IGNORECASE)
_REFUSAL_REASONS = {
    duckdb.StatementType.COPY: "COPY reads and writes files",
    duckdb.StatementType.EXPORT: "EXPORT DATABASE writes files",
    duckdb.StatementType.ATTACH: "ATTACH opens other database files",
    duckdb.StatementType.DETACH: "DETACH changes the attached databases",
    duckdb.StatementType.LOAD: "INSTALL/LOAD download and load extensions",
    duckdb.StatementType.SET: "SET/RESET/USE change the session",
    duckdb.StatementType.PRAGMA: "PRAGMA (and IMPORT/COPY DATABASE) run commands",
    duckdb.StatementType.CALL: "CALL runs commands and table functions",
}


class QueryError(Exception):
    """SQL from a person could not run; the message is one line, fit to show as it is."""


class QueryRefused(QueryError):
    """The sandbox will not run this SQL: it is not one statement that only reads the store."""

    def __init__(self, reason: str, rule: str = ONE_READ_STATEMENT):
        super().__init__(f"refused: {reason}; {rule}")


def read_only_query(db_path: Path, sql: str, params: list | None = None) -> tuple[list[str], list[tuple]]:
    """Run one statement from a person against the store without letting it touch anything else.

    Two walls, so a gap in one is not a hole: the statement must parse as a single SELECT (DuckDB parses
    WITH, DESCRIBE, SHOW, SUMMARIZE, FROM-first and VALUES as SELECT) or an EXPLAIN of one; and the
    connection is read-only with file, network and extension access off and its configuration locked,
    so a SELECT that calls read_text, read_csv or glob fails too. Raises QueryRefused for what the sandbox
    will not run and QueryError, with a one-line message, for everything else that fails.
    """
    statement = _single_read_statement(sql)
    with sandbox(db_path) as con:
        try:
            cursor = con.execute(statement, params or [])
            columns = [d[0] for d in cursor.description] if cursor.description else []
            return columns, cursor.fetchall()
        except duckdb.PermissionException as exc:
            raise QueryRefused(_one_line(exc), STORE_ONLY) from None
        except duckdb.Error as exc:
            raise QueryError(_one_line(exc)) from None


def is_sql(text: str) -> bool:
    """Whether DuckDB's parser accepts the text, to tell a mistyped query name from SQL."""
    if _refused_keyword(text):
        return True
    try:
        duckdb.extract_statements(text)
    except duckdb.Error:
        return False
    return True


_LEADING_KEYWORD = re.compile(r"\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*(\w+)", re.DOTALL)
_REFUSED_BEFORE_PARSING = {
    "PRAGMA": "PRAGMA is a configuration statement, whatever DuckDB parses it as",
    "IMPORT": "IMPORT DATABASE reads files (DuckDB opens them while parsing)",
}
"""Statements judged by their first word: DuckDB 1.x rewrites some pragmas (`PRAGMA version`) into SELECTs, and
its parser reads an IMPORT DATABASE's files outside any sandbox."""


def _refused_keyword(sql: str) -> str | None:
    leading = _LEADING_KEYWORD.match(sql)
    return _REFUSED_BEFORE_PARSING.get(leading.group(1).upper()) if leading else None


def _single_read_statement(sql: str) -> str:
    """The text of the one read statement in `sql`, or QueryRefused / QueryError (syntax) saying why not."""
    refusal = _refused_keyword(sql)
    if refusal:
        raise QueryRefused(refusal)
    try:
        statements = duckdb.extract_statements(sql)
        kinds = [statement.type for statement in statements]
    except duckdb.Error as exc:
        raise QueryError(_one_line(exc)) from None
    except ValueError:
        raise QueryRefused("a statement of a kind this DuckDB client cannot name") from None
    if len(statements) != 1:
        raise QueryRefused("no statement" if not statements else f"{len(statements)} statements")
    statement, kind = statements[0], kinds[0]
    if kind == duckdb.StatementType.EXPLAIN:
        explained = _EXPLAIN_PREFIX.match(statement.query)
        if explained is None:
            raise QueryRefused("EXPLAIN of something other than a SELECT")
        try:
            _single_read_statement(statement.query[explained.end():])
        except QueryError:
            raise QueryRefused("EXPLAIN of something other than a SELECT") from None
    elif kind != duckdb.StatementType.SELECT:
        keyword = kind.name.replace("_", " ")
        raise QueryRefused(_REFUSAL_REASONS.get(kind, f"{keyword} is not a read statement"))
    return statement.query


@contextmanager
def sandbox(db_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection with SANDBOX_CONFIG, after checking the file is a DuckDB store at all.

    The header check comes first because DuckDB, given an SQLite file, tries to load its sqlite extension.
    """
    db_path = Path(db_path)
    if not db_path.is_file():
        raise QueryError(f"no such store: {db_path}")
    with db_path.open("rb") as store:
        if store.read(12)[8:12] != _DUCKDB_MAGIC:
            raise QueryError(f"not a DuckDB store: {db_path}")
    try:
        con = duckdb.connect(str(db_path), read_only=True, config=SANDBOX_CONFIG)
    except duckdb.IOException as exc:
        if "Could not set lock" in str(exc):
            holder = re.search(r"\(PID (\d+)\)", str(exc))
            by = f" (PID {holder.group(1)})" if holder else ""
            raise QueryError(f"store is locked by another process{by}, a writer such as news ingest/fetch "
                             f"or an Airflow task: {db_path}; try again when it finishes") from None
        raise QueryError(_one_line(exc)) from None
    except duckdb.Error as exc:
        raise QueryError(_one_line(exc)) from None
    try:
        yield con
    finally:
        con.close()


def _one_line(exc: Exception) -> str:
    """DuckDB's message without the echoed SQL and caret lines that follow its first blank line."""
    head = str(exc).strip().split("\n\n")[0]
    return " ".join(line.strip() for line in head.splitlines())
