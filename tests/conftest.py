"""Shared fixtures: small named ones, each giving a fresh, isolated place to write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="news-test-airflow-"))
# Set before anything imports airflow, which reads its configuration once at import.
os.environ.update({
    "AIRFLOW_HOME": str(AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "GX_ANALYTICS_ENABLED": "false",
    "NEWS_REPORTS": str(AIRFLOW_HOME / "reports"),  # the run pages a CLI ingest writes, out of the repo's data/
})

from pipeline.settings import load_settings  # noqa: E402
from pipeline.store import Store, ensure_schema  # noqa: E402

SEEDS = REPO / "seeds"
SHARED = REPO.parent / "shared"


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "news.ducklake"


@pytest.fixture
def fresh_db(db_path) -> Path:
    ensure_schema(db_path)
    return db_path


@pytest.fixture
def settings(tmp_path, db_path):
    return replace(load_settings(), store=Store.at(db_path), staging_dir=tmp_path / "staging", gx_dir=tmp_path / "gx",
                   reports_dir=tmp_path / "reports")


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: the shared evaluation data lives beside the repo only on dev/CI machines")
    return SHARED


@pytest.fixture
def dag_db(airflow_db, tmp_path, monkeypatch) -> Path:
    """The DuckDB file a DAG run under `dag.test()` writes: the `duckdb_default` connection points at it."""
    db = tmp_path / "dag" / "news.ducklake"
    monkeypatch.setenv("AIRFLOW_CONN_DUCKDB_DEFAULT", json.dumps({"conn_type": "duckdb", "host": str(db)}))
    monkeypatch.setenv("NEWS_DATA_DIR", str(db.parent))
    return db


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated Airflow metadata DB (SQLite) in a throw-away AIRFLOW_HOME, with the DuckDB writer pool."""
    airflow = Path(sys.executable).with_name("airflow")
    for command in (["db", "migrate"], ["pools", "set", "duckdb_writer", "1", "DuckDB single writer"]):
        done = subprocess.run([str(airflow), *command], capture_output=True, text=True, env=os.environ.copy())
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return AIRFLOW_HOME
