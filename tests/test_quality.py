"""The quality gate: a clean run passes, each kind of damage fails the expectation that guards it."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipeline.aggregates import rebuild_aggregates
from pipeline.quality import validate_run, validate_runs
from pipeline.store import connect

RUN_ID = "run-1"
BODY = "Ada Lovelace met Charles Babbage in London."
AT = datetime(2024, 5, 1, 12, 0)


def _article(article_id: str, **overrides) -> dict:
    return {
        "article_id": article_id,
        "doc_key": f"doc-{article_id}",
        "source_uri": f"file:///seeds/{article_id}.txt",
        "published_at": date(2024, 5, 1),
        "language": "en",
        "language_prob": 0.99,
        "body": BODY,
        "body_chars": len(BODY),
        "content_hash": f"hash-{article_id}",
        "ingested_at": AT,
        "run_id": RUN_ID,
    } | overrides


def _log_row(article: dict, **overrides) -> dict:
    return {
        "run_id": RUN_ID,
        "doc_key": article["doc_key"],
        "source_uri": article["source_uri"],
        "state": "loaded",
        "article_id": article["article_id"],
        "logged_at": AT,
    } | overrides


def _insert(con: duckdb.DuckDBPyConnection, table: str, row: dict) -> None:
    columns = ", ".join(f'"{name}"' for name in row)
    placeholders = ", ".join("?" for _ in row)
    con.execute(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", list(row.values()))


def _load_run(db_path: Path, articles: list[dict], run_counts: dict | None = None, person: str = "Ada Lovelace",
              linked_by: str | None = "ner") -> None:
    """Load articles with one mention each (of `person`, found as `linked_by` or the article's `mention_linked_by`
    says), their ledger rows, and a run
    summary that balances unless `run_counts` overrides it; the aggregates are computed from the rows, as the loader
    keeps them."""
    with connect(db_path) as con:
        _insert(con, "entities", {"entity_id": "person:1", "name": person, "label": "PERSON",
                                  "name_key": person.lower()})
        for given in articles:
            article = {name: value for name, value in given.items() if name != "mention_linked_by"}
            _insert(con, "articles", article)
            _insert(
                con,
                "entity_mentions",
                {
                    "article_id": article["article_id"],
                    "entity_id": "person:1",
                    "surface": person,
                    "label": "PERSON",
                    "start_char": 0,
                    "end_char": len(person),
                    "linked_by": given.get("mention_linked_by", linked_by),
                },
            )
            _insert(con, "ingest_log", _log_row(article))
        counts = {"n_inputs": len(articles), "n_loaded": len(articles), "n_duplicate": 0, "n_rejected": 0}
        _insert(con, "ingest_runs", {"run_id": RUN_ID, "n_failed": 0} | counts | (run_counts or {}))
        rebuild_aggregates(con)


def _quality_rows(db_path: Path) -> list[tuple]:
    with connect(db_path, read_only=True) as con:
        return con.execute(
            "SELECT suite, expectation, success FROM quality_results WHERE run_id = ?", [RUN_ID]
        ).fetchall()


@pytest.fixture
def gx_dir(tmp_path) -> Path:
    return tmp_path / "gx"


def test_clean_run_passes_and_is_recorded(fresh_db, gx_dir):
    """Missing language and date are allowed, and so is tomorrow: it is already today east of UTC."""
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    _load_run(
        fresh_db,
        [_article("a1"), _article("a2", language=None, published_at=None, mention_linked_by="name"),
         _article("a3", published_at=tomorrow)],
    )

    report = validate_run(fresh_db, RUN_ID, gx_dir)

    assert report.ok, report.critical_failures
    assert report.failed == 0
    assert {o.suite for o in report.outcomes} == {"articles", "entity_mentions", "ledger", "ledger_balance",
                                                  "aggregates", "top_entities"}
    assert len(_quality_rows(fresh_db)) == len(report.outcomes) == report.passed
    assert report.docs_index is not None and report.docs_index.name == "index.html"
    assert report.docs_index.is_file() and report.docs_index.is_relative_to(gx_dir)


@pytest.mark.parametrize(
    ("damage", "suite", "expectation"),
    [
        (
            {"published_at": date.today() + timedelta(days=3)},
            "articles",
            "expect_column_values_to_be_between(published_at)",
        ),
        ({"body": "", "body_chars": 0}, "articles", "expect_column_values_to_be_between(body_chars)"),
        ({"language": "xx", "mention_linked_by": "name"}, "articles", "expect_column_values_to_be_in_set(language)"),
    ],
    ids=["future-date", "empty-body", "unknown-language"],
)
def test_damaged_article_fails_its_critical_expectation(fresh_db, gx_dir, damage, suite, expectation):
    _load_run(fresh_db, [_article("a1"), _article("a2", **damage)])

    report = validate_run(fresh_db, RUN_ID, gx_dir)

    assert not report.ok
    assert [(o.suite, o.expectation) for o in report.critical_failures] == [(suite, expectation)]
    assert "article_id=a2" in report.critical_failures[0].observed


def test_unbalanced_ledger_fails(fresh_db, gx_dir):
    _load_run(fresh_db, [_article("a1")], run_counts={"n_inputs": 2, "n_failed": 1})

    report = validate_run(fresh_db, RUN_ID, gx_dir)

    [failure] = report.critical_failures
    assert (failure.suite, failure.expectation) == ("ledger_balance", "expect_column_values_to_be_in_set(balanced)")
    assert "ingest_runs inputs=2" in failure.observed and "ingest_log inputs=1" in failure.observed


@pytest.mark.parametrize(
    ("state", "run_counts", "ok"),
    [("duplicate", {"n_inputs": 2, "n_duplicate": 1}, True), ("loaded", {"n_inputs": 2, "n_loaded": 2}, False)],
)
def test_repeated_document_must_be_a_duplicate(fresh_db, gx_dir, state, run_counts, ok):
    """The same document under a second source_uri is fine as a duplicate, wrong as a second load."""
    article = _article("a1")
    _load_run(fresh_db, [article], run_counts=run_counts)
    with connect(fresh_db) as con:
        _insert(con, "ingest_log", _log_row(article, source_uri="file:///elsewhere/a1.txt", state=state))

    report = validate_run(fresh_db, RUN_ID, gx_dir)

    assert report.ok is ok
    if not ok:
        [failure] = report.critical_failures
        assert (failure.suite, failure.expectation) == ("ledger", "expect_column_values_to_be_unique(doc_key)")
        assert "source_uri=file:///elsewhere/a1.txt" in failure.observed


def test_orphan_mention_fails(fresh_db, gx_dir):
    _load_run(fresh_db, [_article("a1")])
    with connect(fresh_db) as con:
        con.execute("UPDATE entity_mentions SET article_id = 'gone'")

    report = validate_run(fresh_db, RUN_ID, gx_dir)

    assert [(o.suite, o.expectation) for o in report.critical_failures] == [
        ("entity_mentions", "expect_column_values_to_be_in_set(article_exists)")
    ]


def test_several_runs_are_gated_at_once_and_an_input_retried_in_a_later_run_is_no_repeat(fresh_db, gx_dir):
    """A stream drain's micro-batches: an entry failed in the first and loaded in the second has a row in each."""
    first = _article("a1")
    _load_run(fresh_db, [first], run_counts={"n_loaded": 0, "n_failed": 1})
    with connect(fresh_db) as con:
        con.execute("UPDATE ingest_log SET state = 'failed', article_id = NULL, reason = 'HTTP 503'")
        con.execute("DELETE FROM articles")
        con.execute("DELETE FROM entity_mentions")
        rebuild_aggregates(con)
        _insert(con, "articles", _article("a1", run_id="run-2"))
        _insert(con, "entity_mentions", {"article_id": "a1", "entity_id": "person:ada-lovelace",
                                         "surface": "Ada Lovelace", "label": "PERSON", "start_char": 0,
                                         "end_char": 12})
        _insert(con, "ingest_log", _log_row(first, run_id="run-2"))
        _insert(con, "ingest_runs", {"run_id": "run-2", "n_inputs": 1, "n_loaded": 1, "n_duplicate": 0,
                                     "n_rejected": 0, "n_failed": 0})
        rebuild_aggregates(con)

    report = validate_runs(fresh_db, [RUN_ID, "run-2"], gx_dir, name="drain")

    assert report.ok, report.critical_failures
    assert report.run_id == "drain"
    with connect(fresh_db, read_only=True) as con:
        recorded = con.execute("SELECT run_id, count(*) FROM quality_results GROUP BY ALL ORDER BY ALL").fetchall()
    assert recorded == [(RUN_ID, len(report.outcomes)), ("run-2", len(report.outcomes))]


def test_a_run_whose_counts_do_not_match_its_ledger_fails_among_several(fresh_db, gx_dir):
    _load_run(fresh_db, [_article("a1")], run_counts={"n_loaded": 2, "n_inputs": 2})

    report = validate_runs(fresh_db, [RUN_ID, "never-loaded"], gx_dir)

    [failure] = report.critical_failures
    assert (failure.suite, failure.expectation) == ("ledger_balance", "expect_column_values_to_be_in_set(balanced)")
    assert "1 of 2 unexpected" in failure.observed


class _LoadCommitsAfterFirstRead:
    """A gate connection after whose first read another run's load commits an article with its mention, as a
    load in the writer pool does while the gate (outside it) reads."""

    def __init__(self, con: duckdb.DuckDBPyConnection, db_path: Path):
        self._con, self._db_path, self._committed, self._reads = con, db_path, False, 0

    def __getattr__(self, name: str):
        return getattr(self._con, name)

    def execute(self, *args, **kwargs):
        if self._reads and not self._committed:
            self._committed = True
            late = _article("late", run_id="run-2", doc_key="doc-late", content_hash="hash-late")
            with connect(self._db_path, exclusive=False) as other:
                _insert(other, "articles", late)
                _insert(other, "entity_mentions", {"article_id": "late", "entity_id": "person:ada-lovelace",
                                                   "surface": "Ada Lovelace", "label": "PERSON",
                                                   "start_char": 0, "end_char": 12})
                rebuild_aggregates(other)
        self._reads += 1
        return self._con.execute(*args, **kwargs)


def test_a_load_committing_while_the_gate_reads_is_not_half_seen(fresh_db, gx_dir, monkeypatch):
    """The gate reads every table as of one snapshot: a mention committed between its reads of articles and of
    mentions would otherwise be an orphan, and fail a clean run (seen with two overlapping Airflow runs)."""
    _load_run(fresh_db, [_article("a1")])

    @contextmanager
    def racing_connect(where, **kwargs):
        with connect(where, **kwargs) as con:
            yield _LoadCommitsAfterFirstRead(con, fresh_db) if kwargs.get("read_only") else con

    monkeypatch.setattr("pipeline.quality.connect", racing_connect)
    report = validate_run(fresh_db, RUN_ID, gx_dir)

    assert report.ok, report.critical_failures
    with connect(fresh_db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (2,), "the load did commit meanwhile"


@pytest.mark.parametrize(
    ("damage", "observed"),
    [
        ("UPDATE entity_day_counts SET mentions = mentions + 1", "rows_mentions=3 daily_mentions=5"),
        ("UPDATE entity_pair_counts SET articles = articles * 2", "rows_pair_articles=1 pair_articles=2"),
        ("DELETE FROM country_counts", "place_mentions=1 country_mentions=0"),
    ],
    ids=["mentions-counted-twice", "pair-counted-twice", "country-missing"],
)
def test_aggregates_that_do_not_add_up_to_the_rows_fail(fresh_db, gx_dir, damage, observed):
    _load_run(fresh_db, [_article("a1"), _article("a2")])
    with connect(fresh_db) as con:
        _insert(con, "entities", {"entity_id": "gpe:london", "name": "London", "label": "GPE",
                                  "name_key": "london", "country_code": "GB"})
        _insert(con, "entity_mentions", {"article_id": "a1", "entity_id": "gpe:london", "surface": "London",
                                         "label": "GPE", "start_char": 36, "end_char": 42})
        rebuild_aggregates(con)
        con.execute(damage)

    report = validate_run(fresh_db, RUN_ID, gx_dir)

    [failure] = report.critical_failures
    assert (failure.suite, failure.expectation) == ("aggregates", "expect_column_values_to_be_in_set(consistent)")
    assert observed in failure.observed


def test_out_of_range_language_prob_only_warns(fresh_db, gx_dir):
    _load_run(fresh_db, [_article("a1", language_prob=1.5)])

    report = validate_run(fresh_db, RUN_ID, gx_dir)

    assert report.ok
    [warning] = [o for o in report.outcomes if not o.success]
    assert warning.expectation == "expect_column_values_to_be_between(language_prob)"
    assert not warning.critical


def test_revalidating_replaces_results(fresh_db, gx_dir):
    _load_run(fresh_db, [_article("a1")])

    first = validate_run(fresh_db, RUN_ID, gx_dir)
    second = validate_run(fresh_db, RUN_ID, gx_dir)

    assert first.outcomes == second.outcomes
    assert len(_quality_rows(fresh_db)) == len(second.outcomes)


def test_empty_database_validates(fresh_db, gx_dir):
    report = validate_run(fresh_db, RUN_ID, gx_dir)

    assert report.ok
    assert report.failed == 0
    assert len(_quality_rows(fresh_db)) == len(report.outcomes) > 0


GARBLED = "HereŌĆÖs what the council decided: ŌĆ£we will start in springŌĆØ, said the mayor of M├╝nchen."
"""A UTF-8 article decoded whole as cp775, the way one bad byte used to make the decoder guess."""


def test_mojibake_body_fails_critically(fresh_db, gx_dir):
    _load_run(fresh_db, [_article("a1"), _article("a2", body=GARBLED, body_chars=len(GARBLED))])

    report = validate_run(fresh_db, RUN_ID, gx_dir)

    [failure] = report.critical_failures
    assert (failure.suite, failure.expectation) == ("articles", "expect_column_values_to_be_between(mojibake_markers)")
    assert failure.observed.startswith("1 of 2 unexpected") and "article_id=a2" in failure.observed
    [warning] = [o for o in report.outcomes if not o.success and not o.critical]
    assert warning.expectation == "expect_column_values_to_not_match_regex(body)"


@pytest.mark.parametrize(
    ("title", "body", "warned"),
    [
        ("Budget passed", BODY.replace("London", "Genève, the cafÃ© by the lake"), "body"),
        ("Budget â€“ passed", BODY, "title"),
        ("Budget passed", BODY.replace("London", "Lon\ufffddon"), None),
    ],
    ids=["one-marker-in-body", "one-marker-in-title", "one-replaced-byte"],
)
def test_a_single_marker_only_warns(fresh_db, gx_dir, title, body, warned):
    """One marker may be genuine, and one U+FFFD is a bad byte the decoder replaced and reported."""
    _load_run(fresh_db, [_article("a1", title=title, body=body, body_chars=len(body))])

    report = validate_run(fresh_db, RUN_ID, gx_dir)

    assert report.ok
    warnings = [o.expectation for o in report.outcomes if not o.success]
    assert warnings == ([f"expect_column_values_to_not_match_regex({warned})"] if warned else [])


def test_clean_text_in_many_languages_has_no_mojibake(fresh_db, gx_dir):
    bodies = [
        "Here’s what the mayor said: “we will start in spring” — naïve hopes, déjà vu in München.",
        "Президент Венесуэлы Николас Мадуро прибыл в Москву. В Москве его встретили министры.",
        "SÃO PAULO — O presidente disse que a reunião será em Brasília, às 10h. «Não», respondeu.",
        "日本の首相は東京で記者会見を開いた。Ünlü gazeteci İstanbul’da konuştu.",
    ]
    _load_run(fresh_db, [_article(f"a{i}", body=body, body_chars=len(body)) for i, body in enumerate(bodies)])

    report = validate_run(fresh_db, RUN_ID, gx_dir)

    assert report.ok and report.failed == 0, [o for o in report.outcomes if not o.success]


def test_a_person_the_model_found_on_a_page_in_a_language_without_a_model_fails(fresh_db, gx_dir):
    """English NER on a German page: its people (``Der``, ``Aber``) fail the gate; the same name linked by name
    from known entities passes."""
    _load_run(fresh_db, [_article("a1"), _article("de1", language="de")])
    report = validate_run(fresh_db, RUN_ID, gx_dir)
    failed = [o for o in report.critical_failures if "person_without_model" in o.expectation]
    assert failed and "de1" in failed[0].observed


def test_a_known_name_linked_in_a_page_without_a_model_passes(fresh_db, gx_dir):
    _load_run(fresh_db, [_article("de1", language="de")], linked_by="name")
    assert validate_run(fresh_db, RUN_ID, gx_dir).ok


def test_mentions_loaded_before_linked_by_existed_are_not_judged(fresh_db, gx_dir):
    _load_run(fresh_db, [_article("de1", language="de")], linked_by=None)
    assert validate_run(fresh_db, RUN_ID, gx_dir).ok


@pytest.mark.parametrize("name", ["Der", "Aber", "2019"])
def test_a_top_entity_that_is_a_function_word_or_a_number_warns(fresh_db, gx_dir, name):
    _load_run(fresh_db, [_article("a1")], person=name)
    report = validate_run(fresh_db, RUN_ID, gx_dir)
    warned = [o for o in report.outcomes if o.suite == "top_entities" and not o.success]
    assert report.ok and warned and name in warned[0].observed


def _add_run(db_path: Path, run_id: str, articles: list[dict]) -> None:
    """A later run that loaded `articles` (no mentions), with its ledger and balanced counts."""
    with connect(db_path) as con:
        for article in articles:
            _insert(con, "articles", article | {"run_id": run_id})
            _insert(con, "ingest_log", _log_row(article, run_id=run_id))
        _insert(con, "ingest_runs", {"run_id": run_id, "n_inputs": len(articles), "n_loaded": len(articles),
                                     "n_duplicate": 0, "n_rejected": 0, "n_failed": 0})


def test_the_gate_judges_the_run_s_own_rows_and_their_collisions_with_earlier_ones(fresh_db, gx_dir):
    """A later run is not failed by an earlier run's damage (that was the earlier gate's to find), but an article
    of its own whose doc_key an earlier article already holds is a collision it must answer for."""
    _load_run(fresh_db, [_article("a1")])
    with connect(fresh_db) as con:
        con.execute("UPDATE articles SET published_at = DATE '2999-01-01'")
    _add_run(fresh_db, "run-2", [_article("a2")])
    assert validate_run(fresh_db, "run-2", gx_dir).ok
    assert not validate_run(fresh_db, RUN_ID, gx_dir).ok

    _add_run(fresh_db, "run-3", [_article("a3", doc_key="doc-a1")])
    report = validate_run(fresh_db, "run-3", gx_dir)
    assert ("articles", "expect_column_values_to_be_unique(doc_key)") in [
        (o.suite, o.expectation) for o in report.critical_failures]


def _settled_run(db_path: Path, run_id: str, states: list[str], counts: dict | None = None) -> None:
    """A run that loaded nothing: only ledger rows (an input seen before, a reject, …) and its counts."""
    with connect(db_path) as con:
        for number, state in enumerate(states):
            _insert(con, "ingest_log", {"run_id": run_id, "doc_key": f"doc-{number}", "state": state,
                                        "source_uri": f"file:///inbox/{number}.txt", "logged_at": AT})
        by_state = {f"n_{state}": states.count(state) for state in ("loaded", "duplicate", "rejected", "failed")}
        _insert(con, "ingest_runs", {"run_id": run_id, "n_inputs": len(states)} | by_state | (counts or {}))


def test_a_run_that_loaded_nothing_is_gated_on_its_ledger_without_great_expectations(fresh_db, gx_dir):
    _settled_run(fresh_db, "settled", ["duplicate", "duplicate", "rejected"])
    report = validate_run(fresh_db, "settled", gx_dir)
    assert report.ok and report.docs_index is None
    assert {(o.suite, o.expectation) for o in report.outcomes} == {
        ("ledger", "expect_column_values_to_be_unique(input_in_run)"),
        ("ledger", "expect_column_values_to_be_unique(doc_key)"),
        ("ledger", "expect_column_values_to_be_in_set(state)"),
        ("ledger_balance", "expect_column_values_to_be_in_set(balanced)"),
        ("aggregates", "expect_column_values_to_be_in_set(consistent)")}
    assert not gx_dir.exists(), "no great-expectations context was made"

    _settled_run(fresh_db, "unbalanced", ["duplicate"], counts={"n_inputs": 2, "n_failed": 1})
    [failure] = validate_run(fresh_db, "unbalanced", gx_dir).critical_failures
    assert (failure.suite, failure.expectation) == ("ledger_balance", "expect_column_values_to_be_in_set(balanced)")
    assert failure.observed.startswith("1 of 1 unexpected: ingest_runs inputs=2")


@pytest.mark.parametrize("states", [["duplicate", "rejected"], ["duplicate", "sideways"]], ids=["sound", "bad-state"])
def test_the_ledger_checks_without_great_expectations_judge_as_its_suites_do(fresh_db, gx_dir, states):
    from pipeline.quality import _read_frames, ledger_outcomes
    from pipeline.quality_suites import run_suites

    _settled_run(fresh_db, "settled", states)
    frames = _read_frames(fresh_db, ["settled"])
    by_suites = {(o.suite, o.expectation): o.success
                 for o in run_suites(frames, ["en"], gx_dir, "settled", datetime.now(UTC))[0]}
    alone = {(o.suite, o.expectation): o.success for o in ledger_outcomes(frames)}
    assert alone == {key: by_suites[key] for key in alone}
    assert all(alone.values()) is (states == ["duplicate", "rejected"])
