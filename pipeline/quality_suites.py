"""The great-expectations suites of the quality gate: a run's articles, mentions, ledger and the store's
invariants, each a suite over one pandas frame (`pipeline.quality` reads them), with Data Docs under `gx_dir`.

GX's SQL datasource cannot read DuckDB (it closes the connection before fetching), hence the frames. Whether a
failure blocks the run is GX's own expectation `severity`. CRITICAL is GX's default, so an expectation blocks
unless it is explicitly marked WARNING.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from types import ModuleType
from urllib.parse import urlparse
from urllib.request import url2pathname

import great_expectations as gx
import pandas as pd
from great_expectations import expectations as gxe
from great_expectations.checkpoint import CheckpointResult
from great_expectations.core import ExpectationValidationResult
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context import AbstractDataContext
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.datasource.fluent import PandasDatasource
from great_expectations.expectations.metadata_types import FailureSeverity

from pipeline.quality import LEDGER_STATES, SAMPLE_SIZE, ExpectationOutcome, Frames, aggregates_frame, balance
from pipeline.records import ENTITY_LABELS


def run_suites(frames: Frames, ner_languages: Collection[str], gx_dir: Path, label: str,
               run_time: datetime) -> tuple[tuple[ExpectationOutcome, ...], Path | None]:
    """Validate every suite on its frame, as one GX run named `label`; returns the outcomes and the Data Docs
    index."""
    context = _context(gx_dir)
    run = RunIdentifier(run_name=label, run_time=run_time)
    results = _run_checkpoints(context, _checks(frames, ner_languages), run)
    outcomes = tuple(
        _outcome(suite, expectation)
        for suite, result in results.items()
        for validation in result.run_results.values()
        for expectation in validation.results
    )
    return outcomes, _build_docs(context, results.values())


DATASOURCE = "news_quality"


FUNCTION_WORD_LANGUAGES = ("en", "de", "fr", "es", "nl", "sv", "da", "nb", "pl", "ru")
"""Stop-word lists of languages whose lists hold function words only (Italian's also holds "state", "stati")."""




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


@dataclass(frozen=True)
class _Check:
    """One GX suite and the frame it validates.

    `key` names the columns reported beside each unexpected value, so a failure points at rows.
    """

    suite: str
    frame: pd.DataFrame
    key: tuple[str, ...]
    expectations: tuple[gxe.Expectation, ...]


def _checks(frames: Frames, ner_languages: Collection[str]) -> tuple[_Check, ...]:
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
            balance(frames),
            ("counts",),
            (gxe.ExpectColumnValuesToBeInSet(column="balanced", value_set=[True]),),
        ),
        _Check(
            "aggregates",
            aggregates_frame(frames.aggregates),
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
    """Function words of the languages most news is in, from the stop-word lists spaCy ships (no model needed).

    Each list is a module of its own that imports nothing, read by file: importing it as `spacy.lang.de.stop_words`
    would first import the language's package (tokenizer exceptions, syntax iterators, spaCy itself), 2 to 4 s
    of every gate for ten sets of words."""
    spacy = importlib.util.find_spec("spacy")
    if spacy is None or spacy.origin is None:
        raise ModuleNotFoundError("spacy is not installed")
    lang = Path(spacy.origin).parent / "lang"
    words: set[str] = set()
    for language in FUNCTION_WORD_LANGUAGES:
        words |= _module_from_file(lang / language / "stop_words.py").STOP_WORDS
    return frozenset(word.casefold() for word in words)


def _module_from_file(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_news_{path.parent.name}_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
