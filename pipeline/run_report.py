"""A run's report as one self-contained HTML page: what came in, what became of it, what it says, and whether the
checks held, drawn as inline SVG charts (`pipeline.charts`) with no script, stylesheet or font from the network.

The `report` task and `news report --html` write it beside the store (`Settings.reports_dir`); the Airflow plugin
(`plugins/news_report_plugin.py`) renders the same page for any run. Its numbers come from the SQL in
`sql/report/`, one file per section, read in one connection.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import charts
from pipeline.records import LedgerState, Reason
from pipeline.report import report_sql
from pipeline.store import Query, StoreLike, query, reading

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
SECTIONS = ("run", "inputs_by_state", "articles_per_day", "articles_per_site", "articles_per_language",
            "run_entities", "store_entities", "duplicates", "stories", "recent_runs", "quality_failures", "stream_lag")
TOP_SITES = 15
NOT_IN_DUPLICATES = (Reason.SEEN_BEFORE, Reason.SAME_INPUT_IN_RUN)
"""Duplicate reasons of inputs that are no new document, so the `duplicates` table has no row for them: the rules
counted beside that table are the others, from the ledger's counts (the table's rows are cut at 50)."""


@dataclass
class Table:
    columns: list[str]
    rows: list[tuple]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass
class RunReport:
    """Every section's rows for one run, as read from the store at `generated_at`."""

    run_id: str
    store: str
    generated_at: dt.datetime
    sections: dict[str, Table] = field(default_factory=dict)

    @property
    def run(self) -> dict[str, Any]:
        rows = self.sections["run"].dicts()
        return rows[0] if rows else {}

    def counts(self) -> dict[str, int]:
        """The run's headline numbers, for the page's tiles."""
        run = self.run
        checks = [row for row in self.sections["recent_runs"].dicts() if row["run_id"] == self.run_id]
        return {"inputs": run.get("n_inputs") or 0, "loaded": run.get("n_loaded") or 0,
                "duplicate": run.get("n_duplicate") or 0, "rejected": run.get("n_rejected") or 0,
                "failed": run.get("n_failed") or 0,
                "checks_passed": checks[0]["checks_passed"] if checks else 0,
                "checks_failed": checks[0]["checks_failed"] if checks else 0}


def collect(where: StoreLike, run_id: str) -> RunReport:
    """Read every section of the run's report in one read-only connection (run again if maintenance merged away a
    file under it). A run the store does not hold raises LookupError."""
    return report_of(where, run_id, reading(where, read_sections, {"run_id": run_id}))


def read_sections(rows_of: Query) -> dict[str, Table]:
    """Every section's rows, read with `rows_of` (a `reading` block with `run_id` set), so a caller that reads
    more of the run in the same block attaches the store once."""
    return {name: Table(*rows_of(report_sql(name))) for name in SECTIONS}


def report_of(where: StoreLike, run_id: str, sections: dict[str, Table]) -> RunReport:
    """The report of sections read with `read_sections`; LookupError for a run the store does not hold."""
    if not sections["run"].rows:
        raise LookupError(f"run {run_id!r} is not in the store")
    return RunReport(run_id, str(where), dt.datetime.now(dt.UTC).replace(microsecond=0), sections)


def list_runs(where: StoreLike) -> list[dict[str, Any]]:
    """The newest runs, for a page that lets a person choose one."""
    return Table(*query(where, report_sql("runs"))).dicts()


def find_run(where: StoreLike, asked: str) -> str | None:
    """The store run `asked` names (`find_run.sql`), or None."""
    _, rows = query(where, report_sql("find_run"), variables={"asked": asked})
    return rows[0][0] if rows else None


def _label(value: object, none: str) -> str:
    return none if value is None else str(value)


def _charts(report: RunReport) -> dict[str, str]:
    sections = report.sections
    states = sections["inputs_by_state"].rows
    sites = sections["articles_per_site"].rows
    if len(sites) > TOP_SITES:
        sites = [*sites[:TOP_SITES], ("other sites", sum(n for _, n in sites[TOP_SITES:]))]
    recent = sections["recent_runs"].dicts()
    run_labels = [row["run_id"] for row in recent]
    return {
        "inputs_by_state": charts.bars(
            "inputs_by_state", [(f"{state} · {reason}" if reason else state, n) for state, reason, n in states],
            colours=[charts.colour(state) for state, _, _ in states]),
        "articles_per_day": charts.columns(
            "articles_per_day", [(_label(day, "undated"), n) for day, n in sections["articles_per_day"].rows]),
        "articles_per_site": charts.bars("articles_per_site", [(_label(site, "no site"), n) for site, n in sites]),
        "articles_per_language": charts.bars(
            "articles_per_language", [(_label(language, "unknown"), n)
                                      for language, n in sections["articles_per_language"].rows]),
        "runs_by_state": charts.stacked_columns(
            "runs_by_state", run_labels, {state: [row[f"n_{state}"] or 0 for row in recent]
                                          for state in ("loaded", "duplicate", "rejected", "failed")},
            highlight=report.run_id),
        "quality_over_runs": charts.stacked_columns(
            "quality_over_runs", run_labels, {"passed": [row["checks_passed"] for row in recent],
                                              "failed": [row["checks_failed"] for row in recent]},
            highlight=report.run_id),
    }


def _by_label(table: Table) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in table.dicts():
        grouped[row["label"]].append(row)
    return dict(grouped)


def render(report: RunReport, run_href: Callable[[str], str] | None = None,
           runs: list[dict[str, Any]] | None = None) -> str:
    """The page. `run_href` links each run to its own report (the plugin passes one; a file stands alone), and
    `runs` lists the runs to choose from."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    environment = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(["html"]))
    sections = report.sections
    by_rule = [(reason, n) for state, reason, n in sections["inputs_by_state"].rows
               if state == LedgerState.DUPLICATE and reason not in NOT_IN_DUPLICATES]
    return environment.get_template("run_report.html").render(
        report=report, run=report.run, counts=report.counts(), charts=_charts(report),
        run_entities=_by_label(sections["run_entities"]), store_entities=_by_label(sections["store_entities"]),
        duplicates=sections["duplicates"].dicts(), duplicate_rules=by_rule,
        stories=sections["stories"].dicts(), failures=sections["quality_failures"].dicts(),
        stream_lag=sections["stream_lag"].dicts(), run_href=run_href, runs=runs or [])


def file_name(run_id: str) -> str:
    """A run id as a file name on any system (Airflow's hold ':' and '+')."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", run_id) + ".html"


def report_path(reports_dir: Path, run_id: str) -> Path:
    """Where a run's page goes in the reports folder."""
    return reports_dir / file_name(run_id)


def write_report(where: StoreLike, run_id: str, path: Path, report: RunReport | None = None) -> RunReport:
    """Write the run's page (`report`, else read now) to `path`, whole or not at all: a reader never sees half a
    page."""
    report = report or collect(where, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(render(report), encoding="utf-8")
    partial.replace(path)
    return report
