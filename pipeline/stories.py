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

Text is the title plus the first `LEAD_WORDS` words of the body, weighted by TF-IDF over the articles compared
in the call, so the words every candidate shares (the country, the president) count little. Entities are the
article's PERSON/ORG/GPE entity ids weighted by their share of its mentions, places at half weight because a
country is shared by unrelated events; overlap is Σ min / Σ max of those weights (weighted Jaccard).

A later version of a page (`articles.version_of`) joins the story of the page's first version without a vote.
Stories never merge and story ids never change, so a re-run or a later article cannot renumber anything.

A new article is compared only with the articles that can pass the rule (see `_Pool`: an inverted index of
rare title+lead terms and entities, kept per publication day, so only the window's days are read), and with at
most `MAX_COMPARED` of those.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Container, Iterable
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from pipeline.store import merge_rows
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
_TEXT_PREFIX = min(TEXT_ALONE, UNDATED_TEXT_MIN)
_ROUNDING = 1e-9
TERMS_CACHED = 10_000
"""Title+lead terms kept per process, keyed by article id, content hash and title (what they are cut from): every
load compares its articles with the whole window, so a stream drain would otherwise re-read and re-tokenise the
same stored bodies each micro-batch (a sixth of a load at 2,000 stored articles). About 5 KB each."""
_terms_cache: dict[tuple[str, str, str | None], Counter] = {}


@dataclass(frozen=True)
class Doc:
    article_id: str
    published: dt.date | None
    terms: Counter
    entities: dict[str, float]
    version_of: str | None = None


@dataclass(frozen=True)
class Evidence:
    text: float
    entities: float

    @property
    def score(self) -> float:
        return (self.text + self.entities) / 2


def same_story(a: Doc, b: Doc, evidence: Evidence, window_days: int = WINDOW_DAYS) -> bool:
    """The decision rule of the module docstring."""
    if a.published and b.published:
        if abs((a.published - b.published).days) > window_days:
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
    versions before later ones, which then follow their page). Writes ``articles.story_id`` and the touched
    ``stories`` rows in bulk.
    """
    con.register("story_requests", pa.table({"article_id": pa.array(list(dict.fromkeys(article_ids)), pa.string())}))
    assigned = dict(con.execute("SELECT article_id, story_id FROM articles WHERE story_id IS NOT NULL AND "
                                "article_id IN (SELECT article_id FROM story_requests)").fetchall())
    new = [row[0] for row in con.execute(
        "SELECT article_id FROM articles WHERE story_id IS NULL AND article_id IN "
        "(SELECT article_id FROM story_requests) ORDER BY version, published_at NULLS LAST, article_id").fetchall()]
    con.unregister("story_requests")
    if not new:
        return assigned
    candidates = _candidates(con, new, window_days)
    compared = candidates.window | {c for ids in candidates.by_entities.values() for c in ids}
    docs = _docs(con, [*new, *compared])
    known = _story_ids(con, compared | {d.version_of for d in docs.values() if d.version_of})
    decided = _decide([docs[a] for a in new], candidates, docs, known, window_days)
    _write(con, decided)
    return {**assigned, **decided}


def _decide(new: list[Doc], candidates: _Candidates, docs: dict[str, Doc],
            known: dict[str, str], window_days: int) -> dict[str, str]:
    """story_id for each new doc, in the given order, each seeing the stories given before it.

    A new doc is compared with its stored candidates and the docs decided before it, but only with those the
    `_Pool` says can pass `same_story`; a version takes the story of the page's first version.
    """
    idf = _idf(docs.values())
    vectors = {a: _tfidf(d.terms, idf) for a, d in docs.items()}
    texts = _Weights(vectors)
    entities = _Weights({a: d.entities for a, d in docs.items()})
    pool = _Pool(idf, docs.values(), window_days)
    for article_id in docs.keys() - {doc.article_id for doc in new}:
        pool.add(docs[article_id], vectors[article_id])
    story = dict(known)
    decided: dict[str, str] = {}
    for doc in new:
        if doc.version_of in story:
            decided[doc.article_id] = story[doc.article_id] = story[doc.version_of]
            pool.add(doc, vectors[doc.article_id])
            continue
        stored = candidates.of(doc)
        best = None
        met = sorted(pool.meeting(doc, vectors[doc.article_id], stored, decided))
        scores = zip(met, texts.cosines(doc.article_id, met).tolist(),
                     entities.overlaps(doc.article_id, met).tolist(), strict=True)
        for other, text, overlap in scores:
            if text < TEXT_MIN:
                continue
            evidence = Evidence(text, overlap)
            if same_story(doc, docs[other], evidence, window_days) and (best is None or evidence.score > best[0]):
                best = (evidence.score, story[other])
        decided[doc.article_id] = story[doc.article_id] = best[1] if best else doc.article_id
        pool.add(doc, vectors[doc.article_id])
    return decided


class _Pool:
    """Docs already given a story, indexed so a new doc meets only those that `same_story` could accept, so a
    run costs about linear time instead of comparing every pair.

    The pruning is exact (prefix filtering, as in all-pairs similarity search); only the cap `MAX_COMPARED` on
    what is then compared is a bet. Put every doc's terms in one
    global order, rarest first, and call a vector's *prefix* its shortest leading run after which the remaining
    terms have norm < t. Two unit vectors with cosine ≥ t share a term of both prefixes: otherwise every shared
    term lies in the suffix of one of them, and the cosine is at most that suffix's norm. The same argument holds
    for the weighted entity overlap (Σ min / Σ max ≥ t) with "remaining weight < t × the doc's total weight".

    A pair `same_story` accepts has text ≥ `_TEXT_PREFIX` (the bar when text decides alone, or for undated docs),
    or is dated within the window with entity overlap ≥ `ENTITY_MIN`. So a doc meets the docs sharing a prefix
    term (dated ones only from its window) and, when dated, the docs of its window sharing a prefix entity.
    Postings are kept per publication day, so a lookup reads only the window's days, however long the history.
    """

    def __init__(self, idf: dict[str, float], docs: Iterable[Doc], window_days: int):
        self._window_days = window_days
        self._term_rank = {t: r for r, t in enumerate(sorted(idf, key=lambda t: (-idf[t], t)))}
        entity_df = Counter(e for doc in docs for e in doc.entities)
        self._entity_rank = {e: r for r, e in enumerate(sorted(entity_df, key=lambda e: (entity_df[e], e)))}
        self._by_term: dict[str, list[str]] = defaultdict(list)
        self._by_term_day: dict[tuple[str, dt.date | None], list[str]] = defaultdict(list)
        self._by_entity_day: dict[tuple[str, dt.date], list[str]] = defaultdict(list)

    def add(self, doc: Doc, vector: dict[str, float]) -> None:
        terms, entities = self._prefixes(doc, vector)
        for term in terms:
            self._by_term[term].append(doc.article_id)
            self._by_term_day[term, doc.published].append(doc.article_id)
        if doc.published:
            for entity in entities:
                self._by_entity_day[entity, doc.published].append(doc.article_id)

    def meeting(self, doc: Doc, vector: dict[str, float], stored: Container[str], decided: Container[str]
                ) -> list[str]:
        """The docs that can pass with ``doc`` among its stored candidates and those decided before it: at most
        `MAX_COMPARED`, those sharing the most prefix terms and entities first (ties: smallest article_id)."""
        terms, entities = self._prefixes(doc, vector)
        shared: Counter = Counter()
        if doc.published is None:
            for term in terms:
                shared.update(self._by_term.get(term, ()))
        else:
            window = range(-self._window_days, self._window_days + 1)
            days = [doc.published + dt.timedelta(days=shift) for shift in window]
            for term in terms:
                for day in (None, *days):
                    shared.update(self._by_term_day.get((term, day), ()))
            for entity in entities:
                for day in days:
                    shared.update(self._by_entity_day.get((entity, day), ()))
        met = sorted((-n, other) for other, n in shared.items() if other in decided or other in stored)
        return [other for _, other in met[:MAX_COMPARED]]

    def _prefixes(self, doc: Doc, vector: dict[str, float]) -> tuple[list[str], list[str]]:
        terms = _prefix({t: w * w for t, w in vector.items()}, self._term_rank, _TEXT_PREFIX**2)
        total = sum(doc.entities.values())
        return terms, _prefix(doc.entities, self._entity_rank, ENTITY_MIN * total)


def _prefix(mass: dict[str, float], rank: dict[str, int], limit: float) -> list[str]:
    """The keys in rank order up to where the mass left falls below ``limit`` (with a margin for rounding, so
    the prefix is never one key too short)."""
    left = sum(mass.values())
    prefix = []
    for key in sorted(mass, key=rank.__getitem__):
        if left < limit - _ROUNDING:
            break
        prefix.append(key)
        left -= mass[key]
    return prefix


@dataclass(frozen=True)
class _Candidates:
    """The already-assigned articles the new ones may be compared with: `window`, every one dated within the window
    of some new article (the `_Pool` then meets a dated article only with those of its own window's days), and
    `by_entities`, per new article, those sharing at least `MIN_SHARED_ENTITIES` tagged entities when either is
    undated (the most-sharing first, capped). Kept apart, not as one set per pair: the window of a busy day holds
    thousands of articles, and every new article of a load shares most of it."""

    window: set[str]
    by_entities: dict[str, set[str]]

    def of(self, doc: Doc) -> Container[str]:
        shared = self.by_entities.get(doc.article_id, set())
        return _Either(self.window, shared) if doc.published else shared


@dataclass(frozen=True)
class _Either:
    first: Container[str]
    second: Container[str]

    def __contains__(self, item: object) -> bool:
        return item in self.first or item in self.second


def _candidates(con: duckdb.DuckDBPyConnection, new: list[str], window_days: int) -> _Candidates:
    con.register("story_new", pa.table({"article_id": pa.array(new, pa.string())}))
    labels = list(LABEL_WEIGHTS)
    window = {row[0] for row in con.execute(
        "WITH days AS (SELECT DISTINCT published_at AS day FROM articles WHERE published_at IS NOT NULL AND "
        "  article_id IN (SELECT article_id FROM story_new)) "
        "SELECT a.article_id FROM articles a WHERE a.story_id IS NOT NULL AND EXISTS (SELECT 1 FROM days "
        f"  WHERE a.published_at BETWEEN days.day - {int(window_days)} AND days.day + {int(window_days)})").fetchall()}
    rows = con.execute(
        "WITH n AS (SELECT article_id, published_at FROM articles WHERE article_id IN (SELECT article_id FROM "
        "story_new)), "
        # The new articles' distinct entities, then the entities rare enough to say which event an article is about,
        # then the assigned articles naming them: pairs are counted once per article, never per mention.
        "nm AS (SELECT DISTINCT m.article_id, m.entity_id, n.published_at IS NULL AS undated "
        "  FROM n JOIN entity_mentions m ON m.article_id = n.article_id AND m.label = ANY(?)), "
        "rare AS (SELECT entity_id FROM entity_mentions WHERE entity_id IN (SELECT entity_id FROM nm) "
        f"  GROUP BY entity_id HAVING count(DISTINCT article_id) <= {MAX_ENTITY_ARTICLES}), "
        "om AS (SELECT DISTINCT m.article_id, m.entity_id, a.published_at IS NULL AS undated "
        "  FROM entity_mentions m JOIN articles a ON a.article_id = m.article_id AND a.story_id IS NOT NULL "
        "  WHERE m.entity_id IN (SELECT entity_id FROM rare)) "
        "SELECT nm.article_id AS new_id, om.article_id AS old_id, count(*) AS shared "
        "FROM nm JOIN om ON om.entity_id = nm.entity_id AND om.article_id <> nm.article_id "
        "WHERE nm.undated OR om.undated GROUP BY nm.article_id, om.article_id "
        f"HAVING shared >= {MIN_SHARED_ENTITIES} "
        f"QUALIFY row_number() OVER (PARTITION BY new_id ORDER BY shared DESC, old_id) <= {MAX_UNDATED_CANDIDATES}",
        [labels]).fetchall()
    con.unregister("story_new")
    by_entities: dict[str, set[str]] = defaultdict(set)
    for new_id, old_id, _ in rows:
        by_entities[new_id].add(old_id)
    return _Candidates(window, by_entities)


def _story_ids(con: duckdb.DuckDBPyConnection, article_ids: set[str]) -> dict[str, str]:
    if not article_ids:
        return {}
    return dict(con.execute("SELECT article_id, story_id FROM articles WHERE article_id = ANY(?)",
                            [sorted(article_ids)]).fetchall())


def _docs(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> dict[str, Doc]:
    """Title+lead terms and weighted entities of the articles, read in bulk queries (bodies only for the articles
    whose terms this process has not cut before: `TERMS_CACHED`)."""
    rows = con.execute("SELECT article_id, published_at, title, content_hash, version_of FROM articles "
                       "WHERE article_id = ANY(?)", [article_ids]).fetchall()
    terms = {article_id: _terms_cache[key] for article_id, _, title, content_hash, _ in rows
             if (key := (article_id, content_hash, title)) in _terms_cache}
    missing = [row[0] for row in rows if row[0] not in terms]
    if missing:
        for article_id, title, content_hash, body in con.execute(
                "SELECT article_id, title, content_hash, body FROM articles WHERE article_id = ANY(?)",
                [missing]).fetchall():
            terms[article_id] = _terms(title, body)
            _cache_terms((article_id, content_hash, title), terms[article_id])
    mentions = con.execute(
        "SELECT article_id, entity_id, label, count(*) FROM entity_mentions WHERE article_id = ANY(?) "
        "AND label = ANY(?) GROUP BY ALL", [article_ids, list(LABEL_WEIGHTS)]).fetchall()
    counts: dict[str, dict[str, tuple[str, int]]] = defaultdict(dict)
    for article_id, entity_id, label, n in mentions:
        counts[article_id][entity_id] = (label, n)
    return {article_id: Doc(article_id, published, terms[article_id], _entity_weights(counts[article_id]), version_of)
            for article_id, published, _, _, version_of in rows}


def _cache_terms(key: tuple[str, str, str | None], terms: Counter) -> None:
    while len(_terms_cache) >= TERMS_CACHED:
        del _terms_cache[next(iter(_terms_cache))]
    _terms_cache[key] = terms


def _terms(title: str | None, body: str) -> Counter:
    lead = " ".join(body.split()[:LEAD_WORDS])
    return Counter(t for t in tokens(f"{title or ''} {lead}") if _is_term(t))


def _is_term(token: str) -> bool:
    """Numbers and one-letter words say nothing about the event; a single Han or Thai character can."""
    return not token.isdigit() and (len(token) > 1 or not token.isascii())


def _entity_weights(counts: dict[str, tuple[str, int]]) -> dict[str, float]:
    total = sum(n for _, n in counts.values())
    return {entity_id: LABEL_WEIGHTS[label] * n / total for entity_id, (label, n) in counts.items()}


def _idf(docs: Iterable[Doc]) -> dict[str, float]:
    """Smoothed inverse document frequency over the compared articles (log((1 + N) / (1 + df)) + 1)."""
    docs = list(docs)
    df = Counter(term for doc in docs for term in doc.terms)
    return {term: math.log((1 + len(docs)) / (1 + n)) + 1 for term, n in df.items()}


def _tfidf(terms: Counter, idf: dict[str, float]) -> dict[str, float]:
    weights = {t: (1 + math.log(n)) * idf[t] for t, n in terms.items()}
    norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
    return {t: w / norm for t, w in weights.items()}


class _Weights:
    """Each doc's weights (TF-IDF terms, or entities) as a row of one sparse matrix, so a doc is scored against the
    (at most `MAX_COMPARED`) docs it meets in one product instead of a walk over two dicts per pair: with every new
    article meeting a hundred, those walks were half of a load's time."""

    def __init__(self, weights: dict[str, dict[str, float]]):
        import scipy.sparse  # here, not at the top: 0.16 s of every start, a re-ingest's included, for this alone

        self._row = {article_id: row for row, article_id in enumerate(weights)}
        columns: dict[str, int] = {}
        indptr, indices, data = [0], [], []
        for vector in weights.values():
            for key, weight in vector.items():
                indices.append(columns.setdefault(key, len(columns)))
                data.append(weight)
            indptr.append(len(indices))
        self._matrix = scipy.sparse.csr_array((data, indices, indptr), shape=(len(weights), max(1, len(columns))))
        self._totals = np.asarray(self._matrix.sum(axis=1)).ravel()

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
    con.register("story_assignments", pa.table({"article_id": pa.array(list(decided), pa.string()),
                                                "story_id": pa.array(list(decided.values()), pa.string())}))
    con.execute("UPDATE articles SET story_id = s.story_id FROM story_assignments s "
                "WHERE articles.article_id = s.article_id AND articles.story_id IS NULL")
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
        update=True, params=[list(LABEL_WEIGHTS)])
    con.unregister("story_assignments")
