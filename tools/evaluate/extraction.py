"""`python -m tools.evaluate extraction`: how well our text and HTML paths read pages, next to trafilatura's.

Every page of the dev set (shared/eval/pages.jsonl) is read three ways: our text path on the plain-text
rendering (the form the seeds come in), our HTML path on the page, and `trafilatura.extract` with its
defaults as the reference point. Bodies are scored as a bag of words against the expected body, snippets
as found/absent, titles as exact matches; dates are checked on pages.jsonl and on htmldate's dates.jsonl,
and the repo's seeds are ingested and scored against the acceptance gold. All comparisons fold case,
accents and punctuation, so a curly quote or a stripped accent is not counted as an extraction error.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trafilatura

from pipeline.extract.decode import decode_text
from pipeline.extract.html import extract_html
from pipeline.extract.text import extract_text
from pipeline.records import Extraction
from pipeline.settings import PROJECT_ROOT
from pipeline.store import Store
from pipeline.textnorm import fold

RENDERINGS = ("text", "html", "trafilatura")
"""`trafilatura` is trafilatura.extract with default settings: a body-only baseline for our two paths."""

FLOORS_FILE = Path(__file__).with_name("floors.json")
SEEDS_DIR = PROJECT_ROOT / "seeds"

_IDEOGRAPHS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_IDEOGRAPHS}]|[^\W_{_IDEOGRAPHS}]+")
"""A word is a run of letters/digits; Chinese and Japanese, written without spaces, count one token
per character, or a whole sentence would be a single token that matches only when perfect."""


@dataclass(frozen=True)
class Page:
    """One row of pages.jsonl with its expected outputs read in."""

    id: str
    html: Path
    text: Path
    url: str | None
    expected_body: str | None
    with_snippets: tuple[str, ...]
    without_snippets: tuple[str, ...]
    title: str | None
    date: str | None


@dataclass(frozen=True)
class BagScore:
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class PageResult:
    """What one rendering of one page scored; None where the page has nothing to compare against."""

    page: str
    rendering: str
    body: BagScore | None
    snippets_passed: int
    snippets_total: int
    title_ok: bool | None
    date_ok: bool | None
    cpu_seconds: float


@dataclass(frozen=True)
class DateResult:
    """`expected` None: the annotators found no publication date, so the right answer is None, not a guess."""

    file: str
    expected: str | None
    got: str | None


def tokens(text: str | None) -> list[str]:
    """Words after folding case, accents and punctuation; NFC again so Hangul syllables stay whole."""
    return _TOKEN.findall(unicodedata.normalize("NFC", fold(text)))


def folded(text: str | None) -> str:
    return " ".join(tokens(text))


def bag_of_words(got: str, expected: str) -> BagScore:
    """Precision/recall/F1 on word multisets: repeated boilerplate costs precision each time it appears."""
    got_counts, expected_counts = Counter(tokens(got)), Counter(tokens(expected))
    overlap = sum((got_counts & expected_counts).values())
    if not overlap:
        return BagScore(0.0, 0.0, 0.0)
    precision = overlap / sum(got_counts.values())
    recall = overlap / sum(expected_counts.values())
    return BagScore(precision, recall, 2 * precision * recall / (precision + recall))


def load_pages(data_dir: Path, limit: int | None = None) -> list[Page]:
    return [_page(data_dir, row) for row in _jsonl(data_dir / "pages.jsonl", limit)]


def _page(data_dir: Path, row: dict) -> Page:
    expected = row.get("expected_body")
    date = row.get("publish_date") or row.get("date")
    return Page(
        id=row["id"],
        html=data_dir / row["html"],
        text=data_dir / row["text"],
        url=row.get("url"),
        expected_body=(data_dir / expected).read_text(encoding="utf-8") if expected else None,
        with_snippets=tuple(row.get("with", ())),
        without_snippets=tuple(row.get("without", ())),
        title=row.get("title"),
        date=date[:10] if date else None,
    )


def _jsonl(path: Path, limit: int | None) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[:limit] if limit is not None else rows


def score_pages(pages: Iterable[Page]) -> list[PageResult]:
    return [_score(page, rendering, *_read(page, rendering)) for page in pages for rendering in RENDERINGS]


def _read(page: Page, rendering: str) -> tuple[Extraction, float]:
    """The rendering's extraction and the CPU seconds it took, for the one-core speed figure."""
    if rendering == "text":
        source = page.text.read_text(encoding="utf-8")
    else:
        source = decode_text(page.html.read_bytes(), html=True)
    start = time.process_time()
    if rendering == "text":
        extraction = extract_text(source)
    elif rendering == "html":
        extraction = extract_html(source, url=page.url)
    else:
        extraction = Extraction(body=trafilatura.extract(source) or "")
    return extraction, time.process_time() - start


def _score(page: Page, rendering: str, extraction: Extraction, cpu_seconds: float) -> PageResult:
    """Title and date only for our paths: the trafilatura baseline is asked for a body alone."""
    body = folded(extraction.body)
    passed = sum(folded(s) in body for s in page.with_snippets)
    passed += sum(folded(s) not in body for s in page.without_snippets)
    ours = rendering != "trafilatura"
    published = extraction.published_at.isoformat() if extraction.published_at else None
    return PageResult(
        page=page.id,
        rendering=rendering,
        body=bag_of_words(extraction.body, page.expected_body) if page.expected_body is not None else None,
        snippets_passed=passed,
        snippets_total=len(page.with_snippets) + len(page.without_snippets),
        title_ok=folded(extraction.title) == folded(page.title) if ours and page.title else None,
        date_ok=published == page.date if ours and page.date else None,
        cpu_seconds=cpu_seconds,
    )


def score_dates(data_dir: Path, limit: int | None = None) -> list[DateResult]:
    """Our HTML path's publication date on htmldate's hand-annotated pages.

    A few rows carry NaN instead of a date (a homepage, an image search result): pages without a
    publication date, where answering None is right.
    """
    results = []
    for row in _jsonl(data_dir / "dates.jsonl", limit):
        extraction = extract_html(decode_text((data_dir / row["html"]).read_bytes(), html=True), url=row.get("url"))
        got = extraction.published_at.isoformat() if extraction.published_at else None
        expected = row["date"] if isinstance(row["date"], str) else None
        results.append(DateResult(file=row["html"], expected=expected, got=got))
    return results


@contextmanager
def seeds_database(seeds_dir: Path = SEEDS_DIR) -> Iterator[Store]:
    """``seeds_dir`` (the repo's seeds) ingested into a throw-away DuckDB; yields its path, removed on exit."""
    from pipeline.settings import load_settings
    from pipeline.stages.run import run_pipeline

    with tempfile.TemporaryDirectory(prefix="news-eval-") as tmp:
        settings = load_settings().under(Path(tmp))
        run_pipeline([str(seeds_dir)], settings, "eval_seeds")
        yield settings.store


def seeds_gold(gold: Path) -> tuple[int, int]:
    """Passed and total gold checks after ingesting the repo's seeds into a throw-away DuckDB."""
    from tools.gold import load_gold, score

    with seeds_database() as db_path:
        checks = score(db_path, load_gold(gold))
    return sum(c.passed for c in checks), len(checks)


def default_gold(data_dir: Path) -> Path:
    """The acceptance gold sits beside the eval folder in the shared tree (shared/acceptance)."""
    return data_dir.parent / "acceptance" / "seeds_gold.json"


def evaluate_extraction(data_dir: Path, gold: Path | None = None, limit: int | None = None) -> dict[str, float]:
    """All metrics in one flat dict; the seeds score only when the gold file exists."""
    data_dir = Path(data_dir)
    pages = load_pages(data_dir, limit)
    results = score_pages(pages)
    metrics = {"pages.n": float(len(pages))}
    for rendering in RENDERINGS:
        metrics.update(_page_metrics(rendering, [r for r in results if r.rendering == rendering]))
    metrics.update(_date_metrics(score_dates(data_dir, limit)))
    gold = Path(gold) if gold is not None else default_gold(data_dir)
    if gold.is_file():
        passed, total = seeds_gold(gold)
        metrics.update({"seeds.gold_passed": float(passed), "seeds.gold_total": float(total),
                        "seeds.gold_pass_rate": passed / total if total else 0.0})
    return metrics


def _page_metrics(rendering: str, results: list[PageResult]) -> dict[str, float]:
    """Rates over the pages that have something to compare; a rate with no such page is left out, not 0."""
    bodies = [r.body for r in results if r.body is not None]
    snippets_total = sum(r.snippets_total for r in results)
    cpu = sum(r.cpu_seconds for r in results)
    metrics = {
        **_means(f"{rendering}.body_precision", [b.precision for b in bodies]),
        **_means(f"{rendering}.body_recall", [b.recall for b in bodies]),
        **_means(f"{rendering}.body_f1", [b.f1 for b in bodies]),
        f"{rendering}.body_pages": float(len(bodies)),
        f"{rendering}.snippets_total": float(snippets_total),
        f"{rendering}.docs_per_second": len(results) / cpu if cpu else 0.0,
    }
    if snippets_total:
        metrics[f"{rendering}.snippets"] = sum(r.snippets_passed for r in results) / snippets_total
    if rendering != "trafilatura":
        titles = [r.title_ok for r in results if r.title_ok is not None]
        dates = [r.date_ok for r in results if r.date_ok is not None]
        metrics.update({
            **_means(f"{rendering}.title_exact", titles), f"{rendering}.title_pages": float(len(titles)),
            **_means(f"{rendering}.date_accuracy_pages", dates), f"{rendering}.date_pages": float(len(dates)),
        })
    return metrics


def _date_metrics(results: list[DateResult]) -> dict[str, float]:
    return {
        **_means("html.date_accuracy_dates_jsonl", [r.got == r.expected for r in results]),
        "html.date_none_dates_jsonl": float(sum(r.got is None for r in results)),
        "html.date_pages_dates_jsonl": float(len(results)),
    }


def _means(name: str, values: list[float]) -> dict[str, float]:
    return {name: sum(values) / len(values)} if values else {}


def load_floors(path: Path = FLOORS_FILE) -> dict[str, float]:
    """The pinned quality floors the eval gate test holds the pipeline to.

    Floors are only ever raised: when a change improves a metric, pin the new measured value (rounded
    down to 2 decimals, minus 0.01 for noise); a floor is never lowered to let a regression through.
    """
    return json.loads(path.read_text())


def format_report(metrics: dict[str, float]) -> str:
    """A compact table: one row per measure, one column per rendering; '-' where it does not apply."""
    rows = [
        ("body precision", "body_precision"), ("body recall", "body_recall"), ("body F1", "body_f1"),
        ("snippets pass", "snippets"), ("title exact", "title_exact"), ("date (pages)", "date_accuracy_pages"),
    ]
    lines = [f"{'':22}{'text':>8}{'html':>8}{'trafilatura':>13}"]
    for label, key in rows:
        cells = [_cell(metrics.get(f"{r}.{key}")) for r in RENDERINGS]
        lines.append(f"{label:22}{cells[0]:>8}{cells[1]:>8}{cells[2]:>13}")
    lines += [
        f"pages {metrics['pages.n']:.0f}: {metrics['text.body_pages']:.0f} with expected body, "
        f"{metrics['text.snippets_total']:.0f} snippets, {metrics['text.title_pages']:.0f} titles, "
        f"{metrics['text.date_pages']:.0f} dates",
        f"dates.jsonl: html accuracy {_cell(metrics.get('html.date_accuracy_dates_jsonl'))} "
        f"on {metrics['html.date_pages_dates_jsonl']:.0f} pages, None on {metrics['html.date_none_dates_jsonl']:.0f}",
    ]
    if "seeds.gold_pass_rate" in metrics:
        lines.append(f"seeds gold: {metrics['seeds.gold_passed']:.0f}/{metrics['seeds.gold_total']:.0f} checks pass "
                     f"({metrics['seeds.gold_pass_rate']:.3f})")
    html, baseline = metrics["html.docs_per_second"], metrics.get("trafilatura.docs_per_second", 0.0)
    lines.append(f"speed: extract_text {metrics['text.docs_per_second']:.0f} docs/s, "
                 f"extract_html {html:.1f} docs/s (CPU time, one core)"
                 + (f", {baseline / html:.2f}x the time of trafilatura.extract ({baseline:.1f} docs/s)"
                    if html and baseline else ""))
    return "\n".join(lines)


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
