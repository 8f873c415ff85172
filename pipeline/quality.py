"""Data quality gate for an ingest run, checked with Great Expectations.

GX's SQL datasource cannot read DuckDB (it closes the connection before fetching), so the
rows are read into pandas through a read-only connection and validated as DataFrames: the run's own rows
(its articles, their mentions, its ledger), never whole tables, and the whole-store invariants as SQL
aggregates (mentions without an article, the aggregates against the rows, the top entities). A gate costs what
its run added, not what the store holds: a drain's gate over 60 micro-batches read every body in the store.
Results go to `quality_results` and to GX Data Docs under `gx_dir`.

Whether a failure blocks the run is GX's own expectation `severity`. CRITICAL is GX's default,
so an expectation blocks unless it is explicitly marked WARNING.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlparse
from urllib.request import url2pathname

import great_expectations as gx
import numpy as np
import pandas as pd
from great_expectations import expectations as gxe
from great_expectations.checkpoint import CheckpointResult
from great_expectations.core import ExpectationValidationResult
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context import AbstractDataContext
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.datasource.fluent import PandasDatasource
from great_expectations.expectations.metadata_types import FailureSeverity
from pandas.api.typing import NAType

from pipeline.records import ENTITY_LABELS
from pipeline.store import LAKE, StoreLike, commit, connect, retry_lost_files

DATASOURCE = "news_quality"
TOP_ENTITIES = ("SELECT e.name, e.label, c.mentions FROM entity_counts c JOIN entities e USING (entity_id) "
                "ORDER BY c.mentions DESC, e.name LIMIT 50")
"""The entities an analyst sees first; one that is a function word says NER ran on a language it does not know."""
FUNCTION_WORD_LANGUAGES = ("en", "de", "fr", "es", "nl", "sv", "da", "nb", "pl", "ru")
"""Stop-word lists of languages whose lists hold function words only (Italian's also holds "state", "stati")."""
LEDGER_STATES = ("loaded", "duplicate", "rejected", "failed")
RUN_COUNTS = ("n_inputs", "n_loaded", "n_duplicate", "n_rejected", "n_failed")
SAMPLE_SIZE = 3
MOJIBAKE = "|".join((
    "[âā]€",  # ’ “ ” – … as UTF-8 read by windows-1252, -1250 or -1257: "â€™"
    "â[\x80-\x9f]",  # the same read by latin-1
    "Ã[\x80-\xbf€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ]",  # é ä ö ü ñ ç ß É read by windows-1252 or latin-1: "Ã©"
    "Â[\xa0-\xbf ]",  # no-break space, « » ° © read by windows-1252 or latin-1: "Â "
    "вЂ",  # punctuation read by windows-1251
    "ŌĆ|Ć[©¤¶¼±§‰]",  # punctuation read by cp775 ("ŌĆÖ"), letters by windows-1257 ("Ć©")
    "‚Ä[ôúùìî¶]|√[©§∂º±ßâü]",  # punctuation and letters read by Mac Roman or Mac Icelandic
    "[ΓÔ]Ç|├[^\u2500-\u257f\\s]",  # read by the DOS code pages 437, 850 and 852
    "\ufffd{2,}",  # a run of replacement characters: bytes no codec could read
))
"""Marks that UTF-8 text was decoded with a wrong codec. A single U+FFFD is not one: the decoder replaces a
lone bad byte that way, and records a warning for it."""
MOJIBAKE_TOLERATED = 2
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


class _Frames(NamedTuple):
    articles: pd.DataFrame
    mentions: pd.DataFrame
    top_entities: pd.DataFrame
    log: pd.DataFrame
    run: pd.DataFrame
    aggregates: pd.DataFrame
    run_ids: tuple[str, ...]


@dataclass(frozen=True)
class _Check:
    """One GX suite and the frame it validates.

    `key` names the columns reported beside each unexpected value, so a failure points at rows.
    """

    suite: str
    frame: pd.DataFrame
    key: tuple[str, ...]
    expectations: tuple[gxe.Expectation, ...]


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
    if ner_languages is None:
        from pipeline.settings import load_settings

        ner_languages = [language for language, _ in load_settings().ner_models]
    checks = _checks(_read_frames(db_path, run_ids), ner_languages)
    context = _context(gx_dir)
    label = name or run_ids[0]
    run = RunIdentifier(run_name=label, run_time=datetime.now(UTC))
    results = _run_checkpoints(context, checks, run)
    outcomes = tuple(
        _outcome(suite, expectation)
        for suite, result in results.items()
        for validation in result.run_results.values()
        for expectation in validation.results
    )
    _store_outcomes(db_path, run_ids, outcomes, run.run_time)
    return QualityReport(run_id=label, outcomes=outcomes, docs_index=_build_docs(context, results.values()))


def _read_frames(db_path: StoreLike, run_ids: Sequence[str]) -> _Frames:
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


def _read_snapshot(db_path: StoreLike, run_ids: Sequence[str], latest: int | None) -> _Frames:
    runs = {"runs": list(run_ids)}
    with connect(db_path, read_only=True, snapshot=latest) as con:
        return _Frames(
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


def _checks(frames: _Frames, ner_languages: Collection[str]) -> tuple[_Check, ...]:
    """A suite validates a single frame, so the ledger takes two: its rows, and one row comparing
    them with the run's summary counts."""
    mentions = frames.mentions.assign(article_exists=frames.mentions["article_exists"].astype(bool),
                                      person_without_model=_persons_without_model(frames.mentions, ner_languages))
    articles = frames.articles.assign(mojibake_markers=_mojibake_markers(frames.articles))
    top = frames.top_entities.assign(function_word=frames.top_entities["name"].map(_is_function_word).astype(bool))
    return (
        _Check("articles", articles, ("article_id",), _article_expectations()),
        _Check("entity_mentions", mentions, ("article_id", "start_char"), _mention_expectations()),
        _Check("top_entities", top, ("name", "label"), (gxe.ExpectColumnValuesToBeInSet(
            column="function_word", value_set=[False], severity=FailureSeverity.WARNING,
            description="no top entity is a function word or a number"),)),
        _Check("ledger", frames.log, ("run_id", "source_uri"), _ledger_expectations()),
        _Check(
            "ledger_balance",
            pd.concat([_balance_frame(frames.run[frames.run["run_id"] == run_id],
                                      frames.log[frames.log["run_id"] == run_id]) for run_id in frames.run_ids],
                      ignore_index=True),
            ("counts",),
            (gxe.ExpectColumnValuesToBeInSet(column="balanced", value_set=[True]),),
        ),
        _Check(
            "aggregates",
            _aggregates_frame(frames.aggregates),
            ("counts",),
            (gxe.ExpectColumnValuesToBeInSet(column="consistent", value_set=[True],
                                             description="aggregates match the rows"),),
        ),
    )


def _article_expectations() -> tuple[gxe.Expectation, ...]:
    """Identity, body, future-date and mojibake rules are critical; the detector's confidence only warns.

    The future-date bound is a suite parameter (`latest_published`, set per run) so the stored
    suite does not change from day to day.

    Mojibake blocks when an article carries more than MOJIBAKE_TOLERATED markers: then its text was read
    with the wrong codec (or published garbled), and NER, dedup and search work on wrong words. One or
    two markers only warn, per column: "Â " or "Ã©" can be genuine (a capitalised Portuguese or French word,
    an article quoting mojibake), and a rare garbled character should not hold up a whole run.
    """
    return (
        gxe.ExpectColumnValuesToNotBeNull(column="article_id"),
        gxe.ExpectColumnValuesToBeUnique(column="article_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="doc_key"),
        gxe.ExpectColumnValuesToBeUnique(column="doc_key"),
        gxe.ExpectColumnValuesToNotBeNull(column="body"),
        gxe.ExpectColumnValuesToBeBetween(column="body_chars", min_value=1),
        gxe.ExpectColumnValuesToBeInSet(column="language", value_set=sorted(_language_codes())),
        gxe.ExpectColumnValuesToBeBetween(column="published_at", max_value={"$PARAMETER": "latest_published"}),
        gxe.ExpectColumnValuesToBeBetween(column="mojibake_markers", max_value=MOJIBAKE_TOLERATED),
        gxe.ExpectColumnValuesToBeBetween(
            column="language_prob", min_value=0, max_value=1, mostly=0.95, severity=FailureSeverity.WARNING
        ),
        gxe.ExpectColumnValuesToNotMatchRegex(column="title", regex=MOJIBAKE, severity=FailureSeverity.WARNING),
        gxe.ExpectColumnValuesToNotMatchRegex(column="body", regex=MOJIBAKE, severity=FailureSeverity.WARNING),
    )


def _mojibake_markers(articles: pd.DataFrame) -> pd.Series:
    """Mojibake markers per article, in its title and body together."""
    text = articles["title"].fillna("") + "\n" + articles["body"].fillna("")
    return text.str.count(MOJIBAKE).astype("int64")


def _mention_expectations() -> tuple[gxe.Expectation, ...]:
    """Offsets and the link to an article are critical; an unexpected label only warns,
    since a model upgrade may add labels without corrupting anything."""
    return (
        gxe.ExpectColumnValuesToNotBeNull(column="article_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="entity_id"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="end_char", column_B="start_char"),
        gxe.ExpectColumnValuesToBeInSet(
            column="label", value_set=list(ENTITY_LABELS), severity=FailureSeverity.WARNING
        ),
        gxe.ExpectColumnValuesToBeInSet(column="article_exists", value_set=[True]),
        gxe.ExpectColumnValuesToBeInSet(column="person_without_model", value_set=[False],
                                        description="no PERSON found by NER in an article whose language has no model"),
    )


def _persons_without_model(mentions: pd.DataFrame, ner_languages: Collection[str]) -> pd.Series:
    """PERSON mentions a model found in an article whose language has none (English NER on a German page).

    Mentions loaded before `linked_by` existed (NULL) are not judged: nothing recorded how they were found; nor are
    orphans, which `article_exists` reports.
    """
    by_model = mentions["linked_by"].eq("ner").fillna(False) & mentions["label"].eq("PERSON")
    in_article = mentions["article_exists"].astype(bool)
    return (by_model & in_article & ~mentions["article_language"].isin(list(ner_languages))).astype(bool)


@functools.cache
def _function_words() -> frozenset[str]:
    """Function words of the languages most news is in, from the stop-word lists spaCy ships (no model needed)."""
    words: set[str] = set()
    for language in FUNCTION_WORD_LANGUAGES:
        words |= importlib.import_module(f"spacy.lang.{language}.stop_words").STOP_WORDS
    return frozenset(word.casefold() for word in words)


def _is_function_word(name: str) -> bool:
    """A name that is a function word (``Der``, ``Aber``) or holds no letter (``2019``, ``4-38``)."""
    return name.casefold() in _function_words() or not any(c.isalpha() for c in name)


def _ledger_expectations() -> tuple[gxe.Expectation, ...]:
    """One fate per input in each run, and one load per document.

    A doc_key may repeat within a run (the same file in two folders, a URL twice in a feed);
    the repeats must be settled as duplicates, so only the loaded rows need a unique doc_key. An input may have
    a row in two runs validated together (a stream entry that failed, then was tried again).
    """
    return (
        gxe.ExpectColumnValuesToBeUnique(column="input_in_run", description="one fate per input in each run"),
        gxe.ExpectColumnValuesToBeUnique(
            column="doc_key",
            row_condition='state=="loaded"',
            condition_parser="pandas",
            description="doc_key is unique among the run's loaded rows",
        ),
        gxe.ExpectColumnValuesToBeInSet(column="state", value_set=list(LEDGER_STATES)),
    )


def _language_codes() -> frozenset[str]:
    """Two-letter codes the `language` column may hold.

    pycountry carries the full ISO 639-1 list. Without it, langdetect's profiles are the codes
    the pipeline can produce, truncated because 'zh-cn' and 'zh-tw' are stored as 'zh'.
    """
    try:
        import pycountry
    except ImportError:
        from langdetect.detector_factory import PROFILES_DIRECTORY

        return frozenset(profile.name[:2] for profile in Path(PROFILES_DIRECTORY).iterdir())
    return frozenset(lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2"))


def _balance_frame(run: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
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


def _aggregates_frame(totals: pd.DataFrame) -> pd.DataFrame:
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


def _context(gx_dir: Path) -> AbstractDataContext:
    """A file context under `gx_dir`, so suites, results and Data Docs persist between runs."""
    context = gx.get_context(mode="file", project_root_dir=str(gx_dir))
    context.variables.analytics_enabled = False
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    context.variables.save()
    return context


def _run_checkpoints(
    context: AbstractDataContext, checks: tuple[_Check, ...], run: RunIdentifier
) -> dict[str, CheckpointResult]:
    """One checkpoint per suite, because a checkpoint hands the same dataframe to all its validations."""
    source = context.data_sources.add_or_update_pandas(DATASOURCE)
    parameters = {"latest_published": _latest_published(run.run_time)}
    return {
        check.suite: _checkpoint(context, source, check).run(
            batch_parameters={"dataframe": check.frame}, expectation_parameters=parameters, run_id=run
        )
        for check in checks
    }


def _latest_published(now: datetime) -> datetime:
    """Tomorrow in UTC: a paper in UTC+14 prints a date a day ahead of UTC, and that is not future."""
    return datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time())


def _checkpoint(context: AbstractDataContext, source: PandasDatasource, check: _Check) -> gx.Checkpoint:
    """Register the check's GX objects by name, replacing earlier versions.

    `source` was recreated empty by `add_or_update_pandas`, and everything else is added with
    `add_or_update`, so repeated validations never hit "already exists".
    """
    batch = source.add_dataframe_asset(check.suite).add_batch_definition_whole_dataframe(check.suite)
    suite = context.suites.add_or_update(gx.ExpectationSuite(name=check.suite, expectations=list(check.expectations)))
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=check.suite, data=batch, suite=suite)
    )
    return context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=check.suite,
            validation_definitions=[definition],
            result_format={
                "result_format": "SUMMARY",
                "unexpected_index_column_names": list(check.key),
            },
        )
    )


def _outcome(suite: str, result: ExpectationValidationResult) -> ExpectationOutcome:
    config = result.expectation_config
    if config is None:
        raise ValueError(f"{suite}: a checkpoint result without the expectation it checked")
    columns = [config.kwargs[k] for k in ("column", "column_A", "column_B") if k in config.kwargs]
    return ExpectationOutcome(
        suite=suite,
        expectation=f"{config.type}({', '.join(columns)})",
        success=bool(result.success),
        observed=_observed(result),
        critical=config.severity == FailureSeverity.CRITICAL,
    )


def _observed(result: ExpectationValidationResult) -> str | None:
    """A short human summary: the observed value, or how many rows failed and a few of them."""
    if result.exception_info.get("raised_exception"):
        return f"error: {result.exception_info.get('exception_message')}"
    details = result.result or {}
    if "observed_value" in details:
        return str(details["observed_value"])
    if "unexpected_count" not in details:
        return None
    summary = f"{details['unexpected_count']} of {details['element_count']} unexpected"
    samples = details.get("partial_unexpected_index_list") or details.get("partial_unexpected_list")
    if not details["unexpected_count"] or not samples:
        return summary
    return f"{summary}: " + "; ".join(_sample(s) for s in samples[:SAMPLE_SIZE])


def _sample(sample: object) -> str:
    if isinstance(sample, dict):
        return " ".join(f"{name}={value}" for name, value in sample.items())
    return str(sample)


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


def _build_docs(context: AbstractDataContext, results: Iterable[CheckpointResult]) -> Path | None:
    """Render this run's pages and rebuild the index once; returns the index of the first site.

    A full `build_data_docs()` re-renders every stored result, and an UpdateDataDocsAction per
    checkpoint rebuilds the index once per suite; both grow with the history kept under gx_dir.
    """
    identifiers = [
        identifier
        for result in results
        for key in result.run_results
        for identifier in (key, key.expectation_suite_identifier)
    ]
    # GX annotates a list of one identifier kind, but its site builders only test membership, so both kinds mix.
    for url in context.build_data_docs(resource_identifiers=identifiers).values():  # type: ignore[arg-type]
        return Path(url2pathname(urlparse(url).path))
    return None
