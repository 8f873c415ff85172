"""Lake maintenance: fold small writes into fewer Parquet files, and forget history older than the retention.

Every load commits one snapshot, and a small load writes small files (or, under DuckLake's inlining limit, rows in
the catalog itself): night after night the store becomes thousands of tiny files that every query opens, and
nothing is ever deleted, because each snapshot keeps what it saw. And the loader's MERGE into the aggregates
(pipeline/aggregates.py) updates rows, which DuckLake records as delete files beside the data files: every read
then skips dead rows. `maintain` is the nightly clean-up: it flushes inlined rows to Parquet, expires the
snapshots older than the retention (`Settings.snapshot_retention_days`), rewrites files whose rows are largely
deleted (`REWRITE_DELETED_SHARE`), merges adjacent small files and deletes the files no remaining snapshot
needs. Rewriting and merging keep each row's snapshot range, so every snapshot kept still reads exactly what it
read before: `news query --as-of-run` works for every run loaded within the retention window, and for none before
it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from pipeline.store import LAKE, Store, StoreLike, commit, connect

METADATA = f"__ducklake_metadata_{LAKE}"
"""Where DuckDB attaches the DuckLake catalog's own tables (data files, files scheduled for deletion)."""
ORPHAN_GRACE = dt.timedelta(hours=1)
"""An untracked Parquet file younger than this is left alone: it may belong to a commit still under way (a
non-exclusive writer such as the quality gate writes beside maintenance), not to a killed one."""
REWRITE_DELETED_SHARE = 0.1
"""A data file at least this share of whose rows are deleted (by snapshots no longer kept) is rewritten without
them. DuckLake's default (0.95) would leave an aggregate table's files carrying dead rows for months: each load's
MERGE updates a few per cent of them."""
_DUCKLAKE_FILE = re.compile(r"^ducklake-[0-9a-f-]+\.parquet$")
"""How DuckLake names the files it writes; maintenance never deletes a file named otherwise."""


@dataclass(frozen=True)
class LakeSize:
    """What the lake holds: its snapshots, and its Parquet files (data and delete files, including those only an
    old snapshot or nothing at all still needs) with their bytes, plus the catalog file's bytes (inlined rows
    live there; 0 for a PostgreSQL catalog). Counted on disk for a local data folder, from the catalog's file
    lists for object storage."""

    snapshots: int
    files: int
    data_bytes: int
    catalog_bytes: int

    @property
    def bytes(self) -> int:
        return self.data_bytes + self.catalog_bytes


@dataclass(frozen=True)
class MaintenanceReport:
    """What one `maintain` did, with the lake's size before and after."""

    cutoff: dt.datetime
    """Snapshots committed before this were expired (the latest one never is)."""
    before: LakeSize
    after: LakeSize
    rows_flushed: int
    files_merged: int
    """Small files merged away (`files_written` new ones replace them)."""
    files_written: int
    files_rewritten: int
    """Files rewritten without their deleted rows."""
    expired: tuple[int, ...]
    """The ids of the snapshots expired."""
    files_deleted: int
    """Files no snapshot needs any more (merged away, or only an expired snapshot's), deleted."""
    orphans_deleted: int
    orphans_kept: tuple[str, ...] = ()
    """Untracked files not deleted because DuckLake did not name them: someone else's, left for a person."""

    def to_xcom(self) -> dict[str, object]:
        """A JSON-able summary for Airflow's XCom."""
        summary = asdict(self)
        summary["cutoff"] = self.cutoff.isoformat()
        summary["expired"] = len(self.expired)
        return summary


def maintain(store: StoreLike, retention: dt.timedelta, now: dt.datetime | None = None) -> MaintenanceReport:
    """Compact the lake and expire the snapshots committed more than `retention` before `now` (default: the
    current time); see the module docstring. Running it again straight away changes nothing that matters: it
    finds nothing to flush, merge or expire (it commits no snapshot then).

    It takes the writer slot, like a load, and so waits for a running load to finish (and a load waits for it).
    Flushing and merging rewrite files and commit; a load committing at the same moment would update or delete
    rows in the very files being merged, and DuckLake refuses one of the two commits on conflict: at best the
    compaction is lost, at worst the load, after all its work. And a load in progress has written Parquet files
    its commit does not yet track, which orphan deletion would take for a killed run's leftovers. The slot rules
    both out; maintenance is short, runs after the night's load, and readers never wait for it.

    Files merged away or needed only by expired snapshots are deleted at once, not after a grace period: the rows
    of a merged file live on in the new one with their snapshot ranges, so no snapshot kept needs the old file,
    and the only casualty can be a read that was already scanning it, which fails (never answers wrongly) and is
    run again. DuckLake's own grace (`older_than`) cannot be trusted with a SQLite catalog (see `_expire`).

    Each step commits its own snapshot (DuckLake will not compact in a transaction that also changes data),
    named `maintenance: ...` in `news.snapshots()`. A naive `now` is taken as UTC.
    """
    if retention < dt.timedelta(0):
        raise ValueError(f"the snapshot retention cannot be negative: {retention.total_seconds() / 86400:g} days")
    store = Store.at(store)
    if not store.exists():
        raise FileNotFoundError(f"no store at {store}")
    now = now or dt.datetime.now(dt.UTC)
    cutoff = (now if now.tzinfo else now.replace(tzinfo=dt.UTC)) - retention
    with connect(store) as con:
        before = lake_size(con, store)
        newest = _newest_snapshot(con)
        rows_flushed = sum(row[2] for row in _step(con, "flush inlined data",
                                                   f"FROM ducklake_flush_inlined_data('{LAKE}')"))
        expired = _expire(con, cutoff, newest)
        rewritten = _step(con, "rewrite files with deleted rows",
                          f"FROM ducklake_rewrite_data_files('{LAKE}', delete_threshold => {REWRITE_DELETED_SHARE})")
        merged = _step(con, "merge adjacent files", f"FROM ducklake_merge_adjacent_files('{LAKE}')")
        deleted = con.execute(f"FROM ducklake_cleanup_old_files('{LAKE}', cleanup_all => true)").fetchall()
        orphans_deleted, orphans_kept = _delete_orphans(con, store, cutoff=dt.datetime.now(dt.UTC) - ORPHAN_GRACE)
        after = lake_size(con, store)
    return MaintenanceReport(
        cutoff=cutoff, before=before, after=after, rows_flushed=rows_flushed,
        files_merged=sum(row[2] for row in merged), files_written=sum(row[3] for row in merged),
        files_rewritten=sum(row[2] for row in rewritten),
        expired=expired, files_deleted=len(deleted), orphans_deleted=orphans_deleted, orphans_kept=orphans_kept)


def _step(con: duckdb.DuckDBPyConnection, what: str, sql: str) -> list[tuple]:
    """Run one compaction function in its own transaction, committed as a snapshot that says what it was."""
    con.execute("BEGIN")
    try:
        rows = con.execute(sql).fetchall()
    except BaseException:
        con.execute("ROLLBACK")
        raise
    commit(con, f"maintenance: {what}", {"stage": "maintenance"})
    return rows


def _newest_snapshot(con: duckdb.DuckDBPyConnection) -> int:
    (newest,) = con.execute(f"SELECT max(snapshot_id) FROM {LAKE}.snapshots()").fetchone() or (0,)
    return int(newest)


def _expire(con: duckdb.DuckDBPyConnection, cutoff: dt.datetime, newest: int) -> tuple[int, ...]:
    """Expire the snapshots committed before `cutoff`, never `newest` (the store as maintenance found it).

    The ids are chosen here, compared as timestamps by DuckDB, and passed as `versions`: with a SQLite catalog
    (DuckDB 1.5.5, ducklake extension d8a1881e) `ducklake_expire_snapshots(older_than => t)` compares the stored
    text with a differently formatted one, and expires every snapshot of t's whole day, later ones too
    (`ducklake_cleanup_old_files(older_than => t)` likewise). A DuckDB catalog compares correctly."""
    versions = [snapshot for (snapshot,) in con.execute(
        f"SELECT snapshot_id FROM {LAKE}.snapshots() WHERE snapshot_time < ? AND snapshot_id < ? "
        "ORDER BY snapshot_id", [cutoff, newest]).fetchall()]
    if not versions:
        return ()
    con.execute(f"FROM ducklake_expire_snapshots('{LAKE}', versions => ?)", [versions]).fetchall()
    return tuple(versions)


def _delete_orphans(con: duckdb.DuckDBPyConnection, store: Store, cutoff: dt.datetime) -> tuple[int, tuple[str, ...]]:
    """Delete the Parquet files in the data folder that the catalog does not know (a killed load's), older than
    `cutoff` by their modification time, when this DuckLake has `ducklake_delete_orphaned_files`.

    Nothing is deleted unless every candidate is named as DuckLake names its files and none is a file the catalog
    lists (a data path spelt differently from the recorded one makes live files look orphaned): anything else
    in the folder is someone's, and is reported instead. Rejects' raw files (`rejects/*.bin`) are never
    candidates."""
    (available,) = con.execute("SELECT count(*) FROM duckdb_functions() "
                               "WHERE function_name = 'ducklake_delete_orphaned_files'").fetchone() or (0,)
    if not available:
        return 0, ()
    call = f"FROM ducklake_delete_orphaned_files('{LAKE}', older_than => ?, dry_run => ?)"
    candidates = [path for (path,) in con.execute(call, [cutoff, True]).fetchall()]
    if not candidates:
        return 0, ()
    known = _catalog_file_names(con)
    unexpected = tuple(path for path in candidates
                       if not _DUCKLAKE_FILE.match(Path(path).name) or Path(path).name in known)
    if unexpected:
        return 0, unexpected
    return len(con.execute(call, [cutoff, False]).fetchall()), ()


def _catalog_file_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The names of every file the catalog lists: data and delete files of any snapshot, and those scheduled for
    deletion (DuckLake's names are unique, so a name identifies a file wherever its path is relative to)."""
    rows = con.execute(f"SELECT path FROM {METADATA}.ducklake_data_file UNION ALL "
                       f"SELECT path FROM {METADATA}.ducklake_delete_file UNION ALL "
                       f"SELECT path FROM {METADATA}.ducklake_files_scheduled_for_deletion").fetchall()
    return {Path(path).name for (path,) in rows}


def lake_size(con: duckdb.DuckDBPyConnection, store: Store) -> LakeSize:
    """The lake's snapshots, Parquet files and bytes (see `LakeSize`)."""
    (snapshots,) = con.execute(f"SELECT count(*) FROM {LAKE}.snapshots()").fetchone() or (0,)
    catalog_bytes = store.catalog_file.stat().st_size if store.catalog_file else 0
    if "://" not in store.data_path:
        sizes = [path.stat().st_size for path in store.home.rglob("*.parquet") if path.is_file()]
        return LakeSize(int(snapshots), len(sizes), sum(sizes), catalog_bytes)
    files, data_bytes = con.execute(
        f"SELECT count(*), coalesce(sum(file_size_bytes), 0) FROM (SELECT file_size_bytes FROM "
        f"{METADATA}.ducklake_data_file UNION ALL SELECT file_size_bytes FROM {METADATA}.ducklake_delete_file)"
    ).fetchone() or (0, 0)
    return LakeSize(int(snapshots), int(files), int(data_bytes), catalog_bytes)


def format_report(report: MaintenanceReport) -> str:
    """A few lines for a person (the CLI, the task log): the lake before → after, and what each step did."""
    before, after = report.before, report.after
    lines = [
        f"snapshots  {before.snapshots} → {after.snapshots} ({len(report.expired)} expired, committed before "
        f"{report.cutoff:%Y-%m-%d %H:%M:%S %Z})",
        f"files      {before.files} → {after.files} Parquet files",
        f"bytes      {_human(before.bytes)} → {_human(after.bytes)} (data files {_human(before.data_bytes)} → "
        f"{_human(after.data_bytes)}, catalog {_human(before.catalog_bytes)} → {_human(after.catalog_bytes)})",
        f"steps      {report.rows_flushed} inlined rows flushed, {report.files_merged} files merged into "
        f"{report.files_written}, {report.files_rewritten} rewritten without deleted rows, "
        f"{report.files_deleted} unneeded files and {report.orphans_deleted} orphans deleted",
    ]
    if report.orphans_kept:
        lines.append(f"kept       {len(report.orphans_kept)} untracked files DuckLake did not write, e.g. "
                     f"{report.orphans_kept[0]}")
    return "\n".join(lines)


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"
