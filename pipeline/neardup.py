"""Near-duplicate detection: MinHash over token shingles, with LSH band keys stored in DuckDB.

Exact dedup (`pipeline.dedup`) catches the same URL or the same folded body; this catches the same article with
small changes: other boilerplate around it, a new headline or byline, a few sentences edited, a cut copy. Because
band keys and signatures live in the store (`minhash_bands`, `minhash_signatures`), a new article is compared with
every article ever indexed, not only with its batch.

The store is a DuckLake: no index, so any lookup of band keys reads the whole `band_key` column (42 rows per
stored article). The loader therefore looks a whole batch up at once (`NearDupIndex.prefetch`): one join of all
the batch's band keys against `minhash_bands`, one fetch of the candidates' signatures, and every `match` after
that runs in memory. Per article that costs its signature plus a share of the two scans: about 1.3 ms for a batch
of 1,000 against 1M stored articles, where one query per article took 300 ms (`make bench-store` and
`python -m tools.evaluate dedup` measure it). Sorting the band rows by key does not help a batch: its keys spread
over the whole key range, so they touch every file and row group anyway. A `match` without a prefetch still
works, with one scan per article.

Similarity of two texts, estimated from their signatures (see `similarity`):

- the Jaccard index of their shingle sets, or
- when the shorter text has at least half the shingles of the longer one, the share of the shorter text's
  shingles found in the longer one (containment), which is what a cut or wrapped copy keeps: a copy cut to 70 %
  has Jaccard 0.7 but containment 1.

The signature constants (`NUM_PERM`, `SHINGLE_TOKENS`, `_SEED`) and the tokenizer (`pipeline.textnorm.tokens`)
define what is stored: changing one makes every stored signature meaningless, so they are fixed in code rather
than settings.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import duckdb
import numpy as np
import pyarrow as pa

from pipeline.store import execute, merge_rows
from pipeline.textnorm import tokens

NUM_PERM = 128
SHINGLE_TOKENS = 5
DEFAULT_THRESHOLD = 0.8
DEFAULT_CANDIDATE_JACCARD = 0.6
"""Pairs this similar (an equal-length pair at containment 0.75, or a 70 % cut with a few edits) become LSH
candidates with probability ≥ 1 − `MISS_RATE`; verification against the threshold removes the rest."""
MISS_RATE = 0.001
CONTAINMENT_MIN_RATIO = 0.5
"""Below this size ratio 128 minima share too few values to estimate containment, so only Jaccard counts."""

_SEED = 20_240_601
_LOW32 = np.uint64(0xFFFFFFFF)
_rng = np.random.default_rng(_SEED)
_PERM_SALT = _rng.integers(0, np.iinfo(np.uint64).max, NUM_PERM, dtype=np.uint64, endpoint=True)
_SHINGLE_MIX = _rng.integers(1, 1 << 63, SHINGLE_TOKENS, dtype=np.uint64) | np.uint64(1)
_BAND_MIX = _rng.integers(1, 1 << 63, NUM_PERM, dtype=np.uint64) | np.uint64(1)
_NO_KEYS = np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class NearMatch:
    duplicate_of: str  # article_id of the indexed article most similar to the body
    similarity: float  # estimated, in [threshold, 1]


@dataclass(frozen=True)
class Signature:
    minima: np.ndarray  # NUM_PERM uint32
    shingles: int  # distinct shingles hashed into it

    def to_bytes(self) -> bytes:
        return self.minima.astype("<u4").tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes, shingles: int) -> Signature:
        return cls(np.frombuffer(blob, dtype="<u4"), shingles)


@dataclass(frozen=True)
class Layout:
    """LSH banding: the first ``bands * rows`` minima cut into ``bands`` bands of ``rows`` minima each."""

    bands: int
    rows: int

    def keys(self, minima: np.ndarray) -> np.ndarray:
        """int64 band keys of one signature (shape (NUM_PERM,)) or many (shape (n, NUM_PERM)).

        The band index and the layout are hashed in, so equal minima in different bands or layouts never collide.
        """
        lead = minima.shape[:-1]
        bands = minima[..., : self.bands * self.rows].reshape(*lead, self.bands, self.rows).astype(np.uint64)
        salts = splitmix(np.arange(self.bands, dtype=np.uint64) | np.uint64(self.rows << 32))
        return splitmix((bands * _BAND_MIX[: self.rows]).sum(axis=-1) + salts).view(np.int64)

    def candidate_probability(self, jaccard: float) -> float:
        return 1 - (1 - jaccard**self.rows) ** self.bands


class LayoutMismatch(ValueError):
    """The configured threshold needs another band layout than the stored band keys were made with."""


def layout_for(threshold: float, candidate_jaccard: float = DEFAULT_CANDIDATE_JACCARD) -> Layout:
    """The banding a threshold needs: thresholds down to `candidate_jaccard` share one layout (verification does
    the rest), so only a lower threshold changes what is stored."""
    return lsh_layout(min(candidate_jaccard, threshold))


def check_layout(con: duckdb.DuckDBPyConnection, threshold: float,
                 candidate_jaccard: float = DEFAULT_CANDIDATE_JACCARD) -> Layout:
    """The layout `threshold` needs, or `LayoutMismatch` when the stored band keys were made with another one."""
    layout = layout_for(threshold, candidate_jaccard)
    stored = stored_layout(con)
    if stored and stored != layout:
        raise LayoutMismatch(
            f"near-duplicate threshold {threshold:g} needs LSH bands {layout.bands} × {layout.rows}, but the stored "
            f"articles are indexed {stored.bands} × {stored.rows}: run `news reindex` to rebuild the band keys, or "
            f"keep the threshold at {candidate_jaccard:g} or above")
    return layout


def stored_layout(con: duckdb.DuckDBPyConnection) -> Layout | None:
    rows = con.execute("SELECT bands, \"rows\" FROM index_layout WHERE name = 'minhash_bands'").fetchall()
    return Layout(*rows[0]) if rows else None


def reindex(con: duckdb.DuckDBPyConnection, layout: Layout) -> int:
    """Rebuild every band key from the stored signatures with `layout` (signatures do not depend on it), in the
    caller's transaction; returns the number of articles re-banded."""
    rows = con.execute("SELECT article_id, signature FROM minhash_signatures ORDER BY article_id").fetchall()
    con.execute("DELETE FROM minhash_bands")
    if rows:
        ids = [article_id for article_id, _ in rows]
        keys = layout.keys(np.stack([np.frombuffer(blob, dtype="<u4") for _, blob in rows]))
        rebanded = pa.table({
            "band_key": pa.array(keys.reshape(-1), pa.int64()),
            "article_id": pa.array(np.repeat(np.array(ids, dtype=object), layout.bands), pa.string())})
        execute(con, "INSERT INTO minhash_bands SELECT DISTINCT band_key, article_id FROM rebanded",
                tables={"rebanded": rebanded})
    merge_rows(con, "index_layout", "SELECT 'minhash_bands' AS name, ?::INTEGER AS bands, ?::INTEGER AS \"rows\"",
               ["name"], ["name", "bands", "rows"], update=True, params=[layout.bands, layout.rows])
    return len(rows)


def lsh_layout(candidate_jaccard: float, num_perm: int = NUM_PERM, miss_rate: float = MISS_RATE) -> Layout:
    """The layout with the most rows per band (fewest chance candidates) that still makes a pair at
    ``candidate_jaccard`` a candidate with probability ≥ 1 − ``miss_rate``. For 0.6 and 128 minima: 42 × 3."""
    for rows in range(num_perm, 0, -1):
        layout = Layout(num_perm // rows, rows)
        if layout.candidate_probability(candidate_jaccard) >= 1 - miss_rate:
            return layout
    return Layout(num_perm, 1)


def token_hashes(words: list[str]) -> np.ndarray:
    """Stable 64-bit hashes (Python's ``hash`` changes per process, stored signatures must not)."""
    return np.fromiter(map(_token_hash, words), dtype=np.uint64, count=len(words))


@lru_cache(maxsize=1 << 18)
def _token_hash(word: str) -> int:
    """Cached: a batch's articles share most of their words, and hashing is a third of a signature's cost."""
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")


def shingle_values(token_ids: np.ndarray) -> np.ndarray:
    """32-bit hashes (as uint64) of every run of `SHINGLE_TOKENS` consecutive tokens along the last axis (one run
    of all tokens when there are fewer); works on one text (n,) or on equal-length texts (m, n) at once."""
    width = min(SHINGLE_TOKENS, token_ids.shape[-1])
    windows = np.lib.stride_tricks.sliding_window_view(token_ids, width, axis=-1)
    return splitmix((windows * _SHINGLE_MIX[:width]).sum(axis=-1)) >> np.uint64(32)


def shingle_hashes(token_ids: np.ndarray) -> np.ndarray:
    """The distinct shingle hashes of one text; empty when it has no token."""
    return np.unique(shingle_values(token_ids)) if len(token_ids) else np.empty(0, dtype=np.uint64)


def minima(shingles: np.ndarray) -> np.ndarray:
    """uint32 minimum of each of `NUM_PERM` hashes over the last axis: (n,) → (NUM_PERM,), (m, n) → (m, NUM_PERM).

    Hash i is SplitMix64 of the shingle XOR a random salt: a full mixer, so the hashes behave as independent
    random permutations. (``(a·x + b) mod p`` with small ``a`` does not: it keeps the order of small ``x``, so every
    "permutation" picks the same minimum and the Jaccard estimate collapses.)
    """
    return (splitmix(shingles[..., None] ^ _PERM_SALT).min(axis=-2) & _LOW32).astype(np.uint32)


def minhash(shingles: np.ndarray) -> Signature:
    return Signature(minima(shingles), len(shingles))


def signature(body: str) -> Signature | None:
    """The body's signature; None when it has no word at all (nothing to compare)."""
    shingles = shingle_hashes(token_hashes(tokens(body)))
    return minhash(shingles) if len(shingles) else None


def similarities(a: Signature, others: list[Signature]) -> np.ndarray:
    """Estimated Jaccard of `a` with each of `others`, or containment of the shorter in the longer when their sizes
    are within 2×, in one pass over all of them (a new article of a big story has a hundred candidates).

    Containment is |A∩B| / min(|A|, |B|) with |A∩B| = J·(|A| + |B|) / (1 + J), J estimated as the share of equal
    minima; it is never below J.
    """
    jaccard = (np.stack([other.minima for other in others]) == a.minima).mean(axis=1)
    sizes = np.array([other.shingles for other in others], dtype=np.float64)
    small, large = np.minimum(sizes, a.shingles), np.maximum(sizes, a.shingles)
    containment = np.minimum(1.0, jaccard * (a.shingles + sizes) / ((1 + jaccard) * small))
    return np.where(small < CONTAINMENT_MIN_RATIO * large, jaccard, containment)


class NearDupIndex:
    """MinHash LSH over every article indexed in the store, plus those added in this run.

    Contract for the loader, inside its write transaction and after exact dedup said "not a duplicate":
    ``match(body)`` → a `NearMatch` means record a duplicate (rule ``"near_duplicate"``, its similarity) and do
    not load; None means load the article and call ``add(article_id, body)`` so later articles of the same run
    are compared with it. Call ``flush()`` once before COMMIT: it writes this run's signatures and band keys in
    bulk. Nothing is written before ``flush``, so a rolled-back load leaves the index untouched.

    ``prefetch(bodies)`` first (optional, what the loader does with its batch) reads the stored candidates of all
    those bodies in two queries, so their ``match`` and ``add`` read nothing more: the same matches as without it,
    at a fraction of the cost, since the store has no index and every lookup scans the band keys.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, threshold: float = DEFAULT_THRESHOLD,
                 candidate_jaccard: float = DEFAULT_CANDIDATE_JACCARD):
        self.con = con
        self.threshold = threshold
        self.layout = check_layout(con, threshold, candidate_jaccard)
        self._pending: dict[str, Signature] = {}
        self._pending_bands: dict[int, list[str]] = defaultdict(list)
        self._prefetched: dict[str, tuple[Signature | None, np.ndarray]] = {}
        """Body → its signature and band keys, for every body prefetched: their stored candidates are below."""
        self._stored_bands: dict[int, set[str]] = {}
        self._stored_signatures: dict[str, Signature] = {}

    def prefetch(self, bodies: Iterable[str]) -> int:
        """Read the stored articles sharing a band key with any of `bodies` (one join over all their keys, then one
        fetch of those articles' signatures), so a later `match` or `add` of one of these bodies computes nothing
        again and queries nothing. Valid until `flush`, which changes what is stored. Returns the number of stored
        candidates read."""
        new = [body for body in dict.fromkeys(bodies) if body not in self._prefetched]
        signatures = [signature(body) for body in new]
        indexed = [(body, sig) for body, sig in zip(new, signatures, strict=True) if sig is not None]
        self._prefetched.update((body, (None, _NO_KEYS)) for body, sig in zip(new, signatures, strict=True)
                                if sig is None)
        if not indexed:
            return 0
        keys = self.layout.keys(np.stack([sig.minima for _, sig in indexed]))
        for (body, sig), row in zip(indexed, keys, strict=True):
            self._prefetched[body] = (sig, row)
        rows = execute(self.con, "SELECT b.band_key, b.article_id FROM minhash_bands b "
                       "SEMI JOIN neardup_prefetch_keys k ON b.band_key = k.band_key",
                       tables={"neardup_prefetch_keys": pa.table({"band_key": np.unique(keys)})}).fetchall()
        for key, article_id in rows:
            self._stored_bands.setdefault(key, set()).add(article_id)
        wanted = sorted({article_id for _, article_id in rows} - self._stored_signatures.keys())
        if wanted:
            found = execute(
                self.con, "SELECT article_id, shingles, signature FROM minhash_signatures "
                "WHERE article_id IN (SELECT article_id FROM neardup_prefetch_ids)",
                tables={"neardup_prefetch_ids": pa.table({"article_id": pa.array(wanted, pa.string())})}).fetchall()
            self._stored_signatures.update({a: Signature.from_bytes(blob, n) for a, n, blob in found})
        return len(wanted)

    def match(self, body: str) -> NearMatch | None:
        """The most similar indexed article at or above the threshold (ties: smallest article_id), else None."""
        sig, keys = self._signed(body)
        if sig is None:
            return None
        candidates = self._candidates(keys, body in self._prefetched)
        if not candidates:
            return None
        scores = similarities(sig, list(candidates.values()))
        best = min(((-score, article_id) for score, article_id in zip(scores.tolist(), candidates, strict=True)
                    if score >= self.threshold), default=None)
        return NearMatch(best[1], -best[0]) if best else None

    def add(self, article_id: str, body: str) -> None:
        """Remember the article for later lookups and for `flush`; adding an article twice changes nothing."""
        sig, keys = self._signed(body)
        if sig is None or article_id in self._pending:
            return
        self._pending[article_id] = sig
        for key in keys:
            self._pending_bands[key].append(article_id)

    def flush(self) -> int:
        """Insert this run's signatures and band keys (Arrow, bulk); articles already stored are skipped, so a
        retried flush adds nothing. Returns the number of articles newly stored. Forgets what `prefetch` read."""
        self._forget_prefetched()
        if not self._pending:
            return 0
        ids = list(self._pending)
        sigs = [self._pending[a] for a in ids]
        added = store_signatures(self.con, ids, np.stack([s.minima for s in sigs]), [s.shingles for s in sigs],
                                 self.layout)
        self._pending.clear()
        self._pending_bands.clear()
        return added

    def _forget_prefetched(self) -> None:
        self._prefetched.clear()
        self._stored_bands.clear()
        self._stored_signatures.clear()

    def _signed(self, body: str) -> tuple[Signature | None, list[int]]:
        """The body's signature and band keys: prefetched, or computed now."""
        prefetched = self._prefetched.get(body)
        if prefetched is not None:
            return prefetched[0], prefetched[1].tolist()
        sig = signature(body)
        return sig, self.layout.keys(sig.minima).tolist() if sig is not None else []

    def _candidates(self, keys: list[int], prefetched: bool) -> dict[str, Signature]:
        """Articles sharing a band key: this run's (their signatures win), then stored ones, from the prefetch or
        else from one query of the band keys and one of the signatures."""
        found = {a: self._pending[a] for key in keys for a in self._pending_bands.get(key, ())}
        if prefetched:
            stored = {a for key in keys for a in self._stored_bands.get(key, ())}
            found.update({a: self._stored_signatures[a] for a in sorted(stored - found.keys())
                          if a in self._stored_signatures})
            return found
        rows = self.con.execute("SELECT DISTINCT article_id FROM minhash_bands WHERE band_key = ANY(?)",
                                [keys]).fetchall()
        ids = [row[0] for row in rows if row[0] not in found]
        if ids:
            rows = self.con.execute("SELECT article_id, shingles, signature FROM minhash_signatures "
                                    "WHERE article_id = ANY(?)", [ids]).fetchall()
            found.update({a: Signature.from_bytes(blob, n) for a, n, blob in rows})
        return found


def store_signatures(con: duckdb.DuckDBPyConnection, article_ids: list[str], minima: np.ndarray,
                     shingles: list[int], layout: Layout) -> int:
    """Bulk-insert signatures (shape (n, NUM_PERM) uint32) and their band keys for articles not stored yet.

    Band rows go first, filtered on the signatures table, so the signatures table is what says "indexed".
    """
    before = con.execute("SELECT count(*) FROM minhash_signatures").fetchall()[0][0]
    keys = layout.keys(minima)
    bands = pa.table({"band_key": keys.reshape(-1),
                      "article_id": pa.array(np.repeat(np.array(article_ids, dtype=object), layout.bands),
                                             pa.string())})
    blobs = minima.astype("<u4")
    signatures = pa.table({"article_id": pa.array(article_ids, pa.string()),
                           "shingles": pa.array(shingles, pa.int32()),
                           "signature": pa.array([row.tobytes() for row in blobs], pa.binary())})
    execute(con, "INSERT INTO minhash_bands SELECT DISTINCT band_key, article_id FROM incoming_minhash_bands "
            "WHERE article_id NOT IN (SELECT article_id FROM minhash_signatures)",
            tables={"incoming_minhash_bands": bands})
    merge_rows(con, "minhash_signatures", "SELECT * FROM incoming_minhash_signatures", ["article_id"],
               ["article_id", "shingles", "signature"], tables={"incoming_minhash_signatures": signatures})
    return con.execute("SELECT count(*) FROM minhash_signatures").fetchall()[0][0] - before


def splitmix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: spreads sums of products (weak low bits) over all 64 bits."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))
