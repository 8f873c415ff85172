"""Stories: articles about the same event, grouped so readers see one event once.

A new article joins the story of the most similar already-assigned article that passes `same_story`, else it
starts a story of its own whose story_id is its article_id. Decision rule for one pair of articles:

- both dated, more than `window_days` apart (`Settings.story_window_days`, default 3): never the same story
  (the same people meet again months later);
- both dated, within the window: the same story when their title+lead texts agree (TF-IDF cosine ≥ `TEXT_MIN`)
  and so do their named entities (weighted overlap ≥ `ENTITY_MIN`), or when the text alone is very close
  (≥ `TEXT_ALONE`, for languages where entity tagging finds little);
- either undated: no time evidence, so both text (≥ `UNDATED_TEXT_MIN`) and entities (≥ `UNDATED_ENTITY_MIN`)
  must be strong. The ingestion date is not used as a stand-in: old articles are ingested every day.

Text is the title plus the first `LEAD_WORDS` words of the body (`story_terms`, stored with the article), weighted
by TF-IDF over the articles a call may compare (its scope: the new articles, the stored ones dated within their
window, and those sharing entities with an undated one), so the words every candidate shares (the country, the
president) count little. Entities are the article's PERSON/ORG/GPE entity ids weighted by their share of its
mentions, places at half weight because a country is shared by unrelated events; overlap is Σ min / Σ max of those
weights (weighted Jaccard).

A later version of a page (`articles.version_of`) joins the story of the page's first version without a vote.
Stories never merge and story ids never change, so a re-run or a later article cannot renumber anything.

A new article is compared only with the articles that can pass the rule (see `_prefix`), found by their prefix
keys among the stored ones (`story_postings`) and by `_Pool` among those of the same call, and with at most
`MAX_COMPARED` of those. An article's weights and prefix are computed once, when it gets its story, with the
document frequencies of its scope then, and stored (`story_terms.weight`, `story_postings`): a call weighs only its
new articles, reads the postings of their keys and the weights of the articles those meet, so its memory and time
grow with the call and with how many articles hold its keys, not with every article of the window.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa

from pipeline.groups import bounded_groups
from pipeline.store import execute, merge_rows
from pipeline.textnorm import tokens

WINDOW_DAYS = 3
"""The default window (`Settings.story_window_days`); the text and entity bars below are tuned together with the
candidate pruning and stay constants."""
LEAD_WORDS = 100
TEXT_MIN = 0.15
ENTITY_MIN = 0.2
TEXT_ALONE = 0.45
UNDATED_TEXT_MIN = 0.45
UNDATED_ENTITY_MIN = 0.5
LABEL_WEIGHTS = {"PERSON": 1.0, "ORG": 1.0, "GPE": 0.5}
MIN_SHARED_ENTITIES = 2
"""An undated pair needs entity overlap ≥ 0.5 anyway, so candidates sharing fewer entities are not fetched."""
MAX_UNDATED_CANDIDATES = 200
MAX_ENTITY_ARTICLES = 1000
"""An entity named in more stored articles than this (a country, a head of state) does not tell which event an
undated article is about, so it finds no undated candidates: counted per mention, such entities made the candidate
query grow with the square of their mentions (13 billion rows at 100k stored articles)."""
TOP_ENTITIES = 5
MAX_COMPARED = 100
"""A new article is compared with at most this many met articles, those sharing the most prefix terms and entities
first: in a tight story of hundreds of articles nearly every member passes, and the best match is among the
closest hundred."""
MAX_POSTINGS_A_DAY = 200
"""Of the stored articles holding one prefix key and published on one day, a new article meets at most this many
(one of each story before a second of any, then by article id): a key in the prefixes of more articles a day than this
is common in that day's news, and counting every holder made a load's cost grow with the store (a chunk's
candidate query read 20 million pairs at 10k generated articles in five days). The only other bet besides
`MAX_COMPARED`: members of a big story share several keys, so a sample of each finds them."""
STORY_BATCH = 250
"""New articles whose stored candidates are fetched together: at most `MAX_COMPARED` each, as weight arrays."""
TERMS_BATCH = 1000
"""Stored articles without terms (stored before `story_postings`, or imported) described together when they first
fall in a scope."""
_TEXT_PREFIX = min(TEXT_ALONE, UNDATED_TEXT_MIN)
_ROUNDING = 1e-9
_TERMS_SCHEMA = pa.schema([("article_id", pa.string()), ("term", pa.string()), ("n", pa.int32()),
                           ("weight", pa.float64())])
_POSTINGS_SCHEMA = pa.schema([("key", pa.string()), ("is_term", pa.bool_()), ("published_at", pa.date32()),
                              ("article_id", pa.string()), ("story_id", pa.string())])
_PROBE_SCHEMA = pa.schema([("new_id", pa.string()), ("key", pa.string()), ("is_term", pa.bool_()),
                           ("published_at", pa.date32())])


@dataclass(frozen=True)
class Doc:
    """A new article as the call compares it: its unit TF-IDF vector, entity weights and prefixes."""

    article_id: str
    published: dt.date | None
    terms: dict[str, float]
    entities: dict[str, float]
    version_of: str | None = None
    prefix_terms: tuple[str, ...] = ()
    prefix_entities: tuple[str, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
    """Occurrences of each term in the title and lead (what `story_terms` keeps)."""


@dataclass(frozen=True)
class Evidence:
    text: float
    entities: float

    @property
    def score(self) -> float:
        return (self.text + self.entities) / 2


def same_story(a: dt.date | None, b: dt.date | None, evidence: Evidence, window_days: int = WINDOW_DAYS) -> bool:
    """The decision rule of the module docstring, for two articles published on ``a`` and ``b``."""
    if a and b:
        if abs((a - b).days) > window_days:
            return False
        return evidence.text >= TEXT_ALONE or (evidence.text >= TEXT_MIN and evidence.entities >= ENTITY_MIN)
    return evidence.text >= UNDATED_TEXT_MIN and evidence.entities >= UNDATED_ENTITY_MIN


def assign_stories(con: duckdb.DuckDBPyConnection, article_ids: list[str],
                   window_days: int = WINDOW_DAYS) -> dict[str, str]:
    """Give each listed article a story; returns article_id → story_id for those found in ``articles``.

    Call it after the articles and their entity mentions are loaded (it reads both), inside the load
    transaction. Articles that already have a story keep it, so calling it again changes nothing. Articles are
    compared with already-assigned articles (within the date window, or sharing entities when either is
    undated) and with those listed here, taken in publication order so the earliest starts the story (first
    versions before later ones, which then follow their page). Writes the new articles' ``story_terms`` and
    ``story_postings``, ``articles.story_id`` and the touched ``stories`` rows in bulk.
    """
    requests = {"story_requests": pa.table({"article_id": pa.array(list(dict.fromkeys(article_ids)), pa.string())})}
    assigned = dict(execute(con, "SELECT article_id, story_id FROM articles WHERE story_id IS NOT NULL AND "
                            "article_id IN (SELECT article_id FROM story_requests)", tables=requests).fetchall())
    new = [row[0] for row in execute(
        con, "SELECT article_id FROM articles WHERE story_id IS NULL AND article_id IN "
        "(SELECT article_id FROM story_requests) ORDER BY version, published_at NULLS LAST, article_id",
        tables=requests).fetchall()]
    if not new:
        return assigned
    scope = _open_scope(con, new, window_days)
    _describe_stored(con, scope)
    docs = _describe(con, scope, new)
    decided = _decide(con, scope, docs, window_days)
    _store_descriptions(con, docs, decided)
    _write(con, decided)
    return {**assigned, **decided}


def _open_scope(con: duckdb.DuckDBPyConnection, new: list[str], window_days: int) -> dict[str, pa.Table]:
    """Tables of what the call may compare, Arrow tables by name (`_keep`), ids and dates only: ``story_new`` (the
    new articles, in order), ``story_window`` (assigned articles dated within the window of a new one),
    ``story_linked`` (per new article, the assigned ones sharing at least `MIN_SHARED_ENTITIES` rare entities when
    either is undated, the most-sharing first, capped) and ``story_scope`` (all of them: what document frequencies
    count)."""
    scope = {"story_new_ids": pa.table({"article_id": pa.array(new, pa.string()),
                                        "position": pa.array(range(len(new)), pa.int32())})}
    _keep(con, scope, "story_new", "SELECT i.article_id, i.position, a.published_at, a.version_of "
          "FROM story_new_ids i JOIN articles a USING (article_id)")
    del scope["story_new_ids"]
    _keep(
        con, scope, "story_window",
        "WITH days AS (SELECT DISTINCT published_at AS day FROM story_new WHERE published_at IS NOT NULL) "
        "SELECT a.article_id, a.published_at FROM articles a WHERE a.story_id IS NOT NULL AND EXISTS (SELECT 1 "
        f"FROM days WHERE a.published_at BETWEEN days.day - {int(window_days)} AND days.day + {int(window_days)})")
    _keep(
        con, scope, "story_linked",
        # The new articles' distinct entities, then the entities rare enough to say which event an article is about,
        # then the assigned articles naming them: pairs are counted once per article, never per mention.
        "WITH nm AS (SELECT DISTINCT m.article_id, m.entity_id, n.published_at IS NULL AS undated "
        "  FROM story_new n JOIN entity_mentions m ON m.article_id = n.article_id AND m.label = ANY(?)), "
        "rare AS (SELECT entity_id FROM entity_mentions WHERE entity_id IN (SELECT entity_id FROM nm) "
        f"  GROUP BY entity_id HAVING count(DISTINCT article_id) <= {MAX_ENTITY_ARTICLES}), "
        "om AS (SELECT DISTINCT m.article_id, m.entity_id, a.published_at IS NULL AS undated "
        "  FROM entity_mentions m JOIN articles a ON a.article_id = m.article_id AND a.story_id IS NOT NULL "
        "  WHERE m.entity_id IN (SELECT entity_id FROM rare)) "
        "SELECT nm.article_id AS new_id, om.article_id AS other, count(*) AS shared "
        "FROM nm JOIN om ON om.entity_id = nm.entity_id AND om.article_id <> nm.article_id "
        "WHERE nm.undated OR om.undated GROUP BY nm.article_id, om.article_id "
        f"HAVING shared >= {MIN_SHARED_ENTITIES} "
        f"QUALIFY row_number() OVER (PARTITION BY new_id ORDER BY shared DESC, other) <= {MAX_UNDATED_CANDIDATES}",
        [list(LABEL_WEIGHTS)])
    _keep(con, scope, "story_scope", "SELECT article_id FROM story_new UNION SELECT article_id FROM story_window UNION "
          "SELECT other FROM story_linked")
    return scope


def _keep(con: duckdb.DuckDBPyConnection, scope: dict[str, pa.Table], table: str, sql: str,
          params: list | None = None) -> None:
    """Add to ``scope`` a table of what ``sql`` (reading the scope's tables) selects. An Arrow table the call
    drops, not a temporary table: a temporary table dropped inside the load's transaction stays in memory until
    the transaction ends (DuckDB keeps it to roll back), so a run of many chunks held every chunk's scope."""
    scope[table] = execute(con, sql, params, scope).fetch_arrow_table()


def _describe_stored(con: duckdb.DuckDBPyConnection, scope: dict[str, pa.Table]) -> None:
    """Describe the stored scope articles that have no terms yet (stored before `story_postings` existed, or
    imported), `TERMS_BATCH` at a time, each the first time it falls in a scope."""
    missing = execute(
        con, "SELECT s.article_id, a.story_id FROM story_scope s JOIN articles a USING (article_id) "
        "WHERE a.story_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM story_terms t WHERE t.article_id = s.article_id) "
        "ORDER BY s.article_id", tables=scope).fetchall()
    for group in bounded_groups(missing, lambda _: 1, TERMS_BATCH):
        _store_descriptions(con, _describe(con, scope, [article_id for article_id, _ in group]), dict(group))


def _describe(con: duckdb.DuckDBPyConnection, scope: dict[str, pa.Table], article_ids: list[str]) -> list[Doc]:
    """The articles as `Doc`s, in the order given: unit TF-IDF vectors of their title+lead terms, entity weights and
    prefixes. Document frequencies count the scope's described articles (their stored terms) and these; each key's
    rank is its document frequency (rarest first), so prefixes hold rare keys and meet few articles."""
    counts, published, version_of = {}, {}, {}
    for article_id, title, body, day, version in con.execute(
            "SELECT article_id, title, body, published_at, version_of FROM articles WHERE article_id = ANY(?)",
            [article_ids]).fetchall():
        counts[article_id], published[article_id], version_of[article_id] = _terms(title, body), day, version
    own_df = Counter(term for terms in counts.values() for term in terms)
    tables = {**scope, "story_wanted": pa.table({"term": pa.array(list(own_df), pa.string())}),
              "story_described": pa.table({"article_id": pa.array(list(counts), pa.string())})}
    term_df = own_df + Counter(dict(execute(
        con, "SELECT term, count(*) FROM story_terms WHERE term IN (SELECT term FROM story_wanted) "
        "AND article_id IN (SELECT article_id FROM story_scope) GROUP BY term", tables=tables).fetchall()))
    scope_size = scope["story_scope"].num_rows
    entities: dict[str, dict[str, float]] = defaultdict(dict)
    described = "SELECT article_id FROM story_described"
    for article_id, key, weight in _rows(_weights(con, tables, _ENTITY_WEIGHTS, described)):
        entities[article_id][key] = weight
    entity_df = dict(execute(
        con, "SELECT entity_id, count(DISTINCT article_id) FROM entity_mentions WHERE entity_id IN "
        "(SELECT entity_id FROM entity_mentions WHERE article_id IN (SELECT article_id FROM story_described)) "
        "AND article_id IN (SELECT article_id FROM story_scope UNION ALL SELECT article_id FROM story_described) "
        "AND label = ANY(?) GROUP BY entity_id", [list(LABEL_WEIGHTS)], tables).fetchall())
    docs = []
    for article_id in article_ids:
        if article_id not in counts:
            continue
        terms = counts[article_id]
        vector = _unit({term: (1 + math.log(n)) * (math.log((1 + scope_size) / (1 + term_df[term])) + 1)
                        for term, n in terms.items()})
        weights = entities.get(article_id, {})
        day = published[article_id]
        prefix_terms = _prefix({t: w * w for t, w in vector.items()}, term_df, _TEXT_PREFIX**2)
        prefix_entities = _prefix(weights, entity_df, ENTITY_MIN * sum(weights.values())) if day else []
        docs.append(Doc(article_id, day, vector, weights, version_of[article_id], tuple(prefix_terms),
                        tuple(prefix_entities), terms))
    return docs


def _unit(weights: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(w * w for w in weights.values()))
    return {key: w / norm for key, w in weights.items()} if norm else {}


def _store_descriptions(con: duckdb.DuckDBPyConnection, docs: list[Doc], story: dict[str, str]) -> None:
    """Store the docs' terms with their weights, and their prefix keys as postings under the story each is in."""
    terms: dict[str, list] = {"article_id": [], "term": [], "n": [], "weight": []}
    postings: dict[str, list] = {"key": [], "is_term": [], "published_at": [], "article_id": [], "story_id": []}
    for doc in docs:
        for term, n in doc.counts.items():
            terms["article_id"].append(doc.article_id)
            terms["term"].append(term)
            terms["n"].append(n)
            terms["weight"].append(doc.terms[term])
        for keys, is_term in ((doc.prefix_terms, True), (doc.prefix_entities, False)):
            postings["key"] += keys
            postings["is_term"] += [is_term] * len(keys)
            postings["published_at"] += [doc.published] * len(keys)
            postings["article_id"] += [doc.article_id] * len(keys)
            postings["story_id"] += [story[doc.article_id]] * len(keys)
    execute(con, "INSERT INTO story_terms BY NAME SELECT * FROM incoming_story_terms",
            tables={"incoming_story_terms": pa.table(terms, schema=_TERMS_SCHEMA)})
    execute(con, "INSERT INTO story_postings BY NAME SELECT * FROM incoming_story_postings",
            tables={"incoming_story_postings": pa.table(postings, schema=_POSTINGS_SCHEMA)})


def _terms(title: str | None, body: str) -> Counter:
    lead = " ".join(body.split()[:LEAD_WORDS])
    return Counter(t for t in tokens(f"{title or ''} {lead}") if _is_term(t))


def _is_term(token: str) -> bool:
    """Numbers and one-letter words say nothing about the event; a single Han or Thai character can."""
    return not token.isdigit() and (len(token) > 1 or not token.isascii())


_ENTITY_WEIGHTS = (
    "WITH counts AS (SELECT article_id, entity_id, label, count(*) AS n FROM entity_mentions "
    "  WHERE article_id IN ({ids}) AND label = ANY(?) GROUP BY ALL) "
    "SELECT c.article_id, c.entity_id AS key, l.weight * c.n / sum(c.n) OVER (PARTITION BY c.article_id) AS weight "
    "FROM counts c JOIN (SELECT unnest(?) AS label, unnest(?) AS weight) l USING (label)")
"""Entity weights: the label's weight × the entity's share of the article's (labelled) mentions."""
_TERM_WEIGHTS = "SELECT article_id, term AS key, weight FROM story_terms WHERE article_id IN ({ids})"
"""The stored unit TF-IDF vectors."""


def _label_params() -> list[list]:
    return [list(LABEL_WEIGHTS), list(LABEL_WEIGHTS), list(LABEL_WEIGHTS.values())]


def _weights(con: duckdb.DuckDBPyConnection, scope: dict[str, pa.Table], sql: str, ids_sql: str) -> pa.Table:
    """``article_id``, ``key`` and ``weight`` of the articles ``ids_sql`` selects."""
    return execute(con, sql.format(ids=ids_sql), _label_params() if sql is _ENTITY_WEIGHTS else [],
                   scope).fetch_arrow_table()


def _rows(table: pa.Table) -> Iterable[tuple]:
    return zip(*(table.column(i).to_pylist() for i in range(table.num_columns)), strict=True)


def _prefix(mass: dict[str, float], df: Mapping[str, int], limit: float) -> list[str]:
    """The keys, rarest first (ties by key), up to where the mass left falls below ``limit`` (with a margin for
    rounding, so the prefix is never one key too short).

    Why pruning by prefixes works (prefix filtering, as in all-pairs similarity search): put all keys in one
    order; two unit vectors with cosine ≥ t share a key of both prefixes, because otherwise every shared key lies
    past the shorter prefix, in that vector's suffix, whose norm is < t, and the cosine is at most that norm. The
    same holds for the weighted entity overlap (Σ min / Σ max ≥ t) with "remaining weight < t × the doc's total
    weight". Any fixed order is exact; rarest first makes prefixes short and their postings small. A stored
    article's prefix and weights are those of when it got its story, ranked by the document frequencies of then,
    so between a new article and a stored one the order is the same only up to how those frequencies moved: the
    bet `MAX_POSTINGS_A_DAY` and `MAX_COMPARED` also make (tests/test_stories.py measures the agreement)."""
    left = sum(mass.values())
    prefix = []
    for key in sorted(mass, key=lambda key: (df[key], key)):
        if left < limit - _ROUNDING:
            break
        prefix.append(key)
        left -= mass[key]
    return prefix


def _decide(con: duckdb.DuckDBPyConnection, scope: dict[str, pa.Table], docs: list[Doc],
            window_days: int) -> dict[str, str]:
    """story_id for each new doc, in order, each seeing the stories given before it.

    A version takes the story of its page's first version. Any other doc is compared with at most `MAX_COMPARED`
    of the stored articles (`_stored_candidates`) and the docs decided before it (`_Pool`) that share a key of both
    prefixes, those sharing the most first.
    """
    new_ids = {doc.article_id for doc in docs}
    story = _story_ids(con, {doc.version_of for doc in docs if doc.version_of} - new_ids)
    published = {doc.article_id: doc.published for doc in docs}
    pool = _Pool(window_days)
    decided: dict[str, str] = {}
    for batch in bounded_groups(docs, lambda _: 1, STORY_BATCH):
        compared = [doc for doc in batch if doc.version_of not in story and doc.version_of not in new_ids]
        stored = _stored_candidates(con, scope, compared, window_days)
        for other, (day, story_id) in stored.articles.items():
            published[other], story[other] = day, story_id
        texts, entities = stored.weights(docs)
        for doc in batch:
            if doc.version_of in story:
                decided[doc.article_id] = story[doc.article_id] = story[doc.version_of]
                pool.add(doc)
                continue
            shared = Counter(stored.met.get(doc.article_id, {}))
            shared.update(pool.meeting(doc))
            met = sorted(other for _, other in sorted((-n, other) for other, n in shared.items())[:MAX_COMPARED])
            best = None
            scores = zip(met, texts.cosines(doc.article_id, met).tolist(),
                         entities.overlaps(doc.article_id, met).tolist(), strict=True)
            for other, text, overlap in scores:
                if text < TEXT_MIN:
                    continue
                evidence = Evidence(text, overlap)
                if (same_story(doc.published, published[other], evidence, window_days)
                        and (best is None or evidence.score > best[0])):
                    best = (evidence.score, story[other])
            decided[doc.article_id] = story[doc.article_id] = best[1] if best else doc.article_id
            pool.add(doc)
    return decided


class _Pool:
    """The docs of this call already given a story, indexed by their prefix keys, so a new doc meets only those
    sharing a key of both prefixes, which are all that `same_story` could accept (`_prefix`): dated docs only from
    its window's days (and, by entity, only when both are dated), undated ones by terms. Postings are kept per
    publication day, so a lookup reads only the window's days."""

    def __init__(self, window_days: int):
        self._window_days = window_days
        self._by_term: dict[str, list[str]] = defaultdict(list)
        self._by_term_day: dict[tuple[str, dt.date | None], list[str]] = defaultdict(list)
        self._by_entity_day: dict[tuple[str, dt.date], list[str]] = defaultdict(list)

    def add(self, doc: Doc) -> None:
        for term in doc.prefix_terms:
            self._by_term[term].append(doc.article_id)
            self._by_term_day[term, doc.published].append(doc.article_id)
        if doc.published:
            for entity in doc.prefix_entities:
                self._by_entity_day[entity, doc.published].append(doc.article_id)

    def meeting(self, doc: Doc) -> Counter:
        """The docs that can pass with ``doc``, each with how many prefix keys the two share."""
        shared: Counter = Counter()
        if doc.published is None:
            for term in doc.prefix_terms:
                shared.update(self._by_term.get(term, ()))
            return shared
        days = [doc.published + dt.timedelta(days=shift) for shift in range(-self._window_days, self._window_days + 1)]
        for term in doc.prefix_terms:
            for day in (None, *days):
                shared.update(self._by_term_day.get((term, day), ()))
        for entity in doc.prefix_entities:
            for day in days:
                shared.update(self._by_entity_day.get((entity, day), ()))
        return shared


@dataclass(frozen=True)
class _Stored:
    """The stored articles a batch of new docs meets: per new doc, each met article with how many prefix keys the
    two share (at most `MAX_COMPARED`, the most-sharing first), and each met article's date and story, with their
    weights as Arrow tables."""

    met: dict[str, dict[str, int]]
    articles: dict[str, tuple[dt.date | None, str]]
    term_weights: pa.Table
    entity_weights: pa.Table

    def weights(self, docs: list[Doc]) -> tuple[_Weights, _Weights]:
        """Text and entity weights of these articles and of the call's new docs, as matrices."""
        rows = [*self.articles, *(doc.article_id for doc in docs)]
        return (_Weights.of(rows, self.term_weights, {doc.article_id: doc.terms for doc in docs}),
                _Weights.of(rows, self.entity_weights, {doc.article_id: doc.entities for doc in docs}))


_MET_STORED = (
    "WITH days AS (SELECT DISTINCT published_at AS day FROM story_new WHERE published_at IS NOT NULL), "
    "held AS (SELECT s.* FROM story_postings s WHERE EXISTS (SELECT 1 FROM story_probe p WHERE p.key = s.key "
    "  AND p.is_term = s.is_term) AND (s.article_id IN (SELECT other FROM story_linked) OR EXISTS (SELECT 1 FROM days "
    "  WHERE s.published_at BETWEEN days.day - {window} AND days.day + {window}))), "
    "sampled AS (SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY key, is_term, published_at, story_id "
    "  ORDER BY article_id) AS in_story FROM held) "
    "  QUALIFY row_number() OVER (PARTITION BY key, is_term, published_at ORDER BY in_story, article_id) "
    "  <= {postings}), "
    "hits AS (SELECT p.new_id, s.article_id AS other, p.is_term, p.published_at AS day, s.published_at AS other_day "
    "  FROM story_probe p JOIN sampled s ON s.key = p.key AND s.is_term = p.is_term) "
    "SELECT h.new_id, h.other, count(*) AS shared FROM hits h "
    "LEFT JOIN story_linked l ON l.new_id = h.new_id AND l.other = h.other "
    "WHERE abs(h.other_day - h.day) <= {window} OR (h.is_term AND l.other IS NOT NULL) "
    "GROUP BY h.new_id, h.other "
    "QUALIFY row_number() OVER (PARTITION BY h.new_id ORDER BY count(*) DESC, h.other) <= {compared}")
"""Stored articles sharing a key of both prefixes with a new doc that `same_story` could accept: dated within its
window (by term or entity), or linked to it by entities when either is undated (by term). Of the holders of a key on
one day (the window's, or the linked ones) at most `MAX_POSTINGS_A_DAY` are met, one of each story before a second of
any, then by article id."""


def _stored_candidates(con: duckdb.DuckDBPyConnection, scope: dict[str, pa.Table], docs: list[Doc],
                       window_days: int) -> _Stored:
    probe: dict[str, list] = {"new_id": [], "key": [], "is_term": [], "published_at": []}
    for doc in docs:
        for keys, is_term in ((doc.prefix_terms, True), (doc.prefix_entities, False)):
            probe["new_id"] += [doc.article_id] * len(keys)
            probe["key"] += keys
            probe["is_term"] += [is_term] * len(keys)
            probe["published_at"] += [doc.published] * len(keys)
    met: dict[str, dict[str, int]] = defaultdict(dict)
    tables = {**scope, "story_probe": pa.table(probe, schema=_PROBE_SCHEMA)}
    for new_id, other, shared in execute(con, _MET_STORED.format(
            window=int(window_days), postings=MAX_POSTINGS_A_DAY, compared=MAX_COMPARED), tables=tables).fetchall():
        met[new_id][other] = shared
    others = sorted({other for found in met.values() for other in found})
    tables = {**scope, "story_met": pa.table({"article_id": pa.array(others, pa.string())})}
    articles = {article_id: (published, story_id) for article_id, published, story_id in execute(
        con, "SELECT article_id, published_at, story_id FROM articles WHERE article_id IN "
        "(SELECT article_id FROM story_met)", tables=tables).fetchall()}
    ids_sql = "SELECT article_id FROM story_met"
    return _Stored(met, articles, _weights(con, tables, _TERM_WEIGHTS, ids_sql),
                   _weights(con, tables, _ENTITY_WEIGHTS, ids_sql))


def _story_ids(con: duckdb.DuckDBPyConnection, article_ids: set[str]) -> dict[str, str]:
    if not article_ids:
        return {}
    return dict(con.execute("SELECT article_id, story_id FROM articles WHERE article_id = ANY(?)",
                            [sorted(article_ids)]).fetchall())


class _Weights:
    """Each article's weights (TF-IDF terms, or entities) as a row of one sparse matrix, so a doc is scored against
    the (at most `MAX_COMPARED`) articles it meets in one product instead of a walk over two dicts per pair: with
    every new article meeting a hundred, those walks were half of a load's time."""

    def __init__(self, rows: list[str], row_of: np.ndarray, keys: pa.Array, weights: np.ndarray):
        import scipy.sparse  # here, not at the top: 0.16 s of every start, a re-ingest's included, for this alone

        self._row = {article_id: row for row, article_id in enumerate(rows)}
        columns = keys.dictionary_encode()
        self._matrix = scipy.sparse.csr_array(
            (weights, (row_of, columns.indices.to_numpy(zero_copy_only=False))),
            shape=(len(rows), max(1, len(columns.dictionary))))
        self._totals = np.asarray(self._matrix.sum(axis=1)).ravel()

    @classmethod
    def of(cls, rows: list[str], stored: pa.Table, own: dict[str, dict[str, float]]) -> _Weights:
        """The stored articles' weights (``article_id``, ``key``, ``weight`` columns) and the new docs' own, by id."""
        position = {article_id: row for row, article_id in enumerate(rows)}
        stored_ids = stored.column("article_id").combine_chunks().dictionary_encode()
        stored_rows = np.array([position[a] for a in stored_ids.dictionary.to_pylist()], dtype=np.int64)
        row_of = [stored_rows[stored_ids.indices.to_numpy(zero_copy_only=False)]]
        keys = [stored.column("key").combine_chunks().cast(pa.string())]
        weights = [stored.column("weight").to_numpy()]
        for article_id, vector in own.items():
            row_of.append(np.full(len(vector), position[article_id], dtype=np.int64))
            keys.append(pa.array(list(vector), pa.string()))
            weights.append(np.fromiter(vector.values(), dtype=float, count=len(vector)))
        return cls(rows, np.concatenate(row_of), pa.concat_arrays(keys), np.concatenate(weights))

    def cosines(self, article_id: str, others: list[str]) -> np.ndarray:
        """Dot products: cosines, for unit vectors."""
        if not others:
            return np.zeros(0)
        rows = self._matrix[[self._row[other] for other in others]]
        return (rows @ self._matrix[[self._row[article_id]]].T).toarray().ravel()

    def overlaps(self, article_id: str, others: list[str]) -> np.ndarray:
        """Weighted Jaccard, Σ min / Σ max; Σ max is Σa + Σb − Σ min, so only the doc's own columns are read."""
        if not others:
            return np.zeros(0)
        own = self._matrix[[self._row[article_id]]]
        rows = [self._row[other] for other in others]
        shared = np.minimum(self._matrix[rows][:, own.indices].toarray(), own.data).sum(axis=1)
        largest = self._totals[self._row[article_id]] + self._totals[rows] - shared
        return np.divide(shared, largest, out=np.zeros_like(shared), where=largest > 0)


def _write(con: duckdb.DuckDBPyConnection, decided: dict[str, str]) -> None:
    """Set articles.story_id for the new articles, then recompute every touched story row from its articles."""
    assignments = {"story_assignments": pa.table({"article_id": pa.array(list(decided), pa.string()),
                                                  "story_id": pa.array(list(decided.values()), pa.string())})}
    execute(con, "UPDATE articles SET story_id = s.story_id FROM story_assignments s "
            "WHERE articles.article_id = s.article_id AND articles.story_id IS NULL", tables=assignments)
    merge_rows(
        con, "stories",
        "WITH touched AS (SELECT DISTINCT story_id FROM story_assignments), "
        "members AS (SELECT story_id, article_id, published_at, title FROM articles "
        "  WHERE story_id IN (SELECT story_id FROM touched)), "
        "ranked AS (SELECT m.story_id, e.name, count(DISTINCT m.article_id) AS n, count(*) AS mentions FROM members m "
        "  JOIN entity_mentions em USING (article_id) JOIN entities e USING (entity_id) "
        "  WHERE e.label = ANY(?) GROUP BY m.story_id, e.name "
        "  QUALIFY row_number() OVER (PARTITION BY m.story_id ORDER BY n DESC, mentions DESC, e.name) "
        f"  <= {TOP_ENTITIES}), "
        "tops AS (SELECT story_id, list(name ORDER BY n DESC, mentions DESC, name) AS top_entities FROM ranked "
        "GROUP BY story_id) "
        "SELECT m.story_id, min(m.published_at) AS first_seen, max(m.published_at) AS last_seen, "
        "  count(*)::INTEGER AS size, "
        "  first(m.title ORDER BY m.published_at NULLS LAST, m.article_id) AS representative_title, "
        "  coalesce(any_value(t.top_entities), []::VARCHAR[]) AS top_entities "
        "FROM members m LEFT JOIN tops t USING (story_id) GROUP BY m.story_id",
        ["story_id"], ["story_id", "first_seen", "last_seen", "size", "representative_title", "top_entities"],
        update=True, params=[list(LABEL_WEIGHTS)], tables=assignments)
