"""Data quality gate for an ingest run: what it reads, the gate of a run that added nothing, and the results.

The run's own rows are read (its articles, their mentions, its ledger), never whole tables, with the
whole-store invariants as SQL aggregates (mentions without an article, the aggregates against the rows, the top
entities): a gate costs what its run added, not what the store holds (a drain's gate over 60 micro-batches used to
read every body in the store). Runs that added articles or mentions are validated by the great-expectations
suites (`pipeline/quality_suites.py`). Runs that loaded nothing wrote only their ledger: its expectations (one
fate per input, known states, counts that balance, aggregates that add up) are checked here on the same frames,
under the same suite and expectation names, without importing great-expectations (3 s of a 10 s re-ingest).
Results go to `quality_results`, and the suites' to GX Data Docs under `gx_dir`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from pandas.api.typing import NAType

from pipeline.store import LAKE, StoreLike, commit, connect, retry_lost_files

TOP_ENTITIES = ("SELECT e.name, e.label, c.mentions FROM entity_counts c JOIN entities e USING (entity_id) "
                "ORDER BY c.mentions DESC, e.name LIMIT 50")
"""The entities an analyst sees first; one that is a function word says NER ran on a language it does not know."""
LEDGER_STATES = ("loaded", "duplicate", "rejected", "failed")
RUN_COUNTS = ("n_inputs", "n_loaded", "n_duplicate", "n_rejected", "n_failed")
SAMPLE_SIZE = 3
AGGREGATE_TOTALS = """
    WITH per_entity AS (
        SELECT article_id, count(*) AS mentions FROM entity_mentions GROUP BY article_id, entity_id
    ), per_article AS (
        SELECT sum(mentions) AS mentions, count(*) AS entities FROM per_entity GROUP BY article_id
    )
    SELECT coalesce(sum(mentions), 0) AS rows_mentions,
           (SELECT coalesce(sum(mentions), 0) FROM entity_day_counts) AS daily_mentions,
           (SELECT coalesce(sum(mentions), 0) FROM entity_counts) AS entity_mentions,
           coalesce(sum(entities), 0) AS rows_entity_articles,
           (SELECT coalesce(sum(articles), 0) FROM entity_day_counts) AS daily_entity_articles,
           (SELECT coalesce(sum(articles), 0) FROM entity_counts) AS entity_articles,
           coalesce(sum(entities * (entities - 1) // 2), 0) AS rows_pair_articles,
           (SELECT coalesce(sum(articles), 0) FROM entity_pair_counts) AS pair_articles,
           (SELECT coalesce(sum(c.mentions), 0) FROM entity_counts c JOIN entities e USING (entity_id)
            WHERE e.label IN ('GPE', 'LOC', 'NORP')) AS place_mentions,
           (SELECT coalesce(sum(mentions), 0) FROM country_counts) AS country_mentions
    FROM per_article"""
"""Whole-store totals of the aggregates (pipeline/aggregates.py) beside the same totals from entity_mentions: one
pass over the mentions grouped by article and entity, then by article (its mentions, its distinct entities k, and
its k(k-1)/2 pairs), and sums of the aggregate tables; no recount per key (1M articles: about 5-10 s)."""


@dataclass(frozen=True)
class ExpectationOutcome:
    suite: str
    expectation: str
    success: bool
    observed: str | None
    critical: bool


@dataclass(frozen=True)
class QualityReport:
    run_id: str
    outcomes: tuple[ExpectationOutcome, ...]
    docs_index: Path | None

    @property
    def passed(self) -> int:
        return sum(outcome.success for outcome in self.outcomes)

    @property
    def failed(self) -> int:
        return len(self.outcomes) - self.passed

    @property
    def critical_failures(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(o for o in self.outcomes if o.critical and not o.success)

    @property
    def ok(self) -> bool:
        """A run is usable when no critical expectation failed; warnings do not block it."""
        return not self.critical_failures


class Frames(NamedTuple):
    articles: pd.DataFrame
    mentions: pd.DataFrame
    top_entities: pd.DataFrame
    log: pd.DataFrame
    run: pd.DataFrame
    aggregates: pd.DataFrame
    run_ids: tuple[str, ...]


def validate_run(db_path: StoreLike, run_id: str, gx_dir: Path) -> QualityReport:
    """Validate the database after run `run_id`, record the outcome and refresh Data Docs.

    Re-validating a run replaces its earlier `quality_results` rows.
    """
    return validate_runs(db_path, [run_id], gx_dir)


def validate_runs(db_path: StoreLike, run_ids: Sequence[str], gx_dir: Path, name: str | None = None,
                  ner_languages: Collection[str] | None = None) -> QualityReport:
    """Validate the database after several runs at once (a stream drain's micro-batches): the store-wide checks
    once, the ledger checks over the runs' rows, each run's counts against its own ledger. The outcome is recorded
    for every run, and the report is named `name` (default: the first run). ``ner_languages`` are the languages
    with an NER model (default: the settings')."""
    frames = _read_frames(db_path, run_ids)
    label, run_time = name or run_ids[0], datetime.now(UTC)
    docs_index = None
    if frames.articles.empty and frames.mentions.empty:
        outcomes = ledger_outcomes(frames)
    else:
        from pipeline.quality_suites import run_suites
        from pipeline.settings import load_settings

        if ner_languages is None:
            ner_languages = [language for language, _ in load_settings().ner_models]
        outcomes, docs_index = run_suites(frames, ner_languages, gx_dir, label, run_time)
    _store_outcomes(db_path, run_ids, outcomes, run_time)
    return QualityReport(run_id=label, outcomes=outcomes, docs_index=docs_index)


def _read_frames(db_path: StoreLike, run_ids: Sequence[str]) -> Frames:
    """Read everything up front, closed before results are written, with the store attached as of its latest
    snapshot: another run's load commits while the gate reads (the gate is outside the writer pool), and its
    mentions must not be seen without its articles. A pinned snapshot rather than one long transaction: with a
    SQLite catalog an open read transaction would lock the writer's commit out. A file that maintenance merged
    away mid-read makes the read run again (`retry_lost_files`)."""
    with connect(db_path, read_only=True) as con:
        (latest,) = con.execute(f"SELECT id FROM {LAKE}.current_snapshot()").fetchone() or (None,)
    return retry_lost_files(lambda: _read_snapshot(db_path, run_ids, latest))


RUN_ARTICLES = """
WITH run_articles AS (SELECT article_id, doc_key FROM articles WHERE list_contains($runs, run_id))
SELECT article_id, doc_key, title, body, body_chars, language, language_prob, published_at, entity_status
FROM articles
WHERE list_contains($runs, run_id)
   OR article_id IN (SELECT article_id FROM run_articles)
   OR doc_key IN (SELECT doc_key FROM run_articles)"""
"""The runs' own articles, and any other that shares an id or a doc_key with one of them, so the uniqueness
expectations see a collision with an earlier load (a collision among earlier rows was its own run's failure)."""
RUN_MENTIONS = """
WITH known AS (SELECT article_id, any_value(language) AS language FROM articles GROUP BY article_id)
SELECT m.article_id, m.entity_id, m.label, m.start_char, m.end_char, m.linked_by,
       k.article_id IS NOT NULL AS article_exists, k.language AS article_language
FROM entity_mentions m
LEFT JOIN known k USING (article_id)
WHERE m.article_id IN (SELECT article_id FROM articles WHERE list_contains($runs, run_id)) OR k.article_id IS NULL"""
"""The mentions of the runs' articles, and every mention in the store whose article does not exist (an anti-join
in SQL, no rows when the store is sound), each with its article's language."""


def _read_snapshot(db_path: StoreLike, run_ids: Sequence[str], latest: int | None) -> Frames:
    runs = {"runs": list(run_ids)}
    with connect(db_path, read_only=True, snapshot=latest) as con:
        return Frames(
            articles=con.execute(RUN_ARTICLES, runs).df(),
            mentions=con.execute(RUN_MENTIONS, runs).df(),
            top_entities=con.execute(TOP_ENTITIES).df(),
            log=con.execute("SELECT run_id, source_uri, doc_key, state, run_id || ' ' || source_uri AS input_in_run "
                            "FROM ingest_log WHERE list_contains($runs, run_id)", runs).df(),
            run=con.execute(f"SELECT run_id, {', '.join(RUN_COUNTS)} FROM ingest_runs "
                            "WHERE list_contains($runs, run_id)", runs).df(),
            run_ids=tuple(run_ids),
            aggregates=con.execute(AGGREGATE_TOTALS).df(),
        )


def balance(frames: Frames) -> pd.DataFrame:
    """A row per run saying whether its summary counts agree with its ledger rows."""
    return pd.concat([balance_frame(frames.run[frames.run["run_id"] == run_id],
                                    frames.log[frames.log["run_id"] == run_id]) for run_id in frames.run_ids],
                     ignore_index=True)


def ledger_outcomes(frames: Frames) -> tuple[ExpectationOutcome, ...]:
    """The gate of runs that loaded no article and left no mention without one: their ledger's expectations, as
    the `ledger`, `ledger_balance` and `aggregates` suites state them, checked on the frames already read."""
    log = frames.log
    balanced, aggregates = balance(frames), aggregates_frame(frames.aggregates)
    return (
        _holds("ledger", "expect_column_values_to_be_unique(input_in_run)",
               ~log["input_in_run"].duplicated(keep=False), log["input_in_run"]),
        _holds("ledger", "expect_column_values_to_be_unique(doc_key)",
               ~log["doc_key"].where(log["state"] == "loaded").dropna().duplicated(keep=False), log["doc_key"]),
        _holds("ledger", "expect_column_values_to_be_in_set(state)", log["state"].isin(LEDGER_STATES), log["state"]),
        _holds("ledger_balance", "expect_column_values_to_be_in_set(balanced)", balanced["balanced"].astype(bool),
               balanced["counts"]),
        _holds("aggregates", "expect_column_values_to_be_in_set(consistent)", aggregates["consistent"].astype(bool),
               aggregates["counts"]),
    )


def _holds(suite: str, expectation: str, expected: pd.Series, shown: pd.Series) -> ExpectationOutcome:
    """An outcome worded as the suites word theirs: how many of how many rows were unexpected, and a few."""
    unexpected = shown.loc[expected[~expected].index]
    observed = f"{len(unexpected)} of {len(expected)} unexpected"
    if len(unexpected):
        observed += ": " + "; ".join(str(value) for value in unexpected.head(SAMPLE_SIZE))
    return ExpectationOutcome(suite, expectation, unexpected.empty, observed, critical=True)


def balance_frame(run: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
    """One row saying whether the run's summary counts agree with its ledger rows.

    A run without an `ingest_runs` row recorded nothing, so it balances only with an empty
    ledger; a row whose counts are still NULL (the run never finished) does not balance.
    """
    summary: dict[str, int | None] = (
        {name: _count(run.iloc[0][name]) for name in RUN_COUNTS} if len(run) else dict.fromkeys(RUN_COUNTS, 0)
    )
    states = log["state"].value_counts()
    ledger = {"n_inputs": len(log)} | {f"n_{s}": int(states.get(s, 0)) for s in LEDGER_STATES}
    parts = [summary[name] for name in RUN_COUNTS[1:]]
    counted = [part for part in parts if part is not None]
    balanced = summary == ledger and len(counted) == len(parts) and summary["n_inputs"] == sum(counted)
    counts = f"ingest_runs {_describe(summary)}; ingest_log {_describe(ledger)}"
    return pd.DataFrame({"balanced": [balanced], "counts": [counts]})


def aggregates_frame(totals: pd.DataFrame) -> pd.DataFrame:
    """One row saying whether the aggregates the named queries read add up to the rows they count: mentions, an
    article per entity it names, an article per pair of entities it names, and places' mentions by country. A
    load that added a contribution twice, or missed one, shows here."""
    row = {name: int(value) for name, value in totals.iloc[0].items()}
    groups = {
        "mentions": ("rows_mentions", "daily_mentions", "entity_mentions"),
        "entity articles": ("rows_entity_articles", "daily_entity_articles", "entity_articles"),
        "pair articles": ("rows_pair_articles", "pair_articles"),
        "place mentions": ("place_mentions", "country_mentions"),
    }
    consistent = all(len({row[name] for name in names}) == 1 for names in groups.values())
    counts = "; ".join(f"{group}: " + " ".join(f"{name}={row[name]}" for name in names)
                       for group, names in groups.items())
    return pd.DataFrame({"consistent": [consistent], "counts": [counts]})


def _count(value: np.integer | NAType) -> int | None:
    """DuckDB hands a nullable INTEGER column to pandas as Int64, so a missing count arrives as `pd.NA`."""
    return None if pd.isna(value) else int(value)


def _describe(counts: Mapping[str, int | None]) -> str:
    return " ".join(f"{name.removeprefix('n_')}={value}" for name, value in counts.items())


def _store_outcomes(db_path: StoreLike, run_ids: Sequence[str], outcomes: tuple[ExpectationOutcome, ...],
                    at: datetime) -> None:
    """Replace the run's earlier results in one transaction, so re-validating never doubles rows. It needs no
    writer slot (nothing here deduplicates), so the gate never waits for another run's load.

    `checked_at` is naive UTC, like the loader's timestamps.
    """
    stamp = at.astimezone(UTC).replace(tzinfo=None)
    rows = [(run_id, o.suite, o.expectation, o.success, o.observed, stamp) for run_id in run_ids for o in outcomes]
    with connect(db_path, exclusive=False) as con:
        con.begin()
        con.execute("DELETE FROM quality_results WHERE list_contains(?, run_id)", [list(run_ids)])
        con.executemany(
            "INSERT INTO quality_results (run_id, suite, expectation, success, observed, checked_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        label = run_ids[0] if len(run_ids) == 1 else f"{run_ids[0]} … {run_ids[-1]} ({len(run_ids)} runs)"
        commit(con, f"quality {label}: {sum(o.success for o in outcomes)} of {len(outcomes)} passed",
               {"run_id": run_ids[0], "runs": list(run_ids), "stage": "quality"})

