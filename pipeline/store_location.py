"""Where a store lives (`Store`), apart from `pipeline.store`, which opens it: settings and the processing workers
name a store without importing DuckDB (38 MB in every worker)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

_POSTGRES_PREFIXES = ("ducklake:postgres:", "postgres:")


@dataclass(frozen=True)
class Store:
    """Where the store lives: the DuckLake catalog (`sqlite:<file>` or `postgres:<libpq connection string>`) and
    the folder (or object-store prefix) of its data files. Rejects' large raw files and the writer slot's lock
    live in `home`, the data folder."""

    catalog: str
    data_path: str

    @classmethod
    def at(cls, where: StoreLike, data_path: str | Path | None = None) -> Store:
        """A store from a catalog file path, `ducklake:sqlite:<file>`, `[ducklake:]postgres:<dsn>` or a Store.

        An SQLite catalog's data folder defaults to `<catalog>.files` beside it (DuckLake's own convention); a
        PostgreSQL catalog needs `data_path` (NEWS_LAKE_DATA)."""
        if isinstance(where, Store):
            return where
        text = str(where)
        for prefix in _POSTGRES_PREFIXES:
            if text.startswith(prefix):
                if data_path is None:
                    raise ValueError(f"a PostgreSQL catalog needs a data path (NEWS_LAKE_DATA): {text}")
                return cls(f"postgres:{text[len(prefix):]}", _folder(data_path))
        text = text.removeprefix("ducklake:").removeprefix("sqlite:")
        catalog = Path(text).expanduser().absolute()
        return cls(f"sqlite:{catalog}", _folder(data_path or f"{catalog}.files"))

    @property
    def catalog_file(self) -> Path | None:
        """The SQLite catalog file, or None for a PostgreSQL catalog."""
        return Path(self.catalog.removeprefix("sqlite:")) if self.catalog.startswith("sqlite:") else None

    @property
    def home(self) -> Path:
        return Path(self.data_path)

    @property
    def lock_file(self) -> Path:
        """The writer slot's lock: beside an SQLite catalog, else in the data folder (shared by every worker), else
        (object storage) in NEWS_WRITER_LOCK, a path every writer sees."""
        if self.catalog_file:
            return Path(f"{self.catalog_file}.writer.lock")
        if "://" not in self.data_path:
            return self.home / ".writer.lock"
        return Path(os.environ.get("NEWS_WRITER_LOCK", Path.home() / ".cache" / "news-writer.lock"))

    def exists(self) -> bool:
        """Whether a catalog is there to read (a PostgreSQL catalog is assumed to be)."""
        return self.catalog_file.is_file() if self.catalog_file else True

    def __str__(self) -> str:
        if self.catalog_file:
            return str(self.catalog_file)
        return "postgres:" + re.sub(r"password=\S+", "password=***", self.catalog.removeprefix("postgres:"))


StoreLike = Store | Path | str


def _folder(path: str | Path) -> str:
    text = str(path)
    if "://" in text:
        return text.rstrip("/") + "/"
    return str(Path(text).expanduser().absolute()) + "/"
