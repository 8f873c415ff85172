"""`news`: the command line over the same stage functions the Airflow DAG calls."""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TextIO

from pipeline.settings import PROJECT_ROOT, Settings, load_settings
from pipeline.sources.registry import DEFAULT_KIND, LISTING_KINDS, SOURCE_KINDS

if TYPE_CHECKING:
    from pipeline.run_report import RunReport
    from pipeline.sources.stream import StreamSource


DEBUG_VARIABLE = "NEWS_DEBUG"
"""Set (to anything) to see the traceback of an error the CLI would otherwise report in one line."""


def main(argv: list[str] | None = None) -> int:
    """Run one command; whatever goes wrong is one line on stderr, `news: <what> — <what to do>`, and exit code 2
    (1 is kept for a failed quality gate), never a traceback unless NEWS_DEBUG is set."""
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = load_settings().with_store(args.store)
    try:
        return args.handler(args, settings)
    except Exception as error:
        if os.environ.get(DEBUG_VARIABLE):
            raise
        print(f"news: {explain(error, settings)}", file=sys.stderr)
        return 2


def explain(error: Exception, settings: Settings) -> str:
    """One line saying what went wrong and what to do about it."""
    import duckdb

    from pipeline.store import StoreBusy

    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
    store = settings.store
    if isinstance(error, StoreBusy):
        return first
    if isinstance(error, FileNotFoundError) and first.startswith("no store at"):
        return f"{first} — ingest something first (news ingest seeds/) or name the store with --store"
    if isinstance(error, duckdb.Error):
        if "lock" in first.lower():
            return f"the store {store} is locked by another process — wait for it to finish and try again"
        if (isinstance(error, duckdb.CatalogException | duckdb.IOException | duckdb.InvalidInputException)
                or "not a database" in first or "DuckLake metadata" in first):
            return (f"{store} is not a news store ({first.rsplit(': ', 1)[-1]}) — name a DuckLake catalog with "
                    "--store (default data/news.ducklake), or create one with news ingest")
        return f"the store {store} failed: {first} — run again with {DEBUG_VARIABLE}=1 to see where"
    return f"{type(error).__name__}: {first} — run again with {DEBUG_VARIABLE}=1 to see where"


def _version() -> str:
    try:
        return importlib.metadata.version("news-pipeline")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="news", description="News ingestion pipeline.")
    parser.add_argument("--version", action="version", version=f"news {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="Replay files or folders (.txt, .html, .jsonl, .warc/.arc) "
                                                "into DuckDB, or read another kind of source.")
    ingest.add_argument("paths", nargs="+", metavar="ARGUMENT",
                        help="files or folders to ingest (what the source kind reads)")
    ingest.add_argument("--kind", choices=list(SOURCE_KINDS), default=DEFAULT_KIND,
                        help=f"source kind (default: {DEFAULT_KIND})")
    ingest.add_argument("--run-id", help="name of this run (default: cli__<UTC time>)")
    ingest.add_argument("--no-check", action="store_true", help="skip the quality gate after loading")
    ingest.set_defaults(handler=cmd_ingest)

    fetch = commands.add_parser("fetch", help="Poll feeds, sitemaps or URL lists and ingest the new pages.")
    fetch.add_argument("--sources", default=str(PROJECT_ROOT / "sources.yaml"),
                       help="YAML file of sources (default: sources.yaml in the project)")
    fetch.add_argument("--url", action="append", default=[],
                       help="poll this listing instead of the sources file (repeatable)")
    fetch.add_argument("--kind", choices=list(LISTING_KINDS), default=LISTING_KINDS[0], help="kind of every --url")
    fetch.add_argument("--max-pages", type=int, help="fetch at most this many new pages")
    fetch.add_argument("--run-deadline", type=float, default=1800.0,
                       help="seconds after which no new request starts; the pages left fail and are retried next run")
    fetch.add_argument("--delay", type=float, default=1.0, help="seconds between requests to one host")
    fetch.add_argument("--allow-host", action="append", default=[],
                       help="host allowed although it resolves to a private address (e.g. 127.0.0.1 for tests)")
    fetch.add_argument("--ignore-robots", action="store_true", help="do not read robots.txt (your own sites only)")
    fetch.add_argument("--run-id", help="name of this run (default: fetch__<UTC time>)")
    fetch.set_defaults(handler=cmd_fetch)

    publish = commands.add_parser("publish", help="Append messages to the Redis stream `news consume` reads.")
    publish.add_argument("files", nargs="*", metavar="FILE",
                         help=".jsonl (a message per line), .json (one message), .html/.htm or .txt (one message "
                              "each); - reads one JSON object per line from stdin")
    publish.add_argument("--jsonl", action="append", default=[], metavar="FILE",
                         help="a file of one JSON object per line, whatever its name (repeatable)")
    publish.add_argument("--url", action="append", default=[], help="a url-only message: the page is fetched by "
                                                                     "news consume (repeatable)")
    publish.set_defaults(handler=cmd_publish)

    consume = commands.add_parser("consume", help="Ingest one micro-batch from the Redis stream: consume, plan, "
                                                  "process, load, acknowledge, then the quality gate.")
    consume.add_argument("--max-entries", type=_positive_int, metavar="N",
                         help="take at most N entries (default: NEWS_STREAM_MAX_ENTRIES, 1000)")
    consume.add_argument("--max-seconds", type=float, metavar="S",
                         help="stop taking entries after S seconds (default: NEWS_STREAM_MAX_SECONDS, 60)")
    consume.add_argument("--allow-host", action="append", default=[],
                         help="host a url-only message may name although it resolves to a private address")
    consume.add_argument("--delay", type=float, default=1.0, help="seconds between requests to one host")
    consume.add_argument("--run-id", help="name of this run (default: stream__<UTC time>)")
    consume.add_argument("--no-check", action="store_true", help="skip the quality gate after loading")
    consume.add_argument("--follow", action="store_true",
                         help="keep taking micro-batches until the stream has been idle for $NEWS_STREAM_IDLE_SECONDS "
                              "or $NEWS_STREAM_MAX_RUN_SECONDS have passed, then gate them all")
    consume.set_defaults(handler=cmd_consume)
    for sub in (publish, consume):
        sub.add_argument("--stream-url", help="the Redis server, or kafka://host:port for a Kafka topic "
                                                  "(default: $NEWS_STREAM_URL or redis://127.0.0.1:6379/0)")
        sub.add_argument("--stream", help="the stream (default: $NEWS_STREAM or news:articles)")

    query = commands.add_parser("query", help="Run one read-only SQL statement (or a named query from sql/queries/) "
                                              "in a sandbox that reads the store and nothing else.")
    query.add_argument("sql", help="one SELECT/WITH/DESCRIBE/SHOW/SUMMARIZE/EXPLAIN statement, or the name of a "
                                   "file in sql/queries/ without .sql")
    query.add_argument("--as-of-run", metavar="RUN_ID",
                       help="read the store as it was when this run's load committed (its DuckLake snapshot)")
    query.add_argument("--format", choices=["table", "csv", "json"], default="table",
                       help="table (cells cut at 60 characters), csv or json (one object per row, whole values)")
    query.add_argument("--limit", type=_positive_int, metavar="N", help="print at most N rows")
    query.set_defaults(handler=cmd_query)

    check = commands.add_parser("check", help="Run the great-expectations suites for a run (default: latest).")
    check.add_argument("--run-id", help="run to validate (default: the latest run)")
    check.set_defaults(handler=cmd_check)

    report = commands.add_parser("report", help="Print the summary of a run (default: latest); --html also writes its "
                                                "page of charts.")
    report.add_argument("--run-id", help="run to report (default: the latest run)")
    report.add_argument("--html", action="store_true",
                        help="also write the run's self-contained HTML report and print its path")
    report.add_argument("--output", type=Path, metavar="FILE",
                        help="where --html writes the page (default: $NEWS_REPORTS/<run id>.html)")
    report.set_defaults(handler=cmd_report)

    shell = commands.add_parser("shell", help="Open the DuckDB CLI on the store, read-only (the same DuckDB version "
                                              "as the pipeline, from the duckdb-cli package).")
    shell.add_argument("duckdb_args", nargs="*", metavar="DUCKDB_ARGUMENT",
                       help="passed to the DuckDB CLI after the store is attached (e.g. -c 'FROM news.snapshots()')")
    shell.set_defaults(handler=cmd_shell)

    reindex = commands.add_parser("reindex", help="Rebuild the near-duplicate band keys for the configured "
                                                  "threshold (NEWS_NEAR_DUPLICATE_THRESHOLD).")
    reindex.set_defaults(handler=cmd_reindex)

    imp = commands.add_parser("import", help="Import a single-file DuckDB store of the old kind (before the "
                                             "DuckLake) into the store once, comparing counts table by table.")
    imp.add_argument("file", help="the old store's DuckDB file (its rejects/ folder beside it)")
    imp.set_defaults(handler=cmd_import)

    maintain = commands.add_parser("maintain", help="Merge the store's small files, expire snapshots older than the "
                                                    "retention and delete the files no snapshot needs.")
    maintain.add_argument("--retention-days", type=float, metavar="DAYS",
                          help="keep snapshots younger than this (default: NEWS_SNAPSHOT_RETENTION_DAYS, 30)")
    maintain.set_defaults(handler=cmd_maintain)

    for sub in (ingest, fetch, query, check, report, shell, reindex, imp, maintain, publish, consume):
        sub.add_argument("--store", help="the store: a DuckLake catalog file or postgres:<dsn> "
                                         "(default: $NEWS_STORE or data/news.ducklake)")
    return parser


class ProgressDisplay:
    """The engine's progress (`pipeline.progress`) on stderr: a bar per stage on a terminal; elsewhere (a log, a
    pipe) one line of every stage's count and rate each `LINE_EVERY` seconds, so short runs stay quiet. A stage's
    rate runs from its start to its last unit, so a finished stage keeps the rate it had."""

    LINE_EVERY = 10.0
    UNITS: ClassVar[dict[str, str]] = {"fetching": "pages", "tagging": "articles", "loading": "loads",
                                       "publishing": "messages"}

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.bars: dict[str, Any] = {}
        self.done: dict[str, int] = {}
        self.totals: dict[str, int | None] = {}
        self.started: dict[str, float] = {}
        self.latest: dict[str, float] = {}
        self.last_line = time.monotonic()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if stage not in self.done or (done == 0 and total is not None):
            self.done[stage], self.totals[stage], self.started[stage] = 0, total, time.monotonic()
            if self.tty:
                from tqdm import tqdm

                if stage in self.bars:
                    self.bars[stage].close()
                self.bars[stage] = tqdm(total=total, desc=f"{stage:>10}", unit=f" {self.UNITS.get(stage, 'inputs')}",
                                        file=self.stream, dynamic_ncols=True, leave=True)
        self.done[stage] += done
        self.latest[stage] = time.monotonic()
        if self.tty:
            self.bars[stage].update(done)
        elif done and time.monotonic() - self.last_line >= self.LINE_EVERY:
            self.last_line = time.monotonic()
            print("news: " + ", ".join(self._count(name) for name in self.done if self.done[name]),
                  file=self.stream, flush=True)

    def _count(self, stage: str) -> str:
        total = self.totals[stage]
        rate = self.done[stage] / max(self.latest[stage] - self.started[stage], 1e-6)
        return f"{stage} {self.done[stage]}{'' if total is None else f'/{total}'} ({rate:.1f}/s)"

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


@contextlib.contextmanager
def showing_progress(check: bool = False) -> Iterator[None]:
    """Draw the run's progress; with `check`, also have the quality gate ready when the run gets there
    (`GatePreload`)."""
    from pipeline import progress

    display = ProgressDisplay()
    try:
        with progress.listening(display), progress.listening(GatePreload(check)):
            yield
    finally:
        display.close()


class GatePreload:
    """Imports the quality gate's suites (great_expectations: 3–4 s) in a thread of this process while it loads,
    where that import would otherwise wait for the load to end. Not earlier: beside the processing workers the
    import's 140 MB would add to their peak; and not for a run with nothing processed, which is gated without
    great_expectations (`pipeline.quality.ledger_outcomes`)."""

    def __init__(self, check: bool):
        self.wanted = check
        self.processed = False
        self.thread: threading.Thread | None = None

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if stage == "extracting" and done == 0:
            self.processed = bool(total)
        elif self.wanted and self.processed and self.thread is None and stage == "loading" and done == 0:
            self.thread = threading.Thread(target=self._preload, daemon=True, name="gate-preload")
            self.thread.start()

    @staticmethod
    def _preload() -> None:
        with contextlib.suppress(Exception):  # the gate imports it again, and then says what is wrong
            importlib.import_module("pipeline.quality_suites")


def _new_run_id(prefix: str) -> str:
    return f"{prefix}__{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:6]}"


def _finish(settings: Settings, run_id: str, check: bool = True) -> int:
    """Gate the run (unless told not to), print its summary and write its page; exit 1 when a critical
    expectation failed."""
    passed = True
    if check:
        from pipeline.quality import validate_run

        passed = validate_run(settings.store, run_id, settings.gx_dir).ok
    summary, report = _summary_and_report(settings, run_id)
    print(summary)
    try:
        print(f"report: {_write_html(settings, run_id, report=report)}")
    except OSError as error:
        print(f"news: the run is loaded, but its report page could not be written ({error}) — set NEWS_REPORTS to "
              "a writable folder, then news report --html", file=sys.stderr)
    return 0 if passed else 1


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.neardup import LayoutMismatch
    from pipeline.sources.registry import source_for
    from pipeline.stages.run import run_source

    try:
        source = source_for(args.kind, args.paths)
    except ValueError as error:
        print(f"news: {error}", file=sys.stderr)
        return 2
    run_id = args.run_id or _new_run_id("cli")
    try:
        with showing_progress(check=not args.no_check):
            summary = run_source(source, settings, run_id)
    except LayoutMismatch as error:
        print(f"news: {error}", file=sys.stderr)
        return 2
    if summary.n_inputs == 0:
        print(f"news: no inputs in {' '.join(args.paths)} — give files or folders of .txt, .html, .jsonl or "
              ".warc/.arc (see news ingest --help)", file=sys.stderr)
        return 2
    return _finish(settings, run_id, check=not args.no_check)


def cmd_fetch(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.neardup import LayoutMismatch
    from pipeline.sources.http import HttpPolicy
    from pipeline.sources.web import load_listings, url_listings
    from pipeline.stages.run import run_fetch

    listings = url_listings(args.url, args.kind) if args.url else load_listings(Path(args.sources))
    policy = HttpPolicy(per_host_delay=args.delay, obey_robots=not args.ignore_robots, run_deadline=args.run_deadline,
                        allowed_hosts=frozenset(args.allow_host))
    run_id = args.run_id or _new_run_id("fetch")
    try:
        with showing_progress(check=True):
            run_fetch(listings, settings, run_id, policy, max_pages=args.max_pages)
    except LayoutMismatch as error:
        print(f"news: {error}", file=sys.stderr)
        return 2
    return _finish(settings, run_id)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 2 with one line on stderr, publishing nothing, when an input cannot be read or the stream reached."""
    from pipeline import progress
    from pipeline.sources.stream import StreamUnavailable, input_messages, open_stream_log, redacted

    url, stream = args.stream_url or settings.stream_url, args.stream or settings.stream_name
    try:
        messages = input_messages(args.files, args.jsonl, args.url, sys.stdin.buffer if "-" in args.files else None)
    except (OSError, ValueError) as error:
        print(f"news publish: {error}", file=sys.stderr)
        return 2
    if not messages:
        print("news publish: nothing to publish; give FILEs, --jsonl FILE, --url URL or - (stdin)", file=sys.stderr)
        return 2
    try:
        with contextlib.closing(open_stream_log(url, stream, settings.stream_group)) as log, showing_progress():
            ids = log.publish(progress.counted("publishing", messages, len(messages)))
    except StreamUnavailable as error:
        print(f"news publish: {error}", file=sys.stderr)
        return 2
    print(f"news: published {len(ids)} message{'s' if len(ids) != 1 else ''} to {stream} at {redacted(url)}")
    return 0


def cmd_consume(args: argparse.Namespace, settings: Settings) -> int:
    """Exit codes as `news ingest`: 1 when a critical expectation fails, 2 with one line for an unreachable stream."""
    from pipeline.neardup import LayoutMismatch
    from pipeline.sources.http import HttpPolicy
    from pipeline.sources.stream import StreamSource, StreamUnavailable
    from pipeline.stages.drain import run_stream

    policy = HttpPolicy(per_host_delay=args.delay, allowed_hosts=frozenset(args.allow_host))
    source = StreamSource.of(settings, url=args.stream_url, stream=args.stream, policy=policy,
                             max_entries=args.max_entries, max_seconds=args.max_seconds)
    run_id = args.run_id or _new_run_id("stream")
    if args.follow:
        return _follow(source, settings, run_id, check=not args.no_check)
    try:
        done = run_stream(source, settings, run_id)
    except (LayoutMismatch, StreamUnavailable) as error:
        print(f"news: {error}", file=sys.stderr)
        return 2
    print(done.line())
    if done.summary is None:
        print(f"news: nothing new in {source.stream}; no run recorded")
        return 0
    return _finish(settings, run_id, check=not args.no_check)


def _follow(source: StreamSource, settings: Settings, run_id: str, check: bool) -> int:
    """`news consume --follow`: micro-batches `<run_id>.0001`, ... (`drain_stream`), one line each, then one gate
    over all of them."""
    from pipeline.neardup import LayoutMismatch
    from pipeline.sources.stream import StreamUnavailable
    from pipeline.stages.drain import drain_stream

    try:
        drained = drain_stream(source, settings, run_id, settings.stream_max_run_seconds,
                               settings.stream_idle_seconds, on_batch=lambda done: print(
                                   f"{done.summary.run_id if done.summary else run_id}: {done.line()}", flush=True),
                               workers=settings.workers)
    except (LayoutMismatch, StreamUnavailable) as error:
        print(f"news: {error}", file=sys.stderr)
        return 2
    if not drained.runs:
        print(f"news: nothing new in {source.stream}; no run recorded")
        return 0
    passed = True
    if check:
        from pipeline.quality import validate_runs

        report = validate_runs(settings.store, drained.run_ids, settings.gx_dir, name=run_id)
        passed = report.ok
        print(f"quality: {report.passed} passed, {report.failed} failed over {len(drained.run_ids)} micro-batches")
    print(f"news: {drained.consumed} entries in {len(drained.runs)} micro-batches")
    return 0 if passed else 1


def cmd_shell(args: argparse.Namespace, settings: Settings) -> int:
    """The DuckDB CLI of the pipeline's own DuckDB version with the store attached read-only as `news` (its
    extensions loaded from the installed packages, never downloaded), so an analyst starts at a SQL prompt."""
    from pipeline.store import shell_init_sql

    binary = Path(sys.executable).with_name("duckdb")
    if not binary.is_file():
        print("news: no DuckDB CLI beside this Python; install the project (pip install duckdb-cli)", file=sys.stderr)
        return 2
    if not settings.store.exists():
        print(f"news: no store at {settings.store} yet; run news ingest first", file=sys.stderr)
        return 2
    return subprocess.call([str(binary), "-cmd", shell_init_sql(settings.store), *args.duckdb_args])


def cmd_reindex(args: argparse.Namespace, settings: Settings) -> int:
    """Re-band the stored signatures for the threshold in force, in one transaction."""
    from pipeline.neardup import layout_for, reindex, stored_layout
    from pipeline.store import commit, connect, migrate

    layout = layout_for(settings.near_duplicate_threshold)
    with connect(settings.store) as con:
        migrate(con)
        if stored_layout(con) == layout:
            print(f"news: the band keys already fit threshold {settings.near_duplicate_threshold:g} "
                  f"({layout.bands} × {layout.rows}); nothing to do")
            return 0
        con.execute("BEGIN")
        count = reindex(con, layout)
        commit(con, f"reindex {layout.bands} x {layout.rows}", {"stage": "reindex"})
    print(f"news: {count} articles re-banded {layout.bands} × {layout.rows} "
          f"for threshold {settings.near_duplicate_threshold:g}")
    return 0


def cmd_maintain(args: argparse.Namespace, settings: Settings) -> int:
    """Print the store before → after; exit 2 with one line on stderr for a missing store or a negative retention."""
    from pipeline.maintenance import format_report, maintain

    days = settings.snapshot_retention_days if args.retention_days is None else args.retention_days
    try:
        report = maintain(settings.store, dt.timedelta(days=days))
    except (FileNotFoundError, ValueError) as error:
        print(f"news maintain: {error}", file=sys.stderr)
        return 2
    print(f"news: maintained {settings.store}, keeping {days:g} days of snapshots")
    print(format_report(report))
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 when every key of every table of the file is in the store, 1 when some are not, 2 with one line on
    stderr for a file that cannot be imported."""
    from pipeline.importer import ImportRefused, format_import, import_store

    try:
        report = import_store(Path(args.file), settings.store)
    except ImportRefused as refused:
        print(f"news import: {refused}", file=sys.stderr)
        return 2
    print(format_import(report))
    return 0 if report.complete else 1


def cmd_query(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 2 with one line on stderr, never a traceback, for SQL the sandbox refuses or DuckDB rejects."""
    from pipeline.report import format_table
    from pipeline.store import QueryError, read_only_query, run_snapshot

    try:
        snapshot = None
        if args.as_of_run:
            snapshot = run_snapshot(settings.store, args.as_of_run)
            if snapshot is None:
                raise QueryError(f"no load of run {args.as_of_run!r} in {settings.store}; "
                                 "runs: news query 'SELECT run_id FROM ingest_runs'")
        columns, rows = read_only_query(settings.store, _query_text(args.sql), snapshot=snapshot)
    except QueryError as exc:
        print(f"news query: {exc}", file=sys.stderr)
        return 2
    shown = rows if args.limit is None else rows[: args.limit]
    if args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(shown)
    elif args.format == "json":
        for row in shown:
            print(json.dumps(dict(zip(columns, row, strict=True)), default=str, ensure_ascii=False))
    else:
        print(format_table(columns, shown))
        if len(shown) < len(rows):
            print(f"(first {len(shown)} of {len(rows)} rows: --limit)")
    return 0


def _query_text(argument: str) -> str:
    """The SQL of a named query when the argument is one's name, else the argument itself.

    A bare word that names no file and is not SQL is a mistyped name: say so rather than show a syntax error.
    """
    from pipeline.store import QUERIES_DIR, QueryError, is_sql, named_queries, named_query

    if not re.fullmatch(r"[\w-]+", argument):
        return argument
    if (QUERIES_DIR / f"{argument}.sql").is_file():
        return named_query(argument)
    if is_sql(argument):
        return argument
    raise QueryError(f"unknown named query {argument!r}; named queries: {', '.join(named_queries())}")


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.quality import validate_run

    run_id = _run_to_show(args.run_id, settings)
    if run_id is None:
        return 2
    result = validate_run(settings.store, run_id, settings.gx_dir)
    for outcome in result.outcomes:
        mark = "ok  " if outcome.success else ("FAIL" if outcome.critical else "warn")
        print(f"{mark} {outcome.suite:16} {outcome.expectation}  {outcome.observed or ''}")
    print(f"{result.passed} passed, {result.failed} failed; data docs: {result.docs_index}")
    return 0 if result.ok else 1


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.report import format_summary

    run_id = _run_to_show(args.run_id, settings)
    if run_id is None:
        return 2
    if not (args.html or args.output):
        print(format_summary(settings.store, run_id))
        return 0
    summary, report = _summary_and_report(settings, run_id)
    print(summary)
    print(f"report: {_write_html(settings, run_id, args.output, report)}")
    return 0


def _summary_and_report(settings: Settings, run_id: str) -> tuple[str, RunReport]:
    """The run's summary text and its page's contents, read on one connection (each attach of the lake costs
    60–80 ms, a tenth of a re-ingest's time after its imports)."""
    from pipeline.report import summary_lines
    from pipeline.run_report import read_sections, report_of
    from pipeline.store import reading

    summary, sections = reading(
        settings.store, lambda rows_of: (summary_lines(settings.store, run_id, rows_of), read_sections(rows_of)),
        {"run_id": run_id})
    return summary, report_of(settings.store, run_id, sections)


def _write_html(settings: Settings, run_id: str, output: Path | None = None, report: RunReport | None = None) -> Path:
    from pipeline.run_report import report_path, write_report

    path = output or report_path(settings.reports_dir, run_id)
    write_report(settings.store, run_id, path, report)
    return path


def _run_to_show(asked: str | None, settings: Settings) -> str | None:
    """The run asked for, or the latest; None (after saying why on stderr) when there is none such. A missing
    store raises FileNotFoundError, which `main` explains."""
    from pipeline.report import latest_run_id
    from pipeline.store import query

    if not settings.store.exists():
        raise FileNotFoundError(f"no store at {settings.store}")
    if asked is None:
        latest = latest_run_id(settings.store)
        if latest is None:
            print(f"news: no run in {settings.store} yet — ingest something first (news ingest seeds/)",
                  file=sys.stderr)
        return latest
    if not query(settings.store, "SELECT run_id FROM ingest_runs WHERE run_id = ?", [asked])[1]:
        print(f"news: no run {asked!r} in {settings.store} — runs: news query 'SELECT run_id, finished_at FROM "
              "ingest_runs ORDER BY finished_at DESC'", file=sys.stderr)
        return None
    return asked


if __name__ == "__main__":
    sys.exit(main())
