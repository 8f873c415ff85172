"""Every way a user can get `news` wrong ends in one line, `news…: <what> — <what to do>` or the refusal, with exit
code 2 and no traceback: each case runs the installed command in its own process, as a user would."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipeline.cli import main
from pipeline.store import ensure_schema
from tests.conftest import SEEDS

NEWS = str(Path(sys.executable).with_name("news"))


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Path]:
    """The places the cases point at: a store with the seeds, one with no run, a text file, a SQLite file, an
    empty file, an empty folder."""
    root = tmp_path_factory.mktemp("errors")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NEWS_DATA_DIR", str(root))
        store = str(root / "news.ducklake")
        assert main(["ingest", str(SEEDS), "--no-check", "--run-id", "seeds", "--store", store]) == 0
    ensure_schema(root / "no-run.ducklake")
    (root / "notes.txt").write_text("not a database\n" * 100)
    sqlite3.connect(root / "other.sqlite").execute("CREATE TABLE t (x)").connection.commit()
    (root / "empty.ducklake").write_bytes(b"")
    (root / "empty-folder").mkdir()
    return {"store": root / "news.ducklake", "no_run": root / "no-run.ducklake", "text": root / "notes.txt",
            "sqlite": root / "other.sqlite", "empty_file": root / "empty.ducklake",
            "empty_folder": root / "empty-folder", "root": root}


CASES = {
    "a text file as the store": (["report", "--store", "{text}"], "is not a news store"),
    "a SQLite file as the store": (["query", "SELECT 1", "--store", "{sqlite}"], "not a store"),
    "an empty file as the store (report)": (["report", "--store", "{empty_file}"], "is not a news store"),
    "an empty file as the store (query)": (["query", "SELECT 1", "--store", "{empty_file}"], "not a store"),
    "an empty file as the store (check)": (["check", "--store", "{empty_file}"], "is not a news store"),
    "no store at all": (["report", "--store", "{root}/missing.ducklake"], "no store at"),
    "no store at all (query)": (["query", "SELECT 1", "--store", "{root}/missing.ducklake"], "no such store"),
    "a store with no run (report)": (["report", "--store", "{no_run}"], "no run in"),
    "a store with no run (check)": (["check", "--store", "{no_run}"], "no run in"),
    "bad SQL": (["query", "SELEC 1", "--store", "{store}"], "Parser Error"),
    "an unknown column": (["query", "SELECT x FROM articles", "--store", "{store}"], "Referenced column \"x\""),
    "an unknown table": (["query", "SELECT * FROM artikles", "--store", "{store}"], "artikles"),
    "a write in query": (["query", "DELETE FROM articles", "--store", "{store}"], "refused"),
    "a file write in query": (["query", "COPY articles TO '{root}/out.csv'", "--store", "{store}"], "refused"),
    "a mistyped named query": (["query", "top_entitis", "--store", "{store}"], "named queries: "),
    "an unknown run for report": (["report", "--run-id", "nope", "--store", "{store}"], "no run 'nope'"),
    "an unknown run for check": (["check", "--run-id", "nope", "--store", "{store}"], "no run 'nope'"),
    "an empty folder to ingest": (["ingest", "{empty_folder}", "--store", "{store}"], "no inputs in"),
    "a path that does not exist": (["ingest", "{root}/nowhere", "--store", "{store}"], "nowhere"),
    "an unknown run for query --as-of-run": (["query", "SELECT 1", "--as-of-run", "nope", "--store", "{store}"],
                                             "nope"),
}


def run_news(arguments: list[str], stores: dict[str, Path]) -> subprocess.CompletedProcess:
    filled = [argument.format(**stores) for argument in arguments]
    env = {**os.environ, "NEWS_DATA_DIR": str(stores["root"])}
    env.pop("NEWS_DEBUG", None)
    return subprocess.run([NEWS, *filled], capture_output=True, text=True, env=env, timeout=300)


def assert_one_line(done: subprocess.CompletedProcess, expected: str) -> None:
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, f"one line on stderr, got:\n{done.stderr}"
    assert lines[0].startswith("news"), lines[0]
    assert expected in lines[0], lines[0]
    assert done.returncode == 2, (done.returncode, lines[0])


@pytest.mark.parametrize("case", list(CASES))
def test_every_error_case_is_one_line_and_exit_2(case, stores):
    arguments, expected = CASES[case]
    assert_one_line(run_news(arguments, stores), expected)


def test_a_locked_store_is_one_line_and_exit_2(stores, tmp_path):
    """A DuckDB catalog file another process holds open for writing cannot be opened at all."""
    catalog = tmp_path / "locked.ducklake"
    holder = duckdb.connect(str(catalog))
    try:
        done = run_news(["report", "--store", str(catalog)], stores)
    finally:
        holder.close()
    assert_one_line(done, "locked")
