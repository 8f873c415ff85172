"""`make bench`: throughput per stage and peak memory on a generated corpus of >= 1,000 articles.

The corpus is the seeds (and, with --pages, any folder of .html/.txt pages) multiplied with small
variations so every copy is a distinct article, not an exact duplicate.
Each stage is timed on its own over the whole corpus, then the full run (plan, process, load, gate).
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from pipeline.settings import PROJECT_ROOT, load_settings


def build_corpus(out: Path, n_articles: int, sources: list[Path], seed: int = 7) -> int:
    """Write n_articles variants of the source files, each a distinct article (not an exact duplicate).

    Paragraphs after the first are shuffled and the first long paragraph gets a numbered sentence,
    so every variant's cleaned body differs while keeping the page's boilerplate around it.
    """
    rng = random.Random(seed)
    texts = [(p.suffix, p.read_text(errors="replace")) for p in sources]
    for number in range(n_articles):
        suffix, text = texts[number % len(texts)]
        marker = f" Correspondents filed update number {number} on this story."
        if suffix == ".txt":
            head, *paragraphs = text.split("\n\n")
            middle = paragraphs[1:-2]
            rng.shuffle(middle)
            paragraphs = [*paragraphs[:1], *middle, *paragraphs[-2:]]
            longest = max(range(len(paragraphs)), key=lambda i: len(paragraphs[i]), default=None)
            if longest is not None:
                paragraphs[longest] += marker
            text = "\n\n".join([head, *paragraphs])
        else:
            text = text.replace("</p>", marker + "</p>", 1)
        (out / f"{number:06d}{suffix}").write_text(text)
    return n_articles


def timed(label: str, n: int, fn, results: list):
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    results.append((label, n, seconds))
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="news-bench")
    parser.add_argument("-n", "--articles", type=int, default=1000)
    parser.add_argument("--pages", type=Path, help="extra folder of .html/.txt pages to vary (e.g. a dev set)")
    args = parser.parse_args(argv)

    from pipeline.enrich.entities import load_model, tag_entities
    from pipeline.enrich.language import detect_language
    from pipeline.extract.dispatch import extract
    from pipeline.quality import validate_run
    from pipeline.sources.replay import read_inputs
    from pipeline.stages import load_run, plan_run, process_batch

    sources = sorted((PROJECT_ROOT / "seeds").glob("*.txt"))
    if args.pages:
        sources += sorted(p for p in args.pages.rglob("*") if p.suffix in {".html", ".txt"})[:200]
    results: list[tuple[str, int, float]] = []
    with tempfile.TemporaryDirectory(prefix="news-bench-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        n = build_corpus(corpus, args.articles, sources)
        settings = replace(load_settings(), db_path=Path(tmp) / "bench.duckdb", staging_dir=Path(tmp) / "staging",
                           gx_dir=Path(tmp) / "gx")
        docs = timed("read inputs", n, lambda: list(read_inputs([corpus], settings.max_input_bytes)), results)
        extractions = timed("extract (clean + metadata)", n, lambda: [
            extract(d, settings.min_body_chars) for d in docs], results)
        bodies = [e.body for e in extractions]
        timed("language", n, lambda: [detect_language(b) for b in bodies], results)
        nlp = timed("load NER model", 1, lambda: load_model(settings.spacy_model), results)
        timed("entities (NER + canonical)", n, lambda: tag_entities(nlp, [(e.title, e.body) for e in extractions]),
              results)
        plan = timed("pipeline: plan", n, lambda: plan_run([str(corpus)], settings, "bench"), results)
        processed = timed("pipeline: process batches", n, lambda: [process_batch(b, settings) for b in plan.batches],
                          results)
        summary = timed("pipeline: load DuckDB", n, lambda: load_run(plan, processed, settings), results)
        timed("pipeline: quality gate", n, lambda: validate_run(settings.db_path, "bench", settings.gx_dir), results)
        replan = timed("replay again: plan (all skipped)", n, lambda: plan_run([str(corpus)], settings, "again"),
                       results)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"corpus: {n} inputs -> loaded {summary.n_loaded}, duplicate {summary.n_duplicate}, "
          f"rejected {summary.n_rejected}, failed {summary.n_failed}; replay left {len(replan.batches)} batches")
    print(f"{'stage':36} {'items':>6} {'seconds':>8} {'items/s':>9}")
    for label, items, seconds in results:
        print(f"{label:36} {items:6d} {seconds:8.2f} {items / seconds if seconds else float('inf'):9.1f}")
    print(f"peak memory (max RSS): {peak_mib:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
