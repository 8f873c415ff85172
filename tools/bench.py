"""`make bench`: throughput per stage and peak memory on a generated corpus of >= 1,000 articles.

The corpus is made from the seeds (and, with --pages, any folder of .txt pages): see `build_corpus`.
Each stage is timed on its own over the whole corpus, then the full run (plan, process, load, gate), then the
whole `news ingest` of the corpus as a user runs it, with 1 and with 2 processing workers (NEWS_WORKERS): the
bare NER pass's share of its wall time says how NER-bound the pipeline is (1.0 would be nothing but NER).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline.settings import PROJECT_ROOT, load_settings


def build_corpus(out: Path, n_articles: int, sources: list[Path], seed: int = 7) -> int:
    """Write n_articles distinct articles: each keeps a source page's head and tail (menus, teasers,
    footers, so the cleaner has real work) around a body of sentences drawn at random from all sources.

    Drawing sentences rather than shuffling paragraphs keeps the copies apart for the near-duplicate
    check too, so the corpus measures loading articles, not recognising copies.
    """
    rng = random.Random(seed)
    pages = [p.read_text(errors="replace") for p in sources]
    sentences = sorted({s.strip() for page in pages for line in page.splitlines()
                        for s in re.split(r"(?<=[.!?])\s+", line) if 60 < len(s.strip()) < 400})
    for number in range(n_articles):
        head, *rest = pages[number % len(pages)].split("\n\n")
        tail = rest[-3:] if len(rest) > 3 else []
        paragraphs = [" ".join(rng.sample(sentences, 3)) for _ in range(rng.randint(5, 9))]
        body = "\n\n".join([head, *paragraphs, *tail])
        (out / f"{number:06d}.txt").write_text(body)
    return n_articles


def timed(label: str, n: int, fn, results: list):
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    results.append((label, n, seconds))
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench")
    parser.add_argument("-n", "--articles", type=int, default=1000)
    parser.add_argument("--pages", type=Path, help="extra folder of .txt pages to draw from (e.g. a dev set)")
    args = parser.parse_args(argv)

    from pipeline.enrich.entities import load_model, tag_entities
    from pipeline.enrich.language import detect_language
    from pipeline.extract.dispatch import extract
    from pipeline.quality import validate_run
    from pipeline.sources.files import read_inputs
    from pipeline.stages.load import load
    from pipeline.stages.plan import plan_run
    from pipeline.stages.process import process_batch

    sources = sorted((PROJECT_ROOT / "seeds").glob("*.txt"))
    if args.pages:
        sources += sorted(p for p in args.pages.rglob("*.txt"))[:200]
    results: list[tuple[str, int, float]] = []
    with tempfile.TemporaryDirectory(prefix="news-bench-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        n = build_corpus(corpus, args.articles, sources)
        settings = load_settings().under(Path(tmp))
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
        summary = timed("pipeline: load DuckDB", n, lambda: load(plan, processed, settings), results)
        timed("pipeline: quality gate", n, lambda: validate_run(settings.store, "bench", settings.gx_dir), results)
        replan = timed("replay again: plan (all skipped)", n, lambda: plan_run([str(corpus)], settings, "again"),
                       results)
        ner_seconds = next(seconds for label, _, seconds in results if label.startswith("entities"))
        ingests = [(workers, news_ingest(corpus, Path(tmp) / f"cli-{workers}", workers)) for workers in (1, 2)]
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"corpus: {n} inputs -> loaded {summary.n_loaded}, duplicate {summary.n_duplicate}, "
          f"rejected {summary.n_rejected}, failed {summary.n_failed}; replay left {len(replan.batches)} batches")
    print(f"{'stage':36} {'items':>6} {'seconds':>8} {'items/s':>9}")
    for label, items, seconds in results:
        print(f"{label:36} {items:6d} {seconds:8.2f} {items / seconds if seconds else float('inf'):9.1f}")
    print(f"peak memory (max RSS): {peak_mib:.0f} MiB")
    for workers, seconds in ingests:
        print(f"news ingest, {workers} worker(s): {seconds:.1f} s, {n / seconds:.1f} articles/s; "
              f"bare NER pass / pipeline = {ner_seconds / seconds:.2f}")
    return 0


def news_ingest(corpus: Path, data: Path, workers: int) -> float:
    """Wall seconds of one `news ingest` of the corpus into a new store, as a separate process."""
    env = {**os.environ, "NEWS_DATA_DIR": str(data), "NEWS_REPORTS": str(data / "reports"),
           "NEWS_WORKERS": str(workers)}
    env.pop("NEWS_STORE", None)
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("news")), "ingest", str(corpus)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


if __name__ == "__main__":
    raise SystemExit(main())
