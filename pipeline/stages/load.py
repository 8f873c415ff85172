"""Load: the single store writer. Exact and near dedup, entities, stories, ledger, run row and the sources'
new state, all in one transaction, so a crash never separates what was consumed from what was stored.

Rows go in as Arrow tables (bulk), never as a Python loop of single-row INSERTs. Everything is
keyed (article_id, doc_key, (run_id, source_uri), source_id) and written with `store.merge_rows`, which skips or
overwrites a known key explicitly (no reliance on table constraints), so a retried load adds nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import TypedDict

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import run_folder
from pipeline.aggregates import add_articles
from pipeline.dedup import DegradedVersion, DuplicateMatch, ExactIndex, KnownArticle
from pipeline.enrich.linking import resolve_corpus
from pipeline.enrich.name_links import known_names, name_mentions
from pipeline.enrich.names import canonical_key, curate
from pipeline.enrich.places import country_code
from pipeline.groups import bounded_groups
from pipeline.neardup import NearDupIndex
from pipeline.records import LedgerEntry, LedgerState, Mention, Reason, RunSummary
from pipeline.run_folder import ProcessedBatch
from pipeline.settings import Settings
from pipeline.sources.base import SourceState
from pipeline.stages.plan import Plan, loaded_reason
from pipeline.store import commit, connect, execute, merge_rows, migrate
from pipeline.stories import assign_stories

_INCOMING_ENTITY_SCHEMA = pa.schema([
    ("entity_id", pa.string()), ("name", pa.string()), ("label", pa.string()), ("name_key", pa.string()),
    ("aliases", pa.list_(pa.string())), ("country_code", pa.string()),
])
"""Explicit, as a batch whose places all lack a code would otherwise give ``country_code`` Arrow's null type."""
REJECTS_FOLDER = "rejects"
"""In the store's data folder: raw bytes of rejects larger than `Settings.inline_reject_bytes`."""
_KEPT_SCHEMA = pa.schema([("article_id", pa.string()), ("version_of", pa.string()), ("version", pa.int32())])
"""The articles a load keeps, with their version links (version_of NULL and version 1 for a first version)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def entity_id_for(label: str, key: str) -> str:
    return hashlib.sha1(f"{label}\x1f{key}".encode()).hexdigest()[:16]


LOAD_CHUNK_ARTICLES = 1000
"""Articles deduplicated, linked and assigned stories together: the load reads consecutive processed batches
until it holds this many. A chunk costs a few fixed queries (stories, entities, aggregates): chunks of one
200-article batch made a 1,000-article load 1.8× slower than one chunk."""


def load(plan: Plan, processed: list[Path], settings: Settings) -> RunSummary:
    """Load the run's processed batches (the folders `process` returned) as one transaction, a chunk of batches
    at a time (`LOAD_CHUNK_ARTICLES`): memory holds one chunk's rows (and the run's ledger entries, which carry no
    text), however many batches the run has. A later chunk meets the earlier ones in the store, inside the same
    transaction, as the micro-batches of a stream meet each other."""
    ledger = [LedgerEntry.from_row(row) for row in run_folder.read(plan.folder.settled).to_pylist()]
    run_id = plan.run_id
    with connect(settings.store) as con:
        migrate(con)
        con.execute("BEGIN")
        near = NearDupIndex(con, settings.near_duplicate_threshold)
        for chunk in bounded_groups([ProcessedBatch(Path(folder)) for folder in processed], _articles_in,
                                    LOAD_CHUNK_ARTICLES):
            for batch in chunk:
                ledger += _load_outcomes(con, batch.outcomes, settings.store.home / REJECTS_FOLDER,
                                         settings.inline_reject_bytes)
            ledger += _load_chunk(con, chunk, run_id, near, settings)
        ledger = _settle_repeats(ledger)
        _write_ledger(con, run_id, ledger)
        summary = _write_run(con, plan, ledger)
        _commit_source_states(con, run_id, plan.source_states)
        commit(con, f"load {run_id}: {summary.n_loaded} loaded of {summary.n_inputs} inputs",
               {"run_id": run_id, "stage": "load", "source": plan.source})
    return summary


def _articles_in(batch: ProcessedBatch) -> int:
    return run_folder.count(batch.articles)


def _load_chunk(con: duckdb.DuckDBPyConnection, chunk: list[ProcessedBatch], run_id: str, near: NearDupIndex,
                settings: Settings) -> list[LedgerEntry]:
    """A chunk's articles, deduplicated against the store (earlier chunks of the run included), with their
    dates, entities, aggregates, stories and near-duplicate signatures; returns their ledger entries."""
    articles = _in_keeping_order(_concat([batch.articles for batch in chunk], run_folder.ARTICLE_SCHEMA))
    kept, verdicts = _dedup(con, articles, run_id, near)
    _insert_articles(con, articles, kept, run_id)
    _insert_duplicates(con, verdicts, run_id)
    keep = kept["article_id"].to_pylist()
    execute(con, "INSERT INTO date_candidates SELECT article_id, value, kind, rule FROM incoming_dates",
            tables={"incoming_dates": _only(_concat([batch.dates for batch in chunk], run_folder.DATE_SCHEMA), keep)})
    mentions = _only(_concat([batch.mentions for batch in chunk], run_folder.MENTION_SCHEMA), keep)
    _load_entities(con, mentions, _only(articles, keep).filter(pc.field("entity_status") != "ner"))
    add_articles(con, keep)
    assign_stories(con, keep, settings.story_window_days)
    near.flush()
    return verdicts


def _commit_source_states(con: duckdb.DuckDBPyConnection, run_id: str, states: tuple[SourceState, ...]) -> None:
    """What the run's sources read up to, stored with what they produced: a run that dies before this commit
    leaves the old state, so the next run reads the same inputs again (and settles those already stored)."""
    if not states:
        return
    rows = [{"source_id": s.source_id, "kind": s.kind, "value": json.dumps(s.value), "run_id": run_id,
             "updated_at": _now()} for s in states]
    merge_rows(con, "source_state", "SELECT source_id, kind, value::JSON AS value, run_id, updated_at "
               "FROM incoming_states", ["source_id"], ["source_id", "kind", "value", "run_id", "updated_at"],
               update=True, tables={"incoming_states": pa.Table.from_pylist(rows)})


def _settle_repeats(ledger: list[LedgerEntry]) -> list[LedgerEntry]:
    """An input met again in the same run (the same bytes under another name) shares the fate of its first
    occurrence: a duplicate of the article that one became, or rejected or failed for the same reason. Only a
    loaded or duplicate first occurrence gives an article to point at, so no ledger row names a missing one."""
    first = {entry.doc_key: entry for entry in ledger if entry.reason != Reason.SAME_INPUT_IN_RUN}
    settled = []
    for entry in ledger:
        fate = first.get(entry.doc_key) if entry.reason == Reason.SAME_INPUT_IN_RUN else None
        if fate is None:
            settled.append(entry)
        elif fate.state in (LedgerState.LOADED, LedgerState.DUPLICATE):
            settled.append(replace(entry, state=LedgerState.DUPLICATE, article_id=fate.article_id))
        else:
            settled.append(replace(entry, state=fate.state, reason=fate.reason, article_id=None))
    return settled


def _concat(paths: list[Path], schema: pa.Schema) -> pa.Table:
    return pa.concat_tables([schema.empty_table(), *(run_folder.read(path) for path in paths)])


def _only(table: pa.Table, article_ids: list[str]) -> pa.Table:
    return table.filter(pc.is_in(table["article_id"], pa.array(article_ids, pa.string())))


def _in_keeping_order(articles: pa.Table) -> pa.Table:
    """Among copies arriving in one load chunk, the one kept is the earliest published, then the longest body.

    A copy already in the store is always kept (its article_id may already be in analysts' results), and so is
    one from an earlier chunk of the same run (the load goes chunk by chunk to stay in bounded memory); so the
    rule only orders what arrives together.
    """
    return articles.sort_by([("published_at", "ascending", "at_end"), ("body_chars", "descending", "at_end"),
                             ("article_id", "ascending", "at_end")])


def _load_outcomes(con: duckdb.DuckDBPyConnection, path: Path, files: Path, inline_bytes: int) -> list[LedgerEntry]:
    """One batch's rejected and failed inputs. A reject keeps its raw bytes: up to `inline_bytes` in the row, above
    that in a content-addressed file under `files` (written before the commit; a killed run leaves at most a
    file the re-run writes again under the same name)."""
    outcomes = run_folder.read(path)
    rejected = outcomes.filter(pc.equal(outcomes["state"], str(LedgerState.REJECTED)))
    raws = rejected["raw"].to_pylist()
    raw_files = [_raw_file(raw, files) if len(raw) > inline_bytes else None for raw in raws]
    rows = rejected.select(["doc_key", "source_uri", "reason"]).append_column(
        "raw", pa.array([None if name else raw for raw, name in zip(raws, raw_files, strict=True)], pa.binary())
    ).append_column("raw_file", pa.array(raw_files, pa.string()))
    merge_rows(con, "rejects", "SELECT * FROM incoming_rejects", ["doc_key"],
               ["doc_key", "source_uri", "reason", "raw", "raw_file"], tables={"incoming_rejects": rows})
    return [LedgerEntry.from_row(row) for row in outcomes.drop_columns(["raw"]).to_pylist()]


def _raw_file(raw: bytes, files: Path) -> str:
    name = f"{hashlib.sha256(raw).hexdigest()}.bin"
    target = files / name
    if not target.exists():
        files.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".tmp")
        partial.write_bytes(raw)
        partial.replace(target)
    return f"{files.name}/{name}"


def _dedup(con: duckdb.DuckDBPyConnection, articles: pa.Table, run_id: str,
           near: NearDupIndex) -> tuple[pa.Table, list[LedgerEntry]]:
    """Which articles to load (with their version links), and a ledger entry for every article.

    Precedence: the same input loaded before (`seen_before`); then the same page (canonical URL), which makes
    the article a duplicate of the version with its body or else a new version; then the same body elsewhere
    (`content_hash`); then a near-duplicate body. A corrected article is a near-duplicate of its first text, so
    the page must be asked first for the correction to become a version.
    """
    index, existing = _known(con, articles)
    keep, verdicts = [], []
    columns = ["article_id", "doc_key", "source_uri", "canonical_url", "content_hash", "body", "body_chars"]
    rows = articles.select(columns).to_pylist()
    near.prefetch(row["body"] for row in rows if row["article_id"] not in existing)
    for row in rows:
        entry = LedgerEntry(row["doc_key"], row["source_uri"], LedgerState.LOADED, article_id=row["article_id"])
        if row["article_id"] in existing:
            first_run, version_of = existing[row["article_id"]]
            verdicts.append(replace(entry, reason=loaded_reason(version_of)) if first_run == run_id else
                            replace(entry, state=LedgerState.DUPLICATE, reason=Reason.SEEN_BEFORE))
            continue
        match = index.match(row["canonical_url"], row["content_hash"], row["body_chars"])
        if isinstance(match, DuplicateMatch):
            verdicts.append(replace(entry, state=LedgerState.DUPLICATE, reason=match.rule,
                                    article_id=match.duplicate_of, similarity=1.0))
            continue
        if isinstance(match, DegradedVersion):
            verdicts.append(replace(entry, state=LedgerState.DUPLICATE, reason=Reason.DEGRADED_VERSION,
                                    article_id=match.latest, similarity=match.share))
            continue
        near_match = None if match else near.match(row["body"])
        if near_match:
            verdicts.append(replace(entry, state=LedgerState.DUPLICATE, reason=Reason.NEAR_DUPLICATE,
                                    article_id=near_match.duplicate_of, similarity=near_match.similarity))
            continue
        index.add(KnownArticle(row["article_id"], row["canonical_url"], row["content_hash"], row["body_chars"]))
        near.add(row["article_id"], row["body"])
        version_of, version = (match.version_of, match.version) if match else (None, 1)
        existing[row["article_id"]] = (run_id, version_of)
        keep.append({"article_id": row["article_id"], "version_of": version_of, "version": version})
        verdicts.append(replace(entry, reason=loaded_reason(version_of)))
    return pa.Table.from_pylist(keep, schema=_KEPT_SCHEMA), verdicts


def _known(con: duckdb.DuckDBPyConnection, articles: pa.Table) -> tuple[ExactIndex, dict[str, tuple[str, str | None]]]:
    """The stored articles the incoming ones can meet: same article_id, same canonical URL or same content hash,
    the index in version order; plus article_id → (run_id, version_of) of those."""
    rows = execute(
        con, "SELECT article_id, canonical_url, content_hash, run_id, version_of, body_chars FROM articles WHERE "
        "article_id IN (SELECT article_id FROM incoming_keys) "
        "OR canonical_url IN (SELECT canonical_url FROM incoming_keys) "
        "OR content_hash IN (SELECT content_hash FROM incoming_keys) "
        "ORDER BY version, ingested_at, article_id",
        tables={"incoming_keys": articles.select(["article_id", "canonical_url", "content_hash"])}).fetchall()
    return (ExactIndex(KnownArticle(a, url, digest, chars) for a, url, digest, _, _, chars in rows),
            {a: (run, version_of) for a, _, _, run, version_of, _ in rows})


def _insert_articles(con: duckdb.DuckDBPyConnection, articles: pa.Table, keep: pa.Table, run_id: str) -> None:
    columns = ["article_id", "doc_key", "url", "canonical_url", "source_uri", "site", "title", "byline",
               "published_at", "published_rule", "updated_at", "language", "language_prob", "body", "body_chars",
               "content_hash", "story_id", "ingested_at", "run_id", "version_of", "version", "warnings", "body_rule",
               "language_candidates", "entity_status", "host"]
    merge_rows(
        con, "articles",
        "SELECT article_id, doc_key, url, canonical_url, source_uri, site, title, byline, published_at, "
        "published_rule, updated_at, language, language_prob, body, body_chars, content_hash, "
        "NULL::VARCHAR AS story_id, ?::TIMESTAMP AS ingested_at, ?::VARCHAR AS run_id, v.version_of, v.version, "
        "nullif(warnings, []) AS warnings, body_rule, language_candidates, entity_status, host "
        "FROM incoming_articles JOIN incoming_versions v USING (article_id)",
        ["article_id"], columns, params=[_now(), run_id],
        tables={"incoming_articles": _only(articles, keep["article_id"].to_pylist()), "incoming_versions": keep})


def _insert_duplicates(con: duckdb.DuckDBPyConnection, verdicts: list[LedgerEntry], run_id: str) -> None:
    """Distinct documents that duplicate a kept article; `seen_before` replays are not new documents."""
    rows = [{"doc_key": v.doc_key, "duplicate_of": v.article_id, "rule": str(v.reason), "similarity": v.similarity,
             "run_id": run_id}
            for v in verdicts if v.state is LedgerState.DUPLICATE and v.reason != Reason.SEEN_BEFORE]
    if rows:
        merge_rows(con, "duplicates", "SELECT * FROM incoming_duplicates", ["doc_key"],
                   ["doc_key", "duplicate_of", "rule", "similarity", "run_id"],
                   tables={"incoming_duplicates": pa.Table.from_pylist(rows)})


class _IncomingEntity(TypedDict):
    """A row of `incoming_entities` while a load gathers it; aliases become a sorted list when it is written."""

    entity_id: str
    name: str
    label: str
    name_key: str
    aliases: set[str]
    country_code: str | None


def _load_entities(con: duckdb.DuckDBPyConnection, mentions: pa.Table, untagged: pa.Table) -> None:
    """Attach each mention to a corpus entity, creating entities not seen before; in the ``untagged`` articles
    (no NER model for their language), link the names of known entities (`pipeline.enrich.name_links`).

    A place's country code is set when its entity is created, or on a later load of an entity created before
    codes existed; an existing code is never overwritten. Every entity the load touches has its first/last seen
    dates widened to this load's mentions (`least`/`greatest` skip NULLs): exact however articles arrive, since
    mentions are only ever added, and the cost of a load stays that of its own mentions, not of the entity's
    whole history.
    """
    rows = mentions.to_pylist()
    if untagged.num_rows:
        rows += _name_mentions(untagged, con.execute("SELECT name, label, aliases FROM entities").fetchall(), rows)
    if not rows:
        return
    stored = _linkable_entities(con, {(row["canonical"], row["label"]) for row in rows})
    known = {key: (name, label) for key, name, label, _, _ in stored}
    by_article: dict[str, list[Mention]] = defaultdict(list)
    for row in rows:
        by_article[row["article_id"]].append(
            Mention(row["surface"], row["label"], row["start_char"], row["end_char"], row["canonical"]))
    resolved = resolve_corpus(by_article.values(), known, {key: count for key, _, _, _, count in stored})
    entity_rows: dict[str, _IncomingEntity] = {}
    mention_rows = []
    for row in rows:
        key, name, label = resolved[row["canonical"]]
        entity_id = entity_id_for(label, key)
        entity = entity_rows.setdefault(entity_id, {"entity_id": entity_id, "name": name, "label": label,
                                                    "name_key": key, "aliases": set(),
                                                    "country_code": country_code(name, label)})
        entity["aliases"].update({row["canonical"], row["surface"]})
        mention_rows.append({"article_id": row["article_id"], "entity_id": entity_id, "surface": row["surface"],
                             "label": label, "start_char": row["start_char"], "end_char": row["end_char"],
                             "linked_by": row["linked_by"]})
    entities = pa.Table.from_pylist([{**e, "aliases": sorted(e["aliases"])} for e in entity_rows.values()],
                                    schema=_INCOMING_ENTITY_SCHEMA)
    incoming = {"incoming_entities": entities, "incoming_mentions": pa.Table.from_pylist(mention_rows)}
    merge_rows(con, "entities", "SELECT entity_id, name, label, name_key, []::VARCHAR[] AS aliases "
               "FROM incoming_entities", ["entity_id"], ["entity_id", "name", "label", "name_key", "aliases"],
               tables=incoming)
    execute(
        con, "UPDATE entities SET aliases = list_sort(list_distinct(list_concat(entities.aliases, i.aliases))), "
        "country_code = coalesce(entities.country_code, i.country_code) "
        "FROM incoming_entities i WHERE entities.entity_id = i.entity_id", tables=incoming)
    merge_rows(con, "entity_mentions", "SELECT * FROM incoming_mentions", ["article_id", "start_char", "end_char"],
               ["article_id", "entity_id", "surface", "label", "start_char", "end_char", "linked_by"], tables=incoming)
    execute(
        con, "UPDATE entities SET first_seen = least(entities.first_seen, seen.first_seen), "
        "last_seen = greatest(entities.last_seen, seen.last_seen) FROM ("
        "  SELECT m.entity_id, min(a.published_at) AS first_seen, max(a.published_at) AS last_seen"
        "  FROM incoming_mentions m JOIN articles a USING (article_id) GROUP BY m.entity_id"
        ") seen WHERE entities.entity_id = seen.entity_id", tables=incoming)


def _linkable_entities(con: duckdb.DuckDBPyConnection,
                       names: set[tuple[str, str]]) -> list[tuple[str, str, str, list, int]]:
    """The stored entities (key, name, label, aliases, articles) the load's names (with their labels) can be
    linked to: those sharing a word of their key with a name or its curated form. Every rule of `resolve_corpus`
    pairs two keys that share a word (the same key; one typo in one word of a several-word name; a surname that
    is the tail of a full name), and two stored entities are never linked to each other, so the others cannot
    change a link. Reading all of them made each chunk's cost grow with the store, and the linker indexed every
    stored full name's typo variants."""
    words = {word for name, label in names for form in (name, curate(name, label)[0])
             for word in canonical_key(form).split()}
    return con.execute(
        "SELECT e.name_key, e.name, e.label, e.aliases, coalesce(c.articles, 0) FROM entities e "
        "LEFT JOIN entity_counts c USING (entity_id) WHERE list_has_any(string_split(e.name_key, ' '), ?)",
        [sorted(words)]).fetchall()


def _name_mentions(untagged: pa.Table, stored: list[tuple[str, str, list[str] | None]],
                   tagged: list[dict]) -> list[dict]:
    """Mention rows for the known names (``stored`` entities' name, label, aliases; the load's ``tagged`` mentions)
    found in articles no model tagged."""
    names = known_names(stored, {(row["canonical"], row["label"]) for row in tagged})
    return [{"article_id": article_id, "surface": m.surface, "label": m.label, "start_char": m.start_char,
             "end_char": m.end_char, "canonical": m.canonical, "linked_by": "name"}
            for article_id, body in zip(untagged["article_id"].to_pylist(), untagged["body"].to_pylist(), strict=True)
            for m in name_mentions(body, names)]


def _write_ledger(con: duckdb.DuckDBPyConnection, run_id: str, ledger: list[LedgerEntry]) -> None:
    at = _now()
    rows = [{**entry.row(), "run_id": run_id, "logged_at": at} for entry in ledger]
    if not rows:
        return
    merge_rows(con, "ingest_log", "SELECT * FROM incoming_ledger", ["run_id", "source_uri"],
               ["run_id", "doc_key", "source_uri", "state", "reason", "article_id", "logged_at"], update=True,
               tables={"incoming_ledger": pa.Table.from_pylist(rows)})


def _write_run(con: duckdb.DuckDBPyConnection, plan: Plan, ledger: list[LedgerEntry]) -> RunSummary:
    counts = {state: sum(1 for entry in ledger if entry.state is state) for state in LedgerState}
    summary = RunSummary(plan.run_id, plan.n_inputs, counts[LedgerState.LOADED], counts[LedgerState.DUPLICATE],
                         counts[LedgerState.REJECTED], counts[LedgerState.FAILED], plan.started_at, _now())
    columns = ["run_id", "source", "started_at", "finished_at", "n_inputs", "n_loaded", "n_duplicate", "n_rejected",
               "n_failed"]
    merge_rows(con, "ingest_runs", "SELECT " + ", ".join(f"?::{kind} AS {name}" for name, kind in zip(
        columns, ["VARCHAR", "VARCHAR", "TIMESTAMP", "TIMESTAMP", *["INTEGER"] * 5], strict=True)),
        ["run_id"], columns, update=True,
        params=[plan.run_id, plan.source, summary.started_at, summary.finished_at, summary.n_inputs, summary.n_loaded,
                summary.n_duplicate, summary.n_rejected, summary.n_failed])
    return summary
