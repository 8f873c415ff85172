"""Near-duplicate and story evaluation: how often an edited copy is caught, how often two articles are confused,
whether the seeds' stories match the gold, and how long a lookup takes against a large store.

Near-duplicates. The originals are the dev pages' expected bodies (``pages.jsonl`` rows with ``expected_body``);
pages with the same folded title are one article seen twice (the set holds such a pair), so the later one is a
real copy, not a negative. Each original is looked up against the originals indexed before it, the way the
loader sees a stream, so every pair of different articles (same site and same language included) gets a chance
to be confused: any match there is a false positive. Then, through a fresh index reading the store, every edited
copy is looked up: the right original is a true positive, another article a false positive, nothing a miss.
The edits are what syndication and updates do (`EDITS`): other sites' chrome lines at top and bottom, re-wrapped
lines, 1–3 sentences reworded, inserted or deleted (at most one per eight sentences, since rewriting half of a
short piece makes another article), a cut to 70 %, a new headline line, another site's byline, and all of these
but the cut together.

Both passes look up the way the loader does: the bodies of a pass are prefetched (`NearDupIndex.prefetch`, one
join for all their band keys), then matched one by one; tests/test_neardup.py checks that this gives the same
matches as one query per article.

Stories. The seeds are ingested into a throw-away store, `assign_stories` groups them, and the gold's
same-story pairs (positives) and different-story pairs (negatives) are scored as pair precision/recall.

Speed. A temporary store holds 10k (then 100k) synthetic articles plus the dev originals; the lookup of a
syndicated copy of each original (signature, the batch's band-key join, fetching and verifying the candidates,
which include its original) is timed, so the figure is what the loader pays per new article in a batch of
`TIMING_QUERIES`; the one-query-per-article path (a `match` without prefetch) is timed on `SINGLE_QUERIES` of them
beside it. A synthetic article's signature is drawn as independent uniform minima, which is what MinHash gives for
a text sharing no shingle with the others: this keeps a 100k-article build to seconds instead of hashing 100k
texts. `make bench-store` measures lookups (and the rest of the store) up to 1M articles.
"""

from __future__ import annotations

import json
import random
import re
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from pipeline.neardup import DEFAULT_THRESHOLD, NUM_PERM, NearDupIndex, store_signatures
from pipeline.store import connect, migrate
from pipeline.textnorm import fold
from tools.evaluate.extraction import seeds_database

TIMING_SIZES = (10_000, 100_000)
TIMING_QUERIES = 200
SINGLE_QUERIES = 20
SYNTHETIC_CHUNK = 10_000

_TOP_CHROME = ["Skip to main content", "Menu", "Subscribe now", "Sign in", "Advertisement", "Home › World › News",
               "Share on Facebook", "Share on X", "Listen to this article", "Most popular"]
_BOTTOM_CHROME = ["Advertisement", "Related articles", "Comments are closed.", "Follow us on Instagram",
                  "Sign up for our morning newsletter and get the day's top stories in your inbox.",
                  "© 2024 The Daily Courier. All rights reserved.", "Read more:", "Privacy policy · Terms of use"]
_BYLINES = ["By Maria Keller, Associated Press", "Von Jan Petersen, dpa", "Reuters staff | Updated 14:32 GMT",
            "Par Claire Dubois, AFP", "By Staff Writer, The Independent", "Por Ana Ruiz, EFE"]
_FILLERS = ["reportedly", "officials", "several", "new", "on Tuesday", "about", "more than", "later", "2024"]
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])")


@dataclass(frozen=True)
class Article:
    article_id: str
    title: str | None
    body: str


def evaluate_dedup(data_dir: Path, seeds_dir: Path, gold: Path | None, *, threshold: float = DEFAULT_THRESHOLD,
                   limit: int | None = None, timing_sizes: tuple[int, ...] = TIMING_SIZES,
                   seed: int = 0) -> dict[str, float]:
    """All metrics in one flat dict. ``limit`` takes the first originals only; ``gold`` None or absent skips the
    story metrics; an empty ``timing_sizes`` skips the speed measurement."""
    articles = load_articles(Path(data_dir))
    originals, copies = split_real_copies(articles)
    originals = originals[:limit] if limit else originals
    metrics = {"neardup_threshold": threshold, **near_duplicate_metrics(originals, copies, threshold, seed)}
    if gold and Path(gold).is_file():
        metrics.update(story_metrics(Path(seeds_dir), Path(gold)))
    for size in timing_sizes:
        metrics.update(lookup_speed(size, originals[:TIMING_QUERIES], threshold, seed))
    return metrics


def load_articles(data_dir: Path) -> list[Article]:
    rows = [json.loads(line) for line in (data_dir / "pages.jsonl").read_text().splitlines() if line.strip()]
    return [Article(r["id"], r.get("title"), (data_dir / r["expected_body"]).read_text())
            for r in rows if r.get("expected_body")]


def split_real_copies(articles: list[Article]) -> tuple[list[Article], dict[str, list[Article]]]:
    """Originals (the first page of each folded title) and, by original id, the other pages of that title."""
    originals, copies, by_title = [], {}, {}
    for article in articles:
        key = fold(article.title) or article.article_id
        if key in by_title:
            copies.setdefault(by_title[key], []).append(article)
        else:
            by_title[key] = article.article_id
            originals.append(article)
    return originals, copies


def near_duplicate_metrics(originals: list[Article], copies: dict[str, list[Article]], threshold: float,
                           seed: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="news-neardup-") as tmp, connect(Path(tmp) / "eval.ducklake") as con:
        migrate(con)
        return _near_duplicate_metrics(con, originals, copies, threshold, seed)


def _near_duplicate_metrics(con: duckdb.DuckDBPyConnection, originals: list[Article],
                            copies: dict[str, list[Article]], threshold: float, seed: int) -> dict[str, float]:
    index = NearDupIndex(con, threshold)
    index.prefetch(article.body for article in originals)
    false_positives = 0
    for article in originals:
        false_positives += index.match(article.body) is not None
        index.add(article.article_id, article.body)
    index.flush()
    lookup = NearDupIndex(con, threshold)
    labelled = {n: [(kind, edit(article.body, random.Random(f"{seed}:{n}:{kind}"))) for kind, edit in EDITS.items()]
                + [("real_copy", copy.body) for copy in copies.get(article.article_id, [])]
                for n, article in enumerate(originals)}
    lookup.prefetch(body for bodies in labelled.values() for _, body in bodies)
    found: dict[str, list[bool]] = {}
    for n, article in enumerate(originals):
        for kind, body in labelled[n]:
            match = lookup.match(body)
            found.setdefault(kind, []).append(match is not None and match.duplicate_of == article.article_id)
            false_positives += match is not None and match.duplicate_of != article.article_id
    con.close()
    hits = sum(sum(v) for v in found.values())
    positives = sum(len(v) for v in found.values())
    return {
        "neardup_originals": len(originals),
        "neardup_negative_pairs": len(originals) * (len(originals) - 1) // 2,
        "neardup_positives": positives,
        "neardup_false_positives": false_positives,
        "neardup_precision": hits / (hits + false_positives) if hits + false_positives else 1.0,
        "neardup_recall": hits / positives if positives else 0.0,
        **{f"neardup_recall_{kind}": sum(v) / len(v) for kind, v in found.items()},
    }


def story_metrics(seeds_dir: Path, gold: Path) -> dict[str, float]:
    from pipeline.stories import assign_stories

    corpus = json.loads(gold.read_text())["corpus"]
    with seeds_database(seeds_dir) as store, connect(store) as con:
        files = dict(con.execute("SELECT regexp_extract(source_uri, '[^/]+$'), article_id FROM articles").fetchall())
        stories = assign_stories(con, list(files.values()))
    same = [stories[files[a]] == stories[files[b]] for a, b in corpus["same_story_pairs"]]
    confused = sum(stories[files[a]] == stories[files[b]] for a, b in corpus["different_story_pairs"])
    return {
        "story_pairs": len(same) + len(corpus["different_story_pairs"]),
        "story_precision": sum(same) / (sum(same) + confused) if sum(same) + confused else 1.0,
        "story_recall": sum(same) / len(same) if same else 1.0,
    }


def lookup_speed(size: int, originals: list[Article], threshold: float, seed: int) -> dict[str, float]:
    """Build a store of ``size`` synthetic articles plus the originals, then time one lookup per original."""
    rng = np.random.default_rng(seed)
    queries = [syndicated(a.body, random.Random(i)) for i, a in enumerate(originals)]
    with tempfile.TemporaryDirectory(prefix="news-neardup-speed-") as tmp, \
            connect(Path(tmp) / "speed.ducklake") as con:
        migrate(con)
        index = NearDupIndex(con, threshold)
        started = time.perf_counter()
        for first in range(0, size, SYNTHETIC_CHUNK):
            count = min(SYNTHETIC_CHUNK, size - first)
            store_signatures(con, [f"synthetic-{first + i:07d}" for i in range(count)],
                             rng.integers(0, 1 << 32, size=(count, NUM_PERM), dtype=np.uint32),
                             rng.integers(100, 2_000, size=count).tolist(), index.layout)
        built = time.perf_counter() - started
        for article in originals:
            index.add(article.article_id, article.body)
        index.flush()
        started = time.perf_counter()
        single = [index.match(body) for body in queries[:SINGLE_QUERIES]]
        per_single = (time.perf_counter() - started) / max(1, len(single))
        started = time.perf_counter()
        index.prefetch(queries)
        matches = [index.match(body) for body in queries]
        per_query = (time.perf_counter() - started) / len(queries)
    assert single == matches[:SINGLE_QUERIES], "a prefetched lookup found another match than a single one"
    return {f"lookup_build_s_{size}": built, f"lookup_ms_{size}": per_query * 1000,
            f"lookup_single_ms_{size}": per_single * 1000,
            f"lookup_found_{size}": sum(match is not None for match in matches) / len(queries)}


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.splitlines() if p.strip()]


def with_chrome(body: str, rng: random.Random) -> str:
    return "\n".join([*rng.sample(_TOP_CHROME, 3), body, *rng.sample(_BOTTOM_CHROME, 3)])


def rewrapped(body: str, rng: random.Random) -> str:
    width = rng.choice([60, 72, 100])
    return "\n\n".join(textwrap.fill(p, width) for p in _paragraphs(body))


def sentences_changed(body: str, rng: random.Random) -> str:
    """1–3 sentences reworded, replaced by a new one or dropped; at most one per eight sentences."""
    sentences = [s for s in _SENTENCE_END.split(body) if s.strip()]
    count = min(rng.randint(1, 3), max(1, len(sentences) // 8))
    for i in sorted(rng.sample(range(len(sentences)), count), reverse=True):
        action = rng.choice(["reword", "insert", "drop"] if len(sentences[i].split()) <= 40 else ["reword", "insert"])
        if action == "reword":
            sentences[i] = _reword(sentences[i], rng)
        elif action == "insert":
            sentences.insert(i, "The ministry did not respond to a request for comment on Tuesday.")
        else:
            del sentences[i]
    return " ".join(sentences)


def _reword(sentence: str, rng: random.Random) -> str:
    """Two or three words swapped for others (characters, in scripts written without spaces)."""
    words = sentence.split()
    if len(words) >= 4:
        for i in rng.sample(range(len(words)), min(len(words), rng.randint(2, 3))):
            words[i] = rng.choice(_FILLERS)
        return " ".join(words)
    chars = list(sentence)
    for i in rng.sample(range(len(chars)), min(len(chars), rng.randint(2, 3))):
        chars[i] = rng.choice(chars)
    return "".join(chars)


def truncated(body: str, rng: random.Random) -> str:
    cut = int(len(body) * 0.7)
    space = body.rfind(" ", 0, cut)
    return body[: space if space > cut // 2 else cut]


def new_title(body: str, rng: random.Random) -> str:
    return "\n".join([rng.choice(["UPDATE: ", "WATCH: ", ""]) + _first_words(body, 8) + " | World News Daily", body])


def other_byline(body: str, rng: random.Random) -> str:
    return "\n".join([rng.choice(_BYLINES), f"Published {rng.randint(1, 28)} March 2024", body])


def syndicated(body: str, rng: random.Random) -> str:
    return with_chrome(other_byline(new_title(sentences_changed(rewrapped(body, rng), rng), rng), rng), rng)


def _first_words(body: str, n: int) -> str:
    words = body.split()
    return " ".join(words[:n]) if len(words) >= n else body[:40]


EDITS: dict[str, Callable[[str, random.Random], str]] = {
    "chrome": with_chrome, "rewrap": rewrapped, "sentences": sentences_changed, "cut_70": truncated,
    "title": new_title, "byline": other_byline, "syndicated": syndicated,
}


def format_report(metrics: dict[str, float]) -> str:
    lines = [f"near-duplicates at threshold {metrics['neardup_threshold']:.2f}: "
             f"{metrics['neardup_originals']:.0f} articles ({metrics['neardup_negative_pairs']:.0f} different pairs), "
             f"{metrics['neardup_positives']:.0f} copies",
             f"  precision {metrics['neardup_precision']:.4f} ({metrics['neardup_false_positives']:.0f} false "
             f"positives), recall {metrics['neardup_recall']:.4f}"]
    lines += [f"  recall {key.removeprefix('neardup_recall_'):<11} {value:.4f}" for key, value in metrics.items()
              if key.startswith("neardup_recall_")]
    if "story_pairs" in metrics:
        lines.append(f"stories on the seeds ({metrics['story_pairs']:.0f} gold pairs): precision "
                     f"{metrics['story_precision']:.2f}, recall {metrics['story_recall']:.2f}")
    lines += [f"lookup against {size} stored articles: {value:.2f} ms/article in a batch of {TIMING_QUERIES} "
              f"({metrics['lookup_single_ms_' + size]:.1f} ms with one query per article), "
              f"{metrics['lookup_found_' + size]:.0%} of copies found (store built in "
              f"{metrics['lookup_build_s_' + size]:.1f} s)"
              for key, value in metrics.items() if key.startswith("lookup_ms_")
              for size in [key.removeprefix("lookup_ms_")]]
    return "\n".join(lines)
