"""Learned choice of a page's headline among candidate lines of its plain text.

Candidates are the rule-based title (`text._rule_title`), the first line (the HTML <title>) with and
without its site suffix, and headline-shaped lines in the page head, from a few dozen blocks above the
detected body start to just inside it. Each candidate gets a small feature vector (its agreement with
the <title>, its position relative to the body start and the byline/date lines, its shape); a linear
score over those features with weights from `title_model.json` picks the candidate (a conditional
logit, trained by `python -m pipeline.evaluate.train_title`). No feature names a site.

No model file is shipped at present (it did not beat the rules on held-out dev pages; see train_title),
so `load_model` returns None and `text._find_title` keeps the rule's title.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

MODEL_FILE = Path(__file__).with_name("title_model.json")

WINDOW_ABOVE = 25
"""How many blocks above the body start may hold the headline; breadcrumbs and logos come earlier."""
WINDOW_INTO = 3
"""How many blocks into the detected body may hold it: a standfirst sometimes starts the prose run."""
MAX_WORDS = 40
MAX_CHARS = 300

FEATURES = (
    "is_rule", "is_title", "is_title_full", "on_page", "title_precision", "title_recall", "title_part",
    "title_equal", "site_segment", "above", "dist", "near", "nearest_above", "meta_below", "short_above",
    "log_chars", "words", "ends_period", "ends_bang", "has_colon", "capitalised", "kind_good",
    "kind_medium", "kind_caption", "kind_short", "repeated", "cjk", "first_segment", "last_segment",
)


@dataclass
class Candidate:
    """One possible title and the features it was scored on."""

    text: str
    flags: set[str] = field(default_factory=set)
    index: int | None = None


@functools.lru_cache(maxsize=1)
def load_model(path: str = str(MODEL_FILE)) -> dict | None:
    """Weights by feature name, or None when the package carries no model (the rules then decide)."""
    file = Path(path)
    if not file.is_file():
        return None
    model = json.loads(file.read_text(encoding="utf-8"))
    return model if model.get("features") == list(FEATURES) else None


def candidates(page, rule_title: str | None) -> list[Candidate]:
    """Distinct candidate titles of a page (a `text._Page`), keyed by their folded words."""
    from pipeline.extract import text as T

    out: dict[str, Candidate] = {}

    def add(value: str | None, flag: str, index: int | None = None) -> None:
        if not value or not value.strip():
            return
        key = T.headline_key(value)
        if not key:
            return
        cand = out.setdefault(key, Candidate(value, index=index))
        cand.flags.add(flag)
        if index is not None and cand.index is None:
            cand.index = index

    first = page.blocks[0]
    add(rule_title, "is_rule")
    if T._words(first) >= 2:
        add(T._strip_title_suffix(first), "is_title")
        add(first, "is_title_full")
    lo = max(1, page.start - WINDOW_ABOVE)
    hi = min(len(page.blocks), page.start + WINDOW_INTO)
    for i in range(lo, hi):
        block, kind = page.blocks[i], page.kinds[i]
        if kind not in ("short", "medium", "good", "caption") or len(block) > MAX_CHARS:
            continue
        if 2 <= T._words(block) <= MAX_WORDS:
            add(block, "on_page", i)
    return list(out.values())


def features(page, cands: list[Candidate]) -> list[list[float]]:
    """Feature rows of the candidates, in FEATURES order."""
    from pipeline.extract import text as T

    first = page.blocks[0]
    title = T._strip_title_suffix(first) if T._words(first) >= 2 else ""
    title_words = T._content_words(title)
    parts = T.title_keys(first) if title else set()
    site = T._site_segment_keys(first)
    title_key = T.headline_key(title)
    segments = [seg for seg in T._SEPARATOR.split(first) if seg and seg.strip()]
    ends = (T.headline_key(segments[0]), T.headline_key(segments[-1])) if len(segments) > 1 else ("", "")
    above = [c.index for c in cands if c.index is not None and c.index < page.start]
    nearest = max(above) if above else None
    counts: dict[str, int] = {}
    for block in page.blocks[max(0, page.start - WINDOW_ABOVE) : page.end]:
        counts[block] = counts.get(block, 0) + 1
    rows = []
    for cand in cands:
        text = cand.text
        key = T.headline_key(text)
        words = T._content_words(text)
        shared = len(words & title_words)
        i = cand.index
        row = {
            "is_rule": "is_rule" in cand.flags,
            "is_title": "is_title" in cand.flags,
            "is_title_full": "is_title_full" in cand.flags,
            "on_page": i is not None,
            "title_precision": shared / len(words) if words else 0.0,
            "title_recall": shared / len(title_words) if title_words else 0.0,
            "title_part": key in parts,
            "title_equal": key == title_key,
            "site_segment": key in site,
            "first_segment": key == ends[0],
            "last_segment": key == ends[1],
        }
        if i is not None:
            dist = page.start - i
            below = page.kinds[i + 1 : i + 4]
            row.update({
                "above": dist > 0,
                "dist": max(-0.3, min(2.5, dist / 10)),
                "near": 1 / (1 + abs(dist)),
                "nearest_above": i == nearest,
                "meta_below": "meta" in below,
                "short_above": i > 0 and page.kinds[i - 1] in ("short", "chrome", "boiler"),
                "kind_good": page.kinds[i] == "good",
                "kind_medium": page.kinds[i] == "medium",
                "kind_caption": page.kinds[i] == "caption",
                "kind_short": page.kinds[i] == "short",
                "repeated": counts.get(page.blocks[i], 0) > 1,
            })
        tokens = text.split()
        row.update({
            "log_chars": math.log(1 + len(text)) / 5,
            "words": min(T._words(text), 40) / 20,
            "ends_period": text.endswith("."),
            "ends_bang": text[-1:] in "!?",
            "has_colon": ":" in text,
            "capitalised": sum(t[:1].isupper() for t in tokens) / len(tokens) if tokens else 0.0,
            "cjk": bool(T._CJK.search(text)),
        })
        rows.append([float(row.get(name, 0.0)) for name in FEATURES])
    return rows


def choose(page, rule_title: str | None, model: dict) -> str | None:
    """The highest-scoring candidate; the rule's title when there is nothing to rank."""
    cands = candidates(page, rule_title)
    if not cands:
        return rule_title
    weights = model["weights"]
    mean, scale = model.get("mean", [0.0] * len(FEATURES)), model.get("scale", [1.0] * len(FEATURES))
    best, best_score = None, -math.inf
    for cand, row in zip(cands, features(page, cands), strict=True):
        score = sum(w * (x - m) / s for w, x, m, s in zip(weights, row, mean, scale, strict=True))
        if score > best_score:
            best, best_score = cand, score
    return best.text if best else rule_title
