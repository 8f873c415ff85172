"""The run summary printed after `make run` / `news ingest`, and plain-text tables."""

from __future__ import annotations

from pathlib import Path

from pipeline.store import Query, Store, StoreLike, named_query, query, reading

REPORT_SQL_DIR = Path(__file__).resolve().parent.parent / "sql" / "report"
"""The queries of the run summary and the HTML report (`pipeline.run_report`), one file per section."""

EXAMPLE_QUERY = "co_mentions"


def report_sql(name: str) -> str:
    return (REPORT_SQL_DIR / f"{name}.sql").read_text()


def format_table(columns: list[str], rows: list[tuple]) -> str:
    cells = [[("NULL" if v is None else str(v)).replace("\n", " ")[:60] for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines)


def latest_run_id(db_path: StoreLike) -> str | None:
    if not Store.at(db_path).exists():
        return None
    _, rows = query(db_path, "SELECT run_id FROM ingest_runs ORDER BY finished_at DESC LIMIT 1")
    return rows[0][0] if rows else None


def format_summary(db_path: StoreLike, run_id: str) -> str:
    """The run's summary, every query on one read-only connection (`reading`)."""
    return reading(db_path, lambda rows_of: summary_lines(db_path, run_id, rows_of), {"run_id": run_id})


def summary_lines(db_path: StoreLike, run_id: str, rows_of: Query) -> str:
    _, runs = rows_of("SELECT n_inputs, n_loaded, n_duplicate, n_rejected, n_failed FROM ingest_runs "
                        "WHERE run_id = ?", [run_id])
    if not runs:
        return f"run {run_id}: not found in {db_path}"
    n_inputs, loaded, duplicate, rejected, failed = runs[0]
    _, checks = rows_of("SELECT count(*) FILTER (success), count(*) FILTER (NOT success) "
                          "FROM quality_results WHERE run_id = ?", [run_id])
    passed, failed_checks = checks[0]
    _, totals = rows_of("SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM entities), "
                          "(SELECT count(*) FROM entity_mentions)")
    _, statuses = rows_of("SELECT entity_status, count(*) FROM articles WHERE run_id = ? "
                            "AND entity_status IS NOT NULL GROUP BY ALL ORDER BY 2 DESC, 1", [run_id])
    _, reasons = rows_of(report_sql("inputs_by_state"))
    lines = [
        f"run {run_id}  ({db_path})",
        f"  inputs {n_inputs}: loaded {loaded}, duplicate {duplicate}, rejected {rejected}, failed {failed}",
        *(f"  {state}: " + ", ".join(f"{reason} {n}" for other, reason, n in reasons if other == state)
          for state in ("duplicate", "rejected", "failed") if any(other == state for other, _, _ in reasons)),
        "  entities by: " + (", ".join(f"{status} {count}" for status, count in statuses) or "no article loaded"),
        f"  quality checks: {passed} passed, {failed_checks} failed" if passed or failed_checks
        else "  quality checks: not run (--no-check)",
        "  database: {} articles, {} entities, {} mentions".format(*totals[0]),
        "",
        *(["this run's top entities (sql/queries/run_top_entities.sql):",
           format_table(*rows_of(named_query("run_top_entities")))]
          if loaded else ["this run loaded no new article, so it has no entities of its own"]),
        "",
        "top entities of the whole store, all runs (sql/queries/top_entities.sql):",
        format_table(*rows_of(named_query("top_entities"))),
        "",
        f"example query (sql/queries/{EXAMPLE_QUERY}.sql):",
        named_query(EXAMPLE_QUERY).strip(),
        format_table(*rows_of(named_query(EXAMPLE_QUERY))),
    ]
    return "\n".join(lines)
