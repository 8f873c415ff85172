"""`make bench-scale`: the whole `news ingest` at growing sizes, as a user runs it: for each size a generated corpus
(`tools.bench.build_corpus`) goes into a fresh store, then the same inputs again.

Per size and number of processing workers (NEWS_WORKERS): first ingest (articles/s), re-ingest of the same
inputs (seconds, and how many times faster than the first), the peak memory of the ingest process and its workers
(sampled every 0.5 s), and the store's bytes per article. Memory is given twice: the sum of the processes' RSS,
which counts the pages they share (libraries, the interpreter) once per process, and the sum of their PSS, which
splits each shared page between its sharers: the machine's memory the run occupies. Each run is a separate `news`
process, so start-up is counted as a user pays it. The defaults (1,000 and 5,000 articles, 1 and 2 workers) take
about twelve minutes on two cores; BENCH_ARGS="--sizes 1000,10000,100000 --workers 2" measures to 100k (about
an hour and a half at 20 articles/s). Near-duplicate lookups and the named queries on stores of 1k to 1M
articles are `make bench-store`'s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from pipeline.settings import PROJECT_ROOT
from tools.bench import build_corpus

NEWS = str(Path(sys.executable).with_name("news"))


@dataclass
class Ingest:
    seconds: float
    peak_rss_mib: float
    peak_pss_mib: float
    output: str


def ingest(corpus: Path, data: Path, workers: int) -> Ingest:
    """One `news ingest` of the corpus into the store under `data`, with its wall time and peak memory (the process
    and the workers it starts)."""
    env = {**os.environ, "NEWS_DATA_DIR": str(data), "NEWS_REPORTS": str(data / "reports"),
           "NEWS_WORKERS": str(workers)}
    env.pop("NEWS_STORE", None)
    started = time.perf_counter()
    process = subprocess.Popen([NEWS, "ingest", str(corpus)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    peak_rss = peak_pss = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_rss, peak_pss
        watched = psutil.Process(process.pid)
        while not done.is_set():
            with contextlib.suppress(psutil.Error):
                memory = [p.memory_full_info() for p in [watched, *watched.children(recursive=True)]]
                peak_rss = max(peak_rss, sum(m.rss for m in memory))
                peak_pss = max(peak_pss, sum(m.pss for m in memory))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode not in (0, 1):
        raise RuntimeError(f"news ingest failed ({process.returncode}):\n{output[-2000:]}")
    return Ingest(seconds, peak_rss / 2**20, peak_pss / 2**20, output)


def store_bytes(data: Path) -> int:
    return sum(path.stat().st_size for path in data.rglob("*") if path.is_file() and "reports" not in path.parts
               and "staging" not in path.parts and "gx" not in path.parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,5000", help="comma-separated corpus sizes (default 1000,5000)")
    parser.add_argument("--workers", default="1,2", help="comma-separated NEWS_WORKERS values (default 1,2)")
    parser.add_argument("--pages", type=Path, help="extra folder of .txt pages to draw from (e.g. a dev set)")
    args = parser.parse_args(argv)

    sources = sorted((PROJECT_ROOT / "seeds").glob("*.txt"))
    if args.pages:
        sources += sorted(args.pages.rglob("*.txt"))[:200]
    print(f"{'articles':>8} {'workers':>7} {'first s':>8} {'art/s':>6} {'again s':>8} {'faster':>7} "
          f"{'peak RSS MiB':>12} {'peak PSS MiB':>12} {'again RSS':>9} {'bytes/art':>9}", flush=True)
    for size in (int(text) for text in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="news-bench-scale-") as tmp:
            corpus = Path(tmp) / "corpus"
            corpus.mkdir()
            build_corpus(corpus, size, sources)
            for workers in (int(text) for text in args.workers.split(",")):
                data = Path(tmp) / f"data-{workers}"
                first = ingest(corpus, data, workers)
                again = ingest(corpus, data, workers)
                print(f"{size:8d} {workers:7d} {first.seconds:8.1f} {size / first.seconds:6.1f} {again.seconds:8.2f} "
                      f"{first.seconds / again.seconds:6.1f}x {first.peak_rss_mib:12.0f} {first.peak_pss_mib:12.0f} "
                      f"{again.peak_rss_mib:9.0f} {store_bytes(data) / size:9.0f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
