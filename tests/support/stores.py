"""Copies of embedded stores, so a test can start from a loaded store without loading it again."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.store import Store


def copy_store(source: Store | Path, target: Path) -> Path:
    """Copy an embedded store (its SQLite catalog and data folder) to the catalog path `target`; returns it."""
    origin = Store.at(source)
    assert origin.catalog_file is not None, "only an embedded (SQLite catalog) store copies as files"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(origin.catalog_file, target)
    if origin.home.is_dir():
        shutil.copytree(origin.home, Store.at(target).home)
    return target
