"""`make bench-store`: the store as it grows, at 1k, 100k and 1M articles.

For each size a temporary DuckLake is filled with synthetic rows (`build_store`), then measured:

- near-duplicate lookup, the loader's way: `NearDupIndex.prefetch` of one run's bodies, then `match` (and `add`
  when no match) per article, in ms per article; beside it the one-query-per-article path (what the loader did
  before the prefetch) on a sample of `--old-lookups` articles;
- every named query in sql/queries/, on a read-only connection, in seconds;
- bytes on disk per article (catalog and data files), and the near-duplicate index's share of them;
- the load stage: the real `pipeline.stages.load.load` of one run of `--articles` articles (the `make bench`
  corpus, planned and processed once before the first size), in articles/s; it runs last, as it adds the run.

A query or load that does not scale is cut (`Watchdog`: after `--query-timeout` / `--load-timeout` seconds, or
`MAX_SPILL_GB` spilled to disk) and reported with the reason, so the whole run stays within minutes and the disk
of a shared machine is never filled. Progress goes to stderr, the table (or `--json`) to stdout.

Synthetic rows. Per article: a body of nine paragraphs drawn from a pool of word-salad paragraphs (Zipf-drawn
words, so it compresses about as prose does; 2.7k characters, as the `make bench` corpus), about 30 entity
mentions of about 15 entities drawn with a skew (a few entities in many articles, most in few), a date candidate
for most, a ledger row, and a MinHash signature drawn as independent uniform minima (what a text sharing no
shingle with the others gives; `tools.evaluate.dedup` does the same) with its 42 band keys. Some articles are
later versions of earlier ones; stories group about four articles; 5 % of inputs were duplicates; runs hold
`RUN_ARTICLES` articles. A few stored signatures are those of syndicated copies of the run's articles, so lookups
verify real candidates and the load finds near-duplicates, as a real run does. The files are written in chunks
of `CHUNK` articles: a store grown by many small runs has more, smaller files until it is compacted. The
aggregates the loader keeps run by run (pipeline/aggregates.py) are computed from the rows at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from unittest import mock

import duckdb
import numpy as np
import pyarrow as pa

from pipeline import neardup
from pipeline.aggregates import rebuild_aggregates
from pipeline.neardup import NUM_PERM, NearDupIndex, Signature, layout_for, signature
from pipeline.settings import PROJECT_ROOT, Settings, load_settings
from pipeline.stages.plan import Plan
from pipeline.store import Store, StoreLike, commit, connect, migrate, named_queries, named_query

DEFAULT_SIZES = (1_000, 100_000, 1_000_000)
CHUNK = 250_000
RUN_ARTICLES = 1_000
PARAGRAPHS = 20_000
PARAGRAPH_WORDS = 45
BODY_PARAGRAPHS = 9
VOCABULARY = 30_000
SITES = 300
NEAR_COPIES = 50
"""Stored signatures that are syndicated copies of the loaded run's articles (at most 5 % of the run)."""
_LANGUAGES = "['en','en','en','en','en','en','en','de','fr','es','it','pt','nl','pl']"
_LABELS = "['PERSON','PERSON','PERSON','ORG','ORG','ORG','GPE','GPE','NORP','LOC']"
_COUNTRIES = 120
MAX_SPILL_GB = 8.0
MIN_FREE_GB = 10.0
LIMITS: dict[str, str | bool | int | float | list[str]] = {
    "memory_limit": "6GB", "max_temp_directory_size": f"{MAX_SPILL_GB:g}GB"}
"""DuckDB limits of the connections measured: a query that does not scale must not take a shared machine down."""


def _id(expr: str, salt: str = "") -> str:
    """SQL for a 16-hex-digit id of an integer, as `_py_id` computes it."""
    return f"substr(md5(({expr})::VARCHAR || '{salt}'), 1, 16)"


def _py_id(number: int, salt: str = "") -> str:
    return hashlib.md5(f"{number}{salt}".encode()).hexdigest()[:16]


def _uniform(*parts: str) -> str:
    """SQL for a deterministic uniform number in [0, 1) from the hash of `parts`."""
    return f"((hash({', '.join(parts)}) % 1000003) / 1000003.0)"


@dataclass
class Measured:
    size: int
    build_s: float = 0.0
    bytes_total: int = 0
    bytes_index: int = 0
    bytes_articles: int = 0
    lookup_ms: float = 0.0
    prefetch_s: float = 0.0
    lookup_matches: int = 0
    old_lookup_ms: float | None = None
    queries: dict[str, float | None] = field(default_factory=dict)
    query_errors: dict[str, str] = field(default_factory=dict)
    load_s: float = 0.0
    load_articles: int = 0
    load_summary: str = ""
    load_error: str | None = None

    @property
    def load_rate(self) -> float:
        return self.load_articles / self.load_s if self.load_s else 0.0

    def as_json(self) -> dict:
        return {"size": self.size, "build_s": self.build_s, "bytes_per_article": self.bytes_total / self.size,
                "index_bytes_per_article": self.bytes_index / self.size,
                "articles_bytes_per_article": self.bytes_articles / self.size,
                "lookup_ms_per_article": self.lookup_ms, "prefetch_s": self.prefetch_s,
                "lookup_matches": self.lookup_matches, "old_lookup_ms_per_article": self.old_lookup_ms,
                "query_s": self.queries, "query_errors": self.query_errors,
                "load_articles_per_s": self.load_rate, "load_s": self.load_s,
                "load_summary": self.load_summary, "load_error": self.load_error}


@dataclass(frozen=True)
class PreparedRun:
    """One run of the `make bench` corpus, planned and processed once, to load into every store."""

    plan: Plan
    processed: list[Path]
    settings: Settings
    bodies: list[tuple[str, str]]  # (article_id, body) in the loader's order
    near_copies: list[Signature]  # signatures of syndicated copies of some of them, to store
    until: dt.date  # the run's latest publication date: the stored articles end there


def prepare_run(root: Path, n_articles: int) -> PreparedRun:
    from pipeline import run_folder
    from pipeline.stages.load import _in_keeping_order
    from pipeline.stages.plan import plan_run
    from pipeline.stages.process import process_batch
    from tools.bench import build_corpus

    corpus = root / "corpus"
    corpus.mkdir()
    build_corpus(corpus, n_articles, sorted((PROJECT_ROOT / "seeds").glob("*.txt")))
    settings = load_settings().under(root / "prepare")
    plan = plan_run([str(corpus)], settings, "bench_store")
    processed = [process_batch(batch, settings) for batch in plan.batches]
    articles = _in_keeping_order(pa.concat_tables(
        [run_folder.read(run_folder.ProcessedBatch(Path(p)).articles) for p in processed]))
    bodies = list(zip(articles["article_id"].to_pylist(), articles["body"].to_pylist(), strict=True))
    dates = [d for d in articles["published_at"].to_pylist() if d]
    return PreparedRun(plan, processed, settings, bodies, near_copy_signatures(bodies),
                       max(dates) if dates else dt.date.today())


def paragraph_pool(seed: int = 11) -> list[str]:
    """Word-salad paragraphs: the seeds' words by frequency, then made-up ones, drawn with Zipf's law (the k-th
    word with probability ∝ 1/k), so the text compresses about as prose does."""
    counts = Counter(w.lower() for path in (PROJECT_ROOT / "seeds").glob("*.txt") for w in path.read_text().split()
                     if w.isalpha())
    words = [w for w, _ in counts.most_common()]
    rng = np.random.default_rng(seed)
    letters = np.array(list("etaoinshrdlcumwfgypbvkjxqz"))
    while len(words) < VOCABULARY:
        words.append("".join(rng.choice(letters, rng.integers(3, 11))))
    vocabulary = np.array(words[:VOCABULARY], dtype=object)
    weights = 1 / np.arange(1, VOCABULARY + 1)
    drawn = vocabulary[rng.choice(VOCABULARY, PARAGRAPHS * PARAGRAPH_WORDS, p=weights / weights.sum())]
    return [" ".join(row).capitalize() + "." for row in drawn.reshape(PARAGRAPHS, PARAGRAPH_WORDS)]


def build_store(where: Path, size: int, near_copies: list[Signature], until: dt.date) -> float:
    """Fill a new DuckLake at `where` with `size` synthetic articles and everything that goes with them, published
    up to `until` (where the loaded run's articles are, so the story windows around them hold stored articles)."""
    started = time.perf_counter()
    entities = max(200, size // 4)
    since = until - dt.timedelta(days=_days(size))
    with connect(where) as con:
        migrate(con)
        con.register("bench_paragraphs", pa.table({"p": paragraph_pool()}))
        con.execute("CREATE TEMP TABLE bench_pool AS SELECT list(p) AS pool FROM bench_paragraphs")
        con.execute("BEGIN")
        _insert_entities(con, entities, size, since)
        commit(con, "bench: entities")
        for first in range(0, size, CHUNK):
            last = min(size, first + CHUNK)
            con.execute("BEGIN")
            _insert_articles(con, first, last, size, entities, since)
            _insert_signatures(con, first, last, near_copies if first == 0 else [])
            commit(con, f"bench: articles {first}-{last}")
        con.unregister("bench_paragraphs")
        con.execute("BEGIN")
        rebuild_aggregates(con)  # what the loader would have added run by run
        commit(con, "bench: aggregates")
    return time.perf_counter() - started


def _days(size: int) -> int:
    """Publication days the articles span: two years at 1M articles (about 1,400 a day), at least a month."""
    return max(30, size * 730 // 1_000_000)


def _label(entity: str) -> str:
    return f"{_LABELS}[1 + (hash({entity}, 'label') % 10)::BIGINT]"


def _insert_entities(con: duckdb.DuckDBPyConnection, entities: int, size: int, since: dt.date) -> None:
    days = _days(size)
    con.execute(f"""
        INSERT INTO entities
        SELECT {_id('e', 'e')}, name, label, lower(name), [name],
               CASE WHEN label IN ('GPE', 'LOC', 'NORP') THEN chr(65 + (hash(e, 'c') % {_COUNTRIES} // 26)::INT)
                                                               || chr(65 + (hash(e, 'c') % 26)::INT) END,
               DATE '{since}' + (hash(e, 'f') % {days})::INT, DATE '{since}' + {days}
        FROM (SELECT e, 'Entity ' || e AS name, {_label('e')} AS label FROM range({entities}) t(e))""")


def _insert_articles(con: duckdb.DuckDBPyConnection, first: int, last: int, size: int, entities: int,
                     since: dt.date) -> None:
    """Articles, their mentions, date candidates, ledger rows, duplicates, stories and runs for [first, last)."""
    days = _days(size)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE bench_rows AS
        SELECT i, {_id('i')} AS article_id, 'site' || (hash(i, 's') % {SITES}) || '.example' AS site,
               'synthetic_' || lpad((i // {RUN_ARTICLES})::VARCHAR, 5, '0') AS run_id,
               CASE WHEN {_uniform('i', "'d'")} < 0.1 THEN NULL
                    ELSE DATE '{since}' + (i * {days} // {size} + hash(i, 'j') % 3)::INT END AS published_at,
               CASE WHEN i > 0 AND {_uniform('i', "'v'")} < 0.01
                    THEN {_id("i - 1 - (hash(i, 'w') % 1000)::BIGINT % i")} END AS version_of,
               TIMESTAMP '{since}' + to_minutes(i) AS ingested_at
        FROM range({first}, {last}) t(i)""")
    con.execute(f"""
        INSERT INTO articles
        SELECT article_id, 'url:https://' || site || '/news/' || i || '#' || {_id('i', 'k')},
               'https://' || site || '/news/' || i, 'https://' || site || '/news/' || i,
               'https://' || site || '/news/' || i, site, left(pool[1 + (hash(i, 't') % {PARAGRAPHS})::BIGINT], 80),
               'By Reporter ' || (hash(i, 'b') % 5000), published_at, 'meta_published', NULL,
               {_LANGUAGES}[1 + (hash(i, 'l') % 14)::BIGINT], 0.99, body, length(body), sha256(i::VARCHAR || 'c'),
               {_id('i - i % 4')}, ingested_at, run_id, version_of, CASE WHEN version_of IS NULL THEN 1 ELSE 2 END,
               NULL
        FROM (SELECT r.*, pool, array_to_string(list_transform(range({BODY_PARAGRAPHS}),
                     j -> pool[1 + (hash(i, j) % {PARAGRAPHS})::BIGINT]), chr(10) || chr(10)) AS body
              FROM bench_rows r, bench_pool)""")
    # ~15 entities an article, mentioned 1-3 times each; entity e drawn as entities * u^3 (a few in many articles).
    con.execute(f"""
        INSERT INTO entity_mentions
        SELECT article_id, {_id('entity', 'e')}, 'Entity ' || entity, {_label('entity')},
               slot * 200 + m * 40, slot * 200 + m * 40 + 12
        FROM (SELECT r.article_id, r.i, s.slot,
                     floor({entities} * pow({_uniform('r.i', 's.slot', "'x'")}, 3))::BIGINT AS entity
              FROM bench_rows r, range(22) s(slot) WHERE s.slot < 8 + hash(r.i, 'n') % 15) x,
             range(3) t(m)
        WHERE m < 1 + hash(x.i, x.slot, 'm') % 3""")
    con.execute("INSERT INTO date_candidates SELECT article_id, published_at, 'published', 'meta_published' "
                "FROM bench_rows WHERE published_at IS NOT NULL")
    con.execute("""
        INSERT INTO ingest_log
        SELECT run_id, 'url:https://' || site || '/news/' || i || '#' || substr(md5(i::VARCHAR || 'k'), 1, 16),
               'https://' || site || '/news/' || i, 'loaded', CASE WHEN version_of IS NOT NULL THEN 'new_version' END,
               article_id, ingested_at
        FROM bench_rows
        UNION ALL
        SELECT run_id, 'file:copy-' || i, '/inbox/copy-' || i || '.txt', 'duplicate', 'content_hash', article_id,
               ingested_at
        FROM bench_rows WHERE hash(i, 'dup') % 20 = 0""")
    con.execute("INSERT INTO duplicates SELECT 'file:copy-' || i, article_id, 'content_hash', 1.0, run_id "
                "FROM bench_rows WHERE hash(i, 'dup') % 20 = 0")
    con.execute("""
        INSERT INTO stories
        SELECT article_id, published_at, published_at + 1, 4, 'Story ' || i, []
        FROM bench_rows WHERE i % 4 = 0""")
    con.execute("""
        INSERT INTO ingest_runs
        SELECT run_id, 'files', min(ingested_at), max(ingested_at), count(*) * 21 // 20, count(*),
               count(*) // 20, 0, 0
        FROM bench_rows GROUP BY run_id""")


def _insert_signatures(con: duckdb.DuckDBPyConnection, first: int, last: int, near_copies: list[Signature]) -> None:
    """Random minima (and shingle counts) for [first, last); the first ones are `near_copies`' signatures."""
    layout = layout_for(0.8)
    rng = np.random.default_rng(first)
    for start in range(first, last, 100_000):
        count = min(100_000, last - start)
        ids = np.array([_py_id(i) for i in range(start, start + count)], dtype=object)
        minima = rng.integers(0, 1 << 32, size=(count, NUM_PERM), dtype=np.uint32)
        shingles = rng.integers(100, 2_000, size=count).astype(np.int32)
        if start == first:
            for row, sig in enumerate(near_copies[:count]):
                minima[row] = sig.minima
                shingles[row] = sig.shingles
        con.register("bench_bands", pa.table({
            "band_key": layout.keys(minima).reshape(-1),
            "article_id": pa.array(np.repeat(ids, layout.bands), pa.string())}))
        con.execute("INSERT INTO minhash_bands SELECT band_key, article_id FROM bench_bands")
        blobs = minima.astype("<u4").view(np.dtype((np.void, 4 * NUM_PERM))).reshape(count)
        con.register("bench_signatures", pa.table({
            "article_id": pa.array(ids, pa.string()), "shingles": pa.array(shingles, pa.int32()),
            "signature": pa.array([blob.tobytes() for blob in blobs], pa.binary())}))
        con.execute("INSERT INTO minhash_signatures SELECT article_id, shingles, signature FROM bench_signatures")
        con.unregister("bench_bands")
        con.unregister("bench_signatures")


def store_bytes(where: Path) -> tuple[int, dict[str, int]]:
    """Bytes on disk of the whole store (catalog and data folder) and of each table's data files."""
    store = Store.at(where)
    tables: dict[str, int] = {}
    for path in store.home.rglob("*"):
        if path.is_file() and path.parent.parent.name == "main":
            tables[path.parent.name] = tables.get(path.parent.name, 0) + path.stat().st_size
    catalog = store.catalog_file.stat().st_size if store.catalog_file else 0
    return catalog + sum(p.stat().st_size for p in store.home.rglob("*") if p.is_file()), tables


class Watchdog:
    """Interrupts a connection's queries once `seconds` have passed, once its spill folder holds more than
    `max_spill_gb`, or once the disk has less than `MIN_FREE_GB` left, whichever comes first, and says which: a
    query that does not scale fails in bounded time and disk, on a machine others share. (DuckDB's own
    `max_temp_directory_size` is set too, but a runaway join filled a disk past it.)"""

    def __init__(self, con: duckdb.DuckDBPyConnection, seconds: float, spill: Path | None = None,
                 max_spill_gb: float = 0.0):
        self.con, self.seconds, self.spill, self.max_spill = con, seconds, spill, max_spill_gb * 2**30
        self.reason: str | None = None
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(0.25):
            reason = self._exceeded()
            if reason:
                self.reason = self.reason or reason
                self.con.interrupt()

    def _exceeded(self) -> str | None:
        if time.monotonic() - self._started > self.seconds:
            return f"interrupted after {self.seconds:g} s"
        if self.spill is None or not self.spill.is_dir():
            return None
        spilled = sum(path.stat().st_size for path in self.spill.iterdir() if path.is_file())
        if spilled > self.max_spill:
            return f"interrupted at {spilled / 2**30:.1f} GB spilled to disk"
        if shutil.disk_usage(self.spill).free < MIN_FREE_GB * 2**30:
            return f"interrupted with {MIN_FREE_GB} GB left on the disk"
        return None


def time_queries(where: Path, timeout: float, measured: Measured) -> None:
    """Seconds each named query takes on a read-only connection (None, and why, when the `Watchdog` cut it)."""
    timings = measured.queries
    spill = where.parent / "spill"
    with connect(where, read_only=True, config={"temp_directory": str(spill), **LIMITS}) as con:
        for name in named_queries():
            started = time.perf_counter()
            try:
                with Watchdog(con, timeout, spill, MAX_SPILL_GB) as watchdog:
                    con.execute(named_query(name)).fetchall()
                timings[name] = time.perf_counter() - started
            except duckdb.Error as exc:
                timings[name] = None
                measured.query_errors[name] = watchdog.reason or f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


def time_lookups(where: Path, bodies: list[tuple[str, str]], threshold: float, old_sample: int,
                 measured: Measured) -> None:
    """The loader's lookup of one run (prefetch, then match/add per article) and the per-article query path."""
    with connect(where, read_only=True) as con:
        index = NearDupIndex(con, threshold)
        neardup._token_hash.cache_clear()  # as in a fresh loader process
        started = time.perf_counter()
        index.prefetch(body for _, body in bodies)
        measured.prefetch_s = time.perf_counter() - started
        for article_id, body in bodies:
            match = index.match(body)
            measured.lookup_matches += match is not None
            if match is None:
                index.add(article_id, body)
        measured.lookup_ms = (time.perf_counter() - started) / len(bodies) * 1000
        if old_sample:
            old = NearDupIndex(con, threshold)
            sample = bodies[:: max(1, len(bodies) // old_sample)][:old_sample]
            started = time.perf_counter()
            for _, body in sample:
                old.match(body)
            measured.old_lookup_ms = (time.perf_counter() - started) / len(sample) * 1000


@contextmanager
def bounded_load(spill: Path, timeout: float) -> Iterator[list[Watchdog]]:
    """The loader's connections within `LIMITS`, spilling to `spill`, each watched by a `Watchdog`."""
    from pipeline.stages import load as load_stage

    unbounded = load_stage.connect
    watchdogs: list[Watchdog] = []

    @contextmanager
    def connect_bounded(where: StoreLike, **options: Any) -> Iterator[duckdb.DuckDBPyConnection]:
        config = {**(options.pop("config", None) or {}), "temp_directory": str(spill), **LIMITS}
        with unbounded(where, config=config, **options) as con, \
                Watchdog(con, timeout, spill, MAX_SPILL_GB) as watchdog:
            watchdogs.append(watchdog)
            yield con

    with mock.patch.object(load_stage, "connect", connect_bounded):
        yield watchdogs


def time_load(where: Path, run: PreparedRun, timeout: float, measured: Measured) -> None:
    from pipeline.stages.load import load

    settings = replace(run.settings, store=Store.at(where))
    started = time.perf_counter()
    try:
        with bounded_load(where.parent / "spill", timeout) as watchdogs:
            summary = load(run.plan, run.processed, settings)
    except duckdb.Error as exc:
        measured.load_s = time.perf_counter() - started
        reasons = [w.reason for w in watchdogs if w.reason]
        measured.load_error = reasons[0] if reasons else f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        return
    measured.load_s = time.perf_counter() - started
    measured.load_articles = summary.n_inputs
    measured.load_summary = (f"{summary.n_loaded} loaded, {summary.n_duplicate} duplicate, "
                             f"{summary.n_rejected} rejected, {summary.n_failed} failed")


def near_copy_signatures(bodies: list[tuple[str, str]]) -> list[Signature]:
    from tools.evaluate.dedup import syndicated

    step = max(1, len(bodies) // min(NEAR_COPIES, max(1, len(bodies) // 20)))
    copies = (signature(syndicated(body, random.Random(n))) for n, (_, body) in enumerate(bodies[::step]))
    return [sig for sig in copies if sig is not None][:NEAR_COPIES]


def measure(size: int, root: Path, run: PreparedRun, args: argparse.Namespace,
            say: Callable[[str], None]) -> Measured:
    where = root / f"store-{size}" / "news.ducklake"
    measured = Measured(size)
    say(f"{size:,} articles: building the store")
    measured.build_s = build_store(where, size, run.near_copies, run.until)
    measured.bytes_total, tables = store_bytes(where)
    measured.bytes_index = tables.get("minhash_bands", 0) + tables.get("minhash_signatures", 0)
    measured.bytes_articles = tables.get("articles", 0)
    say(f"{size:,} articles: built in {measured.build_s:.0f} s; named queries")
    time_queries(where, args.query_timeout, measured)
    say(f"{size:,} articles: near-duplicate lookups")
    time_lookups(where, run.bodies, run.settings.near_duplicate_threshold, args.old_lookups, measured)
    say(f"{size:,} articles: loading a run of {len(run.bodies):,}")
    time_load(where, run, args.load_timeout, measured)
    shutil.rmtree(where.parent, ignore_errors=True)
    return measured


def format_table(results: list[Measured]) -> str:
    lines = [f"{'articles':>10} {'build s':>8} {'bytes/article':>14} {'of which index':>15} "
             f"{'lookup ms/art':>14} {'prefetch s':>10} {'old ms/art':>11} {'load art/s':>10}"]
    for m in results:
        old = f"{m.old_lookup_ms:11.1f}" if m.old_lookup_ms is not None else f"{'-':>11}"
        load = f"{'failed':>10}" if m.load_error else f"{m.load_rate:10.1f}"
        lines.append(f"{m.size:>10,} {m.build_s:8.1f} {m.bytes_total / m.size:14,.0f} "
                     f"{m.bytes_index / m.size:15,.0f} {m.lookup_ms:14.2f} {m.prefetch_s:10.2f} {old} {load}")
    lines += ["", "named queries, seconds (read-only connection):",
              f"{'query':28}" + "".join(f"{m.size:>12,}" for m in results)]
    for name in named_queries():
        cells = []
        for m in results:
            value = m.queries.get(name)
            cells.append(f"{'cut':>12}" if value is None else f"{value:12.3f}")
        lines.append(f"{name:28}" + "".join(cells))
    lines += [f"  {name} at {m.size:,}: {reason}" for m in results for name, reason in m.query_errors.items()]
    lines += ["", "the run looked up and loaded:"]
    lines += [f"{m.size:>10,}: {m.lookup_matches} near-duplicates found by lookup; load "
              + (f"failed after {m.load_s:.1f} s: {m.load_error}" if m.load_error else
                 f"{m.load_summary} in {m.load_s:.1f} s") for m in results]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_store", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        help="stored-article counts, comma-separated (default 1000,100000,1000000)")
    parser.add_argument("-n", "--articles", type=int, default=1000, help="articles in the run loaded and looked up")
    parser.add_argument("--old-lookups", type=int, default=10,
                        help="articles looked up one query each, the path without prefetch (0 skips)")
    parser.add_argument("--query-timeout", type=float, default=120.0, help="seconds before a named query is cut")
    parser.add_argument("--load-timeout", type=float, default=240.0, help="seconds before the load is cut")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]

    def say(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="news-bench-store-") as tmp:
        root = Path(tmp)
        say(f"processing a run of {args.articles:,} articles (the make bench corpus)")
        run = prepare_run(root, args.articles)
        results = [measure(size, root, run, args, say) for size in sizes]
    say(f"done in {time.perf_counter() - started:.0f} s")
    print(json.dumps([m.as_json() for m in results], indent=1) if args.json else format_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
