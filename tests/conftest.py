"""Shared fixtures: small named ones, each giving a fresh, isolated place to write."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from pipeline.settings import load_settings  # noqa: E402
from pipeline.store import ensure_schema  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
SHARED = REPO.parent / "shared"


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "news.duckdb"


@pytest.fixture
def fresh_db(db_path) -> Path:
    ensure_schema(db_path)
    return db_path


@pytest.fixture
def settings(tmp_path, db_path):
    return replace(load_settings(), db_path=db_path, staging_dir=tmp_path / "staging", gx_dir=tmp_path / "gx")


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: the shared evaluation data lives beside the repo only on dev/CI machines")
    return SHARED
