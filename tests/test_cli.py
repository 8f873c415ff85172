"""The `news` command: every subcommand works on a real database and is documented in the README."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import build_parser, main
from pipeline.store import QUERIES_DIR, ensure_schema
from tests.conftest import REPO, SEEDS


def subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


@pytest.mark.parametrize("command", subcommands())
def test_every_command_is_documented_in_the_readme(command):
    assert re.search(rf"`news {command}\b", (REPO / "README.md").read_text())


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("NEWS_STORE", raising=False)
    return tmp_path / "data" / "news.ducklake"


def test_ingest_then_query_check_report(cli_env, capsys):
    assert main(["ingest", str(SEEDS), "--run-id", "cli1"]) == 0
    out = capsys.readouterr().out
    assert "inputs 5: loaded 5, duplicate 0, rejected 0, failed 0" in out
    assert "quality checks:" in out and " 0 failed" in out
    assert cli_env.is_file()

    assert main(["query", "SELECT count(*) AS n FROM articles"]) == 0
    assert capsys.readouterr().out.splitlines()[2].strip() == "5"

    assert main(["query", "articles_per_site_language"]) == 0
    assert "site" in capsys.readouterr().out

    long_sql = "SELECT " + ", ".join(f"(SELECT count(*) FROM articles) AS n{i}" for i in range(12))
    assert main(["query", long_sql]) == 0
    assert "n11" in capsys.readouterr().out

    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "0 failed" in out and "ledger_balance" in out

    assert main(["report", "--run-id", "cli1"]) == 0
    assert "run cli1" in capsys.readouterr().out


def test_ingest_of_a_missing_path_says_so(cli_env, capsys):
    assert main(["ingest", "no/such/folder"]) == 2
    assert "no such file or folder: no/such/folder" in capsys.readouterr().err


def test_db_option_overrides_the_default(cli_env, tmp_path, capsys):
    other = tmp_path / "other.duckdb"
    assert main(["ingest", str(SEEDS), "--store", str(other), "--no-check"]) == 0
    assert other.is_file() and not cli_env.exists()


@pytest.fixture
def cli_store(cli_env):
    ensure_schema(cli_env)
    return cli_env


def one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "Traceback" not in captured.err
    return captured.err.strip()


def test_query_refuses_a_write_with_one_line_and_exit_2(cli_store, tmp_path, capsys):
    target = tmp_path / "stolen.csv"
    assert main(["query", f"COPY articles TO '{target}'"]) == 2
    assert one_line_error(capsys) == ("news query: refused: COPY reads and writes files; only one read-only "
                                      "SELECT/WITH/DESCRIBE/SHOW/SUMMARIZE/EXPLAIN statement is allowed")
    assert not target.exists()


def test_query_refuses_reading_other_files(cli_store, capsys):
    assert main(["query", "SELECT * FROM read_text('/etc/passwd')"]) == 2
    assert one_line_error(capsys).startswith("news query: refused: Permission Error: Cannot access file")


def test_query_reports_a_binder_error_on_one_line(cli_store, capsys):
    assert main(["query", "SELECT x FROM articles"]) == 2
    assert one_line_error(capsys).startswith('news query: Binder Error: Referenced column "x" not found')


def test_query_of_a_missing_store_says_so_without_creating_it(cli_env, capsys):
    assert main(["query", "SELECT 1"]) == 2
    assert one_line_error(capsys) == f"news query: no such store: {cli_env}"
    assert not cli_env.exists()


def test_query_of_a_file_that_is_no_store_says_so(cli_env, tmp_path, capsys):
    other = tmp_path / "file.sqlite"
    other.write_bytes(b"SQLite format 3\x00" + bytes(84))
    assert main(["query", "SELECT 1", "--store", str(other)]) == 2
    assert one_line_error(capsys) == f"news query: not a store (no DuckLake catalog): {other}"


def test_query_of_a_mistyped_name_lists_the_named_queries(cli_store, capsys):
    assert main(["query", "top_peple"]) == 2
    message = one_line_error(capsys)
    assert message.startswith("news query: unknown named query 'top_peple'; named queries: ")
    assert all(path.stem in message for path in QUERIES_DIR.glob("*.sql"))


def test_query_of_a_bare_word_that_is_sql_runs_it_as_sql(cli_store, capsys):
    assert main(["query", "CHECKPOINT"]) == 2
    assert one_line_error(capsys).startswith("news query: refused: CALL")


def test_news_shell_opens_the_store_in_the_duckdb_cli_of_the_same_version(tmp_path):
    """The pip DuckDB CLI refused the store when its version differed; `news shell` runs the pinned one."""
    db = tmp_path / "news.ducklake"
    news = str(Path(sys.executable).with_name("news"))
    subprocess.run([news, "ingest", str(SEEDS), "--store", str(db), "--no-check"], check=True, capture_output=True)
    shell = subprocess.run([news, "shell", "--store", str(db)], input="SELECT count(*) AS n FROM articles;\n",
                           capture_output=True, text=True, timeout=60)
    assert shell.returncode == 0, shell.stderr
    assert "5" in shell.stdout.split()


def test_version_names_the_package_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and re.fullmatch(r"news \d+\.\d+\.\d+\n", capsys.readouterr().out)


def test_a_run_without_the_gate_is_reported_as_not_checked_and_rows_come_as_csv_or_json(cli_env, capsys):
    assert main(["ingest", str(SEEDS), "--run-id", "unchecked", "--no-check"]) == 0
    assert "quality checks: not run (--no-check)" in capsys.readouterr().out

    assert main(["query", "SELECT title, body_chars FROM articles ORDER BY title", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "title,body_chars" and len(lines) == 6
    assert main(["query", "SELECT title, body FROM articles ORDER BY title", "--format", "json", "--limit", "2"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 2 and set(rows[0]) == {"title", "body"} and len(rows[0]["body"]) > 60
    assert main(["query", "SELECT title FROM articles", "--limit", "3"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "(first 3 of 5 rows: --limit)"

    assert main(["report", "--run-id", "nope"]) == 2
    assert one_line_error(capsys).startswith(f"news: no run 'nope' in {cli_env} — runs: news query")
    assert main(["check", "--run-id", "nope"]) == 2
    assert one_line_error(capsys).startswith("news: no run 'nope'")


@pytest.mark.parametrize("command", [["report"], ["check"]])
def test_report_and_check_without_a_store_or_a_run_say_so(cli_env, command, capsys):
    assert main(command) == 2
    assert one_line_error(capsys) == (f"news: no store at {cli_env} — ingest something first (news ingest seeds/) "
                                      "or name the store with --store")
    ensure_schema(cli_env)
    assert main(command) == 2
    assert one_line_error(capsys) == f"news: no run in {cli_env} yet — ingest something first (news ingest seeds/)"


def test_ingest_of_an_empty_folder_says_there_was_nothing_to_read(cli_env, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["ingest", str(empty)]) == 2
    assert one_line_error(capsys).startswith(f"news: no inputs in {empty} — give files or folders of .txt")


def test_a_file_that_is_no_store_is_one_line_and_the_traceback_is_one_setting_away(cli_env, tmp_path, capsys,
                                                                                   monkeypatch):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n" * 100)
    assert main(["report", "--store", str(notes)]) == 2
    message = one_line_error(capsys)
    assert message.startswith(f"news: {notes} is not a news store (") and message.endswith(
        "— name a DuckLake catalog with --store (default data/news.ducklake), or create one with news ingest")
    monkeypatch.setenv("NEWS_DEBUG", "1")
    with pytest.raises(Exception, match=r"(?i)database|catalog|sqlite"):
        main(["report", "--store", str(notes)])


def test_a_report_page_that_cannot_be_written_does_not_undo_the_run(cli_env, tmp_path, monkeypatch, capsys):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the reports folder should be")
    monkeypatch.setenv("NEWS_REPORTS", str(blocked))
    assert main(["ingest", str(SEEDS), "--no-check"]) == 0
    captured = capsys.readouterr()
    assert "inputs 5: loaded 5" in captured.out
    assert captured.err.strip().startswith("news: the run is loaded, but its report page could not be written (")
