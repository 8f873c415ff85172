"""A run's folder in staging: the hand-over files between its stages (XCom carries only their paths).

`RunFolder` owns every file name, so a stage asks the folder where its input is rather than spelling a name
another stage also spells. Parquet files are written to a temporary name and renamed, so a retried task never
reads half a file.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.sources.base import SourceState

RAW_SCHEMA = pa.schema([
    ("doc_key", pa.string()), ("source_uri", pa.string()), ("format", pa.string()),
    ("content", pa.binary()), ("url", pa.string()), ("problem", pa.string()), ("transient", pa.bool_()),
])
ARTICLE_SCHEMA = pa.schema([
    ("article_id", pa.string()), ("doc_key", pa.string()), ("url", pa.string()),
    ("canonical_url", pa.string()), ("source_uri", pa.string()), ("site", pa.string()),
    ("title", pa.string()), ("byline", pa.string()), ("published_at", pa.date32()),
    ("published_rule", pa.string()), ("updated_at", pa.date32()), ("language", pa.string()),
    ("language_prob", pa.float64()), ("body", pa.string()), ("body_chars", pa.int32()),
    ("content_hash", pa.string()), ("warnings", pa.list_(pa.string())), ("body_rule", pa.string()),
    ("language_candidates", pa.string()), ("entity_status", pa.string()), ("host", pa.string()),
])
MENTION_SCHEMA = pa.schema([
    ("article_id", pa.string()), ("surface", pa.string()), ("label", pa.string()),
    ("start_char", pa.int32()), ("end_char", pa.int32()), ("canonical", pa.string()), ("linked_by", pa.string()),
])
DATE_SCHEMA = pa.schema([
    ("article_id", pa.string()), ("value", pa.date32()), ("kind", pa.string()), ("rule", pa.string()),
])
LEDGER_SCHEMA = pa.schema([
    ("doc_key", pa.string()), ("source_uri", pa.string()), ("state", pa.string()),
    ("reason", pa.string()), ("article_id", pa.string()), ("similarity", pa.float64()),
])
OUTCOME_SCHEMA = LEDGER_SCHEMA.append(pa.field("raw", pa.binary()))
"""A ledger entry from `process` (rejected or failed) with the input's bytes, kept in `rejects`."""


@dataclass(frozen=True)
class ProcessedBatch:
    """What `process` made of one raw batch: a folder of four Parquet files."""

    folder: Path

    @property
    def articles(self) -> Path:
        return self.folder / "articles.parquet"

    @property
    def mentions(self) -> Path:
        return self.folder / "mentions.parquet"

    @property
    def dates(self) -> Path:
        return self.folder / "dates.parquet"

    @property
    def outcomes(self) -> Path:
        return self.folder / "outcomes.parquet"

    @classmethod
    def of(cls, raw_batch: Path) -> ProcessedBatch:
        """`raw-00003.parquet` is processed into `processed-00003/`."""
        return cls(raw_batch.with_name(raw_batch.stem.replace("raw-", "processed-")))


@dataclass(frozen=True)
class RunFolder:
    """`staging/<run_id>/`: the plan, raw and processed batches, a fetch run's snapshot of the store, a stream
    run's entries."""

    root: Path

    @classmethod
    def of(cls, staging_dir: Path, run_id: str) -> RunFolder:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)
        return cls(Path(staging_dir) / safe)

    @property
    def plan(self) -> Path:
        return self.root / "plan.json"

    @property
    def settled(self) -> Path:
        """Ledger rows of the inputs settled while planning (seen before, repeated in the run)."""
        return self.root / "settled.parquet"

    def raw_batch(self, number: int) -> Path:
        return self.root / f"raw-{number:05d}.parquet"

    @property
    def fetched(self) -> Path:
        """The pages a fetch downloaded, waiting to be planned."""
        return self.root / "fetched.parquet"

    @property
    def consumed(self) -> Path:
        """The entries a stream run took (url-only messages fetched), waiting to be planned."""
        return self.root / "consumed.parquet"

    @property
    def source_states(self) -> Path:
        """The states the run's sources left after reading, committed by the load."""
        return self.root / "source-states.json"

    @property
    def snapshot(self) -> Path:
        """What a fetch needs from the store, copied so the network time holds no lock on it."""
        return self.root / "frontier"

    @property
    def settled_pages(self) -> Path:
        return self.snapshot / "settled-pages.parquet"

    @property
    def known_states(self) -> Path:
        return self.snapshot / "known-states.json"

    @property
    def logged(self) -> Path:
        """The inputs a run already logged, when the run is run again."""
        return self.snapshot / "logged.parquet"

    @property
    def retry_pages(self) -> Path:
        return self.snapshot / "retry-pages.json"

    def remove(self) -> None:
        """Drop a finished run's hand-over files; the store holds everything worth keeping (raw rejects too)."""
        shutil.rmtree(self.root, ignore_errors=True)


def save_states(path: Path, states: list[SourceState]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(state) for state in states], indent=1))
    return path


def read_states(path: Path) -> list[SourceState]:
    """The states saved at `path`; none when nothing was saved (a run whose sources keep no state)."""
    if not path.exists():
        return []
    return [SourceState(**row) for row in json.loads(path.read_text())]


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


def count(path: Path) -> int:
    """Rows of a Parquet file, from its footer."""
    return pq.ParquetFile(path).metadata.num_rows


def rows(path: Path, chunk: int = 8) -> Iterator[dict]:
    """The rows of a Parquet file a few at a time, so a batch of large inputs is never copied whole."""
    for record_batch in pq.ParquetFile(path).iter_batches(batch_size=chunk):
        yield from record_batch.to_pylist()


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
