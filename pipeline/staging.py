"""Run-scoped Parquet hand-over files between stages (XCom carries only their paths)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

RAW_SCHEMA = pa.schema([
    ("doc_key", pa.string()), ("source_uri", pa.string()), ("kind", pa.string()),
    ("content", pa.binary()), ("url", pa.string()), ("problem", pa.string()), ("transient", pa.bool_()),
])
ARTICLE_SCHEMA = pa.schema([
    ("article_id", pa.string()), ("doc_key", pa.string()), ("url", pa.string()),
    ("canonical_url", pa.string()), ("source_uri", pa.string()), ("site", pa.string()),
    ("title", pa.string()), ("byline", pa.string()), ("published_at", pa.date32()),
    ("published_rule", pa.string()), ("updated_at", pa.date32()), ("language", pa.string()),
    ("language_prob", pa.float64()), ("body", pa.string()), ("body_chars", pa.int32()),
    ("content_hash", pa.string()), ("warnings", pa.list_(pa.string())),
])
MENTION_SCHEMA = pa.schema([
    ("article_id", pa.string()), ("surface", pa.string()), ("label", pa.string()),
    ("start_char", pa.int32()), ("end_char", pa.int32()), ("canonical", pa.string()),
])
DATE_SCHEMA = pa.schema([
    ("article_id", pa.string()), ("value", pa.date32()), ("kind", pa.string()), ("rule", pa.string()),
])
OUTCOME_SCHEMA = pa.schema([
    ("doc_key", pa.string()), ("source_uri", pa.string()), ("state", pa.string()),
    ("reason", pa.string()), ("article_id", pa.string()), ("raw", pa.binary()),
])


def run_dir(staging_dir: Path, run_id: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)
    return Path(staging_dir) / safe


def write(rows: list[dict], schema: pa.Schema, path: Path) -> Path:
    return write_table(pa.Table.from_pylist(rows, schema=schema), path)


def write_table(table: pa.Table, path: Path) -> Path:
    """Write atomically (temp file + rename) so a retried task never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)
    return path


def read(path: Path) -> pa.Table:
    return pq.read_table(path)


def remove_run(staging_dir: Path, run_id: str) -> None:
    """Drop a finished run's hand-over files; the database holds everything worth keeping (raw rejects too)."""
    shutil.rmtree(run_dir(staging_dir, run_id), ignore_errors=True)


def remove_abandoned(staging_dir: Path, retention_hours: float, keep: Path | None = None) -> list[Path]:
    """Drop run folders untouched for `retention_hours`: what a killed run left behind. A finished run removes
    its own folder; a run still working touches its folder at every stage, so it is never this old."""
    root = Path(staging_dir)
    if not root.is_dir():
        return []
    cutoff = time.time() - retention_hours * 3600
    removed = []
    for folder in root.iterdir():
        if folder.is_dir() and folder != keep and _last_touched(folder) < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _last_touched(folder: Path) -> float:
    """Newest modification time in the folder; one that vanishes meanwhile (its run finished) counts as now."""
    try:
        return max((path.stat().st_mtime for path in folder.rglob("*")), default=folder.stat().st_mtime)
    except OSError:
        return time.time()
