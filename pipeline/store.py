"""The store: a DuckLake (a catalog database plus Parquet data files), its migrations from sql/, connections, and
the queries the engine needs.

A DuckLake lets many processes read while one writes, and makes every commit a snapshot: analysts keep a notebook
open during a run, and can query the store as it was after any run. The catalog is a SQLite file beside the data
folder by default (`data/news.ducklake` and `data/news.ducklake.files/`), or a PostgreSQL database in production.
DuckLake has no primary keys or unique constraints: every write says what happens to a known key (`merge_rows`),
and the loader's dedup-critical section is serialised by the writer slot (`writer_slot`).
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager, nullcontext, suppress
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import duckdb

from pipeline.extensions import extension_file, load_extension
from pipeline.store_location import Store, StoreLike

if TYPE_CHECKING:
    import pyarrow as pa

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"
QUERIES_DIR = SQL_DIR / "queries"
_MIGRATION_NAME = re.compile(r"^(\d+)_[\w-]+\.sql$")
ENGINE_CONFIG = {"allow_unsigned_extensions": True}
"""The engine's own connections load only the extension files of the pinned packages (`pipeline.extensions`) and run
only the pipeline's SQL, so they skip DuckDB's signature check, which hashes both files again on every connection
(0.28 s of every connect, 14× a replay's plan). The sandbox, which runs a person's SQL, keeps the check."""


def spill_dir() -> str:
    """Where DuckDB spills a large join or sort, one folder per process (DuckDB removes it on close): an in-memory
    connection would otherwise spill into `.tmp` in the current folder, wherever the CLI was started."""
    return str(Path(tempfile.gettempdir()) / f"news-duckdb-spill-{os.getpid()}")


LAKE = "news"
"""The name the store is attached under; every connection `USE`s it, so SQL names its tables unqualified."""


def migrations() -> list[tuple[int, Path]]:
    found = []
    for path in MIGRATIONS_DIR.iterdir():
        match = _MIGRATION_NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def pending_migrations(con: duckdb.DuckDBPyConnection) -> list[tuple[int, Path]]:
    """The migrations not recorded in schema_migrations (all of them when it does not exist). Asked of the table
    itself: listing the lake's tables first cost 40 to 60 ms of every connection that migrates."""
    try:
        done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    except duckdb.CatalogException:
        done = set()
    return [(version, path) for version, path in migrations() if version not in done]


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply the migrations not yet recorded in schema_migrations, each in its own transaction (one snapshot);
    returns the versions applied."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL, name VARCHAR, "
                "applied_at TIMESTAMP)")
    applied = []
    for version, path in pending_migrations(con):
        con.execute("BEGIN")
        con.execute(path.read_text())
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, current_timestamp::TIMESTAMP)", [version, path.name])
        commit(con, f"migration {path.name}", {"migration": version})
        applied.append(version)
    return applied


def commit(con: duckdb.DuckDBPyConnection, message: str, extra: dict[str, object] | None = None) -> None:
    """Commit the open transaction as one snapshot that says what it was (`news.snapshots()` lists them)."""
    import json

    con.execute(f"CALL {LAKE}.set_commit_message('news-pipeline', ?, extra_info => ?)",
                [message, json.dumps(extra or {}, sort_keys=True)])
    con.execute("COMMIT")


DATA_INLINING_ROW_LIMIT = 0
"""Rows a commit keeps in the catalog instead of a Parquet file: none. With inlining on (DuckLake's default), a
load of a few articles after other small loads lost rows: the loader's MERGE into `entities` followed by UPDATEs
of the same rows in one transaction left mentions naming entities that were never stored (reproduced with three
12-entry stream micro-batches; DuckDB 1.5.5, ducklake d8a1881e). Every commit writes Parquet files instead, and
`news maintain` merges them."""


def attach(con: duckdb.DuckDBPyConnection, store: Store, read_only: bool = True,
           snapshot: int | None = None) -> None:
    """Attach the store as `news` on a DuckDB connection and make it the default database, with the extensions
    loaded from their PyPI packages (`pipeline.extensions`). The data path configured wins over the one the
    catalog recorded (file paths inside are relative to it), so a catalog and its folder can move together."""
    load_extension(con, "ducklake")
    load_extension(con, "sqlite_scanner" if store.catalog_file else "postgres_scanner")
    options = [f"DATA_PATH '{_quoted(store.data_path)}'", "OVERRIDE_DATA_PATH true"]
    if read_only:
        options.append("READ_ONLY")
    else:
        options.append(f"DATA_INLINING_ROW_LIMIT {DATA_INLINING_ROW_LIMIT}")
    if snapshot is not None:
        options.append(f"SNAPSHOT_VERSION {int(snapshot)}")
    con.execute(f"ATTACH 'ducklake:{_quoted(store.catalog)}' AS {LAKE} ({', '.join(options)})")
    con.execute(f"USE {LAKE}")


def shell_init_sql(store: Store, read_only: bool = True) -> str:
    """The statements that attach the store in a DuckDB CLI (or any DuckDB client of the pinned version): what
    `news shell` runs first, and what the README shows analysts."""
    loads = [f"LOAD '{_quoted(str(extension_file(name)))}';" for name in
             ("ducklake", "sqlite_scanner" if store.catalog_file else "postgres_scanner")]
    mode = ", READ_ONLY" if read_only else ""
    return " ".join([*loads, f"ATTACH 'ducklake:{_quoted(store.catalog)}' AS {LAKE} "
                              f"(DATA_PATH '{_quoted(store.data_path)}', OVERRIDE_DATA_PATH true{mode});",
                     f"USE {LAKE};"])


def _quoted(text: str) -> str:
    return text.replace("'", "''")


@contextmanager
def connect(where: StoreLike, read_only: bool = False, snapshot: int | None = None, exclusive: bool = True,
            config: dict[str, str | bool | int | float | list[str]] | None = None,
            ) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection with the store attached (as of `snapshot` when given), always closed. A read-write connection
    first takes the store's writer slot (`writer_slot`), so a second writing process waits its turn, unless it is
    not `exclusive` (a write that deduplicates nothing, such as quality results, which DuckLake commits beside a
    running load); a read-only one takes nothing and never waits, whatever is writing."""
    store = Store.at(where)
    if not read_only and store.catalog_file:
        store.catalog_file.parent.mkdir(parents=True, exist_ok=True)
    if not read_only and "://" not in store.data_path:
        store.home.mkdir(parents=True, exist_ok=True)
    if read_only and not store.exists():
        raise FileNotFoundError(f"no store at {store}")
    with nullcontext() if read_only or not exclusive else writer_slot(store):
        if store in _kept and store not in _kept_in_use and snapshot is None and config is None:
            with _kept_connection(store) as con:
                yield con
            return
        con = _open(store, read_only, snapshot, config)
        try:
            yield con
        finally:
            con.close()


def _open(store: Store, read_only: bool = False, snapshot: int | None = None,
          config: dict[str, str | bool | int | float | list[str]] | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"threads": min(os.cpu_count() or 1, 4), "temp_directory": spill_dir(),
                                 **ENGINE_CONFIG, **(config or {})})
    try:
        attach(con, store, read_only, snapshot)
    except BaseException:
        con.close()
        raise
    return con


_kept: dict[Store, duckdb.DuckDBPyConnection | None] = {}
"""Stores whose connection this process keeps (`kept_connection`): the connection, or None until one is needed."""
_kept_in_use: set[Store] = set()
"""Stores whose kept connection a `connect` block is using: a `connect` nested in it gets a connection of its own,
as before, so it neither joins nor ends the outer block's transaction."""


@contextmanager
def kept_connection(where: StoreLike) -> Iterator[None]:
    """Within this block, `connect` calls on a store with a PostgreSQL catalog share one read-write connection
    instead of attaching the lake afresh each time; the writer slot is still taken per `connect`, as before.

    A stream drain connects five times per micro-batch (consume, its schema check, plan, load, acknowledge), and
    attaching DuckLake reads the catalog each time: about 0.08 CPU-s in the process plus PostgreSQL's share, a
    fifth of a 20-entry micro-batch's cycle at 10 articles/s. A kept connection sees every snapshot committed
    since its last statement (each statement and transaction starts at the catalog's latest snapshot), so it
    reads what a fresh one would. An SQLite catalog is not shared: the idle connection holds the catalog file's
    lock and other processes' commits fail ("database is locked"). A `connect` block that raises, or leaves a
    transaction open, rolls it back, as closing did; after an error the connection is replaced, so a dropped
    catalog connection costs one micro-batch, not the rest of the drain."""
    store = Store.at(where)
    if store.catalog_file is not None or store in _kept:
        yield
        return
    _kept[store] = None
    try:
        yield
    finally:
        con = _kept.pop(store)
        if con is not None:
            con.close()


@contextmanager
def _kept_connection(store: Store) -> Iterator[duckdb.DuckDBPyConnection]:
    con = _kept[store]
    if con is None:
        con = _kept[store] = _open(store)
    _kept_in_use.add(store)
    try:
        yield con
    except BaseException:
        _kept[store] = None
        con.close()
        raise
    finally:
        _kept_in_use.discard(store)
    _rollback_open_transaction(con)


def _rollback_open_transaction(con: duckdb.DuckDBPyConnection) -> None:
    with suppress(duckdb.TransactionException):
        con.execute("ROLLBACK")


class StoreBusy(RuntimeError):
    """Another process held the store's writer slot for longer than this one would wait."""


WRITER_WAIT_SECONDS = float(os.environ.get("NEWS_WRITER_WAIT", "900"))
"""How long a writer waits for another process's writer slot before giving up with `StoreBusy`."""
_held_slots: dict[Path, tuple[int, int]] = {}
"""Store → (lock file descriptor, depth): the slot is re-entrant within a process (a stage may open the store
again while it holds it), so only other processes wait."""


@contextmanager
def writer_slot(where: StoreLike, wait_seconds: float | None = None) -> Iterator[None]:
    """Hold the store's `lock_file` (an advisory `flock`) while writing. DuckLake takes many writers, but dedup
    must see every earlier article: two runs settling and deduplicating at once would both load the same story.
    A second `news ingest` waits here instead. The slot is released when the process dies, so a killed run never
    leaves it taken. Airflow's writers also share a one-slot pool, which serialises them across machines."""
    store = Store.at(where)
    key = store.lock_file.resolve()
    if key in _held_slots:
        descriptor, depth = _held_slots[key]
        _held_slots[key] = (descriptor, depth + 1)
    else:
        key.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(key, os.O_RDWR | os.O_CREAT, 0o644)
        _acquire(descriptor, store, WRITER_WAIT_SECONDS if wait_seconds is None else wait_seconds)
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


def _acquire(descriptor: int, store: Store, wait_seconds: float) -> None:
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


def execute(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] | None = None,
            tables: Mapping[str, pa.Table] | None = None) -> duckdb.DuckDBPyConnection:
    """Run one statement that reads the Arrow ``tables`` by name, keeping nothing of them once it is done.

    Not `con.register`: a registered table is a view, and a view dropped inside a transaction stays in the
    catalog, with the Arrow data it holds, until the transaction ends (DuckDB keeps it to roll back). The load
    registered a score of tables per 1,000 articles in one transaction, so it held every chunk's rows to the end
    (1.1 GB at 10k articles). DuckDB's replacement scan instead binds a name for the one statement, from the
    locals of the Python frame that calls ``execute``: here the namespace `exec` runs the call in, holding just
    these tables. It is asked only for names the catalog lacks, so a table here must not share a store table's
    name."""
    namespace = {**(tables or {}), "_con": con, "_sql": sql, "_params": list(params or [])}
    exec("_con.execute(_sql, _params)", {}, namespace)
    return con


def merge_rows(con: duckdb.DuckDBPyConnection, table: str, rows_sql: str, keys: Sequence[str],
               columns: Sequence[str], *, update: bool = False, params: Sequence[object] = (),
               tables: Mapping[str, pa.Table] | None = None) -> None:
    """Write the rows `rows_sql` selects into `table` by key, saying what happens to a key the table has: kept as
    it is, or with `update` overwritten; the input gives one row per key. This is what `INSERT OR IGNORE` and
    `INSERT OR REPLACE` did through primary keys, made explicit because the live store (DuckLake) has no
    constraints, so re-running a run or replaying its inputs still adds nothing. `rows_sql` may read the Arrow
    `tables` by name (`execute`)."""
    quoted = [f'"{column}"' for column in columns]
    quoted_keys = [f'"{key}"' for key in keys]
    on = " AND ".join(f"t.{key} = s.{key}" for key in quoted_keys)
    source = (f"SELECT {', '.join(quoted)} FROM ({rows_sql}) "
              f"QUALIFY row_number() OVER (PARTITION BY {', '.join(quoted_keys)}) = 1")
    assignments = ", ".join(f"{column} = s.{column}" for column in quoted if column not in quoted_keys)
    matched = f"WHEN MATCHED THEN UPDATE SET {assignments} " if update and assignments else ""
    execute(con, f"MERGE INTO {table} AS t USING ({source}) AS s ON ({on}) {matched}"
            f"WHEN NOT MATCHED THEN INSERT ({', '.join(quoted)}) VALUES ({', '.join('s.' + c for c in quoted)})",
            list(params), tables)


def ensure_schema(where: StoreLike) -> None:
    """Bring the store's schema up to date, taking the writer slot only when a migration is pending, so a reader
    (a report, the quality gate, a fetch's frontier snapshot) never waits for a running load."""
    store = Store.at(where)
    if store.exists():
        try:
            with connect(store, read_only=True) as con:
                if not pending_migrations(con):
                    return
        except duckdb.CatalogException:
            if store.catalog_file:
                raise
            # A PostgreSQL database without a lake yet: the read-only attach may not create one.
    with connect(store) as con:
        migrate(con)


def named_query(name: str) -> str:
    """An analyst query from sql/queries/ by file stem."""
    return (QUERIES_DIR / f"{name}.sql").read_text()


def named_queries() -> list[str]:
    """The names `news query NAME` accepts, for the message that lists them."""
    return sorted(path.stem for path in QUERIES_DIR.glob("*.sql"))


_Read = TypeVar("_Read")
Rows = tuple[list[str], list[tuple]]
"""Column names and rows of one statement."""
Query = Callable[..., Rows]
"""Runs one statement (SQL, optional parameters) on a connection `reading` opened."""


def query(where: StoreLike, sql: str, params: list | None = None,
          variables: Mapping[str, object] | None = None) -> Rows:
    """Run the pipeline's own SQL read-only and return column names and rows; ``variables`` are set first
    (``getvariable(name)`` in the SQL).

    It trusts its SQL: text from a person (the CLI, a UI, a report parameter) goes through `read_only_query`.
    """
    return reading(where, lambda run: run(sql, params), variables)


def reading(where: StoreLike, read: Callable[[Query], _Read], variables: Mapping[str, object] | None = None) -> _Read:
    """`read` given a function that runs the pipeline's own SQL, every statement on one read-only connection
    (each connection attaches the lake anew: a summary of nine queries spent 0.4 s on it), ``variables`` set
    first; run again as a whole if maintenance merged away a file under it (`retry_lost_files`)."""
    def attempt() -> _Read:
        with connect(where, read_only=True) as con:
            for name, value in (variables or {}).items():
                con.execute(f"SET VARIABLE {name} = ?", [value])

            def run(sql: str, params: list | None = None) -> Rows:
                cursor = con.execute(sql, params or [])
                columns = [d[0] for d in cursor.description] if cursor.description else []
                return columns, cursor.fetchall()

            return read(run)

    return retry_lost_files(attempt)


LOST_FILE_ATTEMPTS = 3
"""How often a read that met a Parquet file maintenance had just deleted is run in all (`retry_lost_files`)."""


def retry_lost_files(read: Callable[[], _Read]) -> _Read:
    """Run `read` again, on the fresh connection it opens, when it failed because a data file of the lake was
    gone: `maintain` deletes the files it merged away at once, so a read already scanning one fails (never answers
    wrongly), and run again it reads the merged file. Seen in a nightly run's `report`, which read beside another
    run's maintenance and failed the run. Any other error, or the same one `LOST_FILE_ATTEMPTS` times, is raised."""
    for attempt in range(1, LOST_FILE_ATTEMPTS + 1):
        try:
            return read()
        except duckdb.IOException as error:
            if attempt == LOST_FILE_ATTEMPTS or not is_lost_file(error):
                raise
    raise AssertionError("unreachable")


def is_lost_file(error: BaseException) -> bool:
    """A lake data file that the catalog named could not be opened: it is not there (any more)."""
    text = str(error)
    return isinstance(error, duckdb.IOException) and ".parquet" in text and "No such file or directory" in text


ONE_READ_STATEMENT = "only one read-only SELECT/WITH/DESCRIBE/SHOW/SUMMARIZE/EXPLAIN statement is allowed"
STORE_ONLY = "a query reads the store only, no other file, the network or extensions"
# lock_configuration comes last: once it is on, SQL cannot SET the others back.
SANDBOX_CONFIG: dict[str, bool] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}
_DUCKDB_MAGIC = b"DUCK"
_SQLITE_MAGIC = b"SQLite format 3\x00"
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


def read_only_query(where: StoreLike, sql: str, params: list | None = None,
                    snapshot: int | None = None) -> tuple[list[str], list[tuple]]:
    """Run one statement from a person against the store without letting it touch anything else.

    Two walls, so a gap in one is not a hole: the statement must parse as a single SELECT (DuckDB parses
    WITH, DESCRIBE, SHOW, SUMMARIZE, FROM-first and VALUES as SELECT) or an EXPLAIN of one; and the
    connection is read-only with file, network and extension access off and its configuration locked,
    so a SELECT that calls read_text, read_csv or glob fails too. Raises QueryRefused for what the sandbox
    will not run and QueryError, with a one-line message, for everything else that fails. `snapshot` reads the
    store as it was at that DuckLake snapshot (`run_snapshot` finds a run's).
    """
    statement = _single_read_statement(sql)

    def read() -> tuple[list[str], list[tuple]]:
        with sandbox(where, snapshot) as con:
            cursor = con.execute(statement, params or [])
            columns = [d[0] for d in cursor.description] if cursor.description else []
            return columns, cursor.fetchall()

    try:
        return retry_lost_files(read)
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


_CATALOG_FUNCTION = re.compile(r"""(?<![\w$])["`]?((?:postgres|sqlite|mysql)_\w*)["`]?\s*\(""", re.IGNORECASE)
"""A call of a scanner's own functions (`postgres_query`, `sqlite_scan`, ...): with a PostgreSQL catalog attached they
would run any SQL on the catalog's server (its files included) as the catalog's user, beneath the lake."""
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
    catalog_call = _CATALOG_FUNCTION.search(sql)
    if catalog_call:
        raise QueryRefused(f"{catalog_call.group(1)} reaches the catalog database beneath the store", STORE_ONLY)
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
def sandbox(where: StoreLike, snapshot: int | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection with the store attached read-only, then SANDBOX_CONFIG: file access only to the catalog file
    and the data folder (DuckLake reads them as the query runs), no network beyond a PostgreSQL catalog, no
    extension loading, configuration locked. A file that is no SQLite catalog is refused before DuckDB opens it
    (a single-file DuckDB store of the old kind is named as such: `news import` moves it into a lake)."""
    store = Store.at(where)
    catalog = store.catalog_file
    if catalog is not None:
        if not catalog.is_file():
            raise QueryError(f"no such store: {catalog}")
        with catalog.open("rb") as head:
            magic = head.read(16)
        if magic[8:12] == _DUCKDB_MAGIC:
            raise QueryError(f"{catalog} is a single-file DuckDB database, not a DuckLake catalog; "
                             f"import it with: news import {catalog}")
        if magic != _SQLITE_MAGIC or not _is_lake_catalog(catalog):
            raise QueryError(f"not a store (no DuckLake catalog): {catalog}")
    con = duckdb.connect(config={"temp_directory": spill_dir()})
    try:
        try:
            attach(con, store, read_only=True, snapshot=snapshot)
        except duckdb.Error as exc:
            raise QueryError(_one_line(exc)) from None
        # Literals, not parameters: binding a Python list makes DuckDB import pandas (1.5 s per query).
        con.execute(f"SET allowed_directories = ['{_quoted(store.data_path)}']")
        con.execute(f"SET allowed_paths = [{repr(_quoted(str(catalog))) if catalog else ''}]")
        for name, value in SANDBOX_CONFIG.items():
            con.execute(f"SET {name} = {str(value).lower()}")
        yield con
    finally:
        con.close()


def _is_lake_catalog(catalog: Path) -> bool:
    """Whether an SQLite file holds a DuckLake catalog, read without writing (DuckDB, attaching read-only, would
    otherwise answer with a message about creating a DuckLake)."""
    import sqlite3

    try:
        with closing(sqlite3.connect(f"{catalog.as_uri()}?mode=ro", uri=True)) as con:
            return con.execute("SELECT 1 FROM sqlite_master WHERE name = 'ducklake_metadata'").fetchone() is not None
    except sqlite3.Error:
        return False


def snapshots(where: StoreLike) -> list[tuple[int, str | None, dict]]:
    """The store's snapshots, oldest first: (snapshot id, commit message, extra info)."""
    import json

    with connect(where, read_only=True) as con:
        rows = con.execute(f"SELECT snapshot_id, commit_message, commit_extra_info FROM {LAKE}.snapshots() "
                           "ORDER BY snapshot_id").fetchall()
    return [(snapshot, message, json.loads(extra) if extra else {}) for snapshot, message, extra in rows]


def run_snapshot(where: StoreLike, run_id: str) -> int | None:
    """The snapshot a run's load committed (the last one, if the run was loaded again), or None."""
    found = [snapshot for snapshot, _, extra in snapshots(where)
             if extra.get("run_id") == run_id and extra.get("stage") == "load"]
    return found[-1] if found else None


def _one_line(exc: Exception) -> str:
    """DuckDB's message without the echoed SQL and caret lines that follow its first blank line."""
    head = str(exc).strip().split("\n\n")[0]
    return " ".join(line.strip() for line in head.splitlines())
