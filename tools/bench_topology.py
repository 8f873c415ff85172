"""`make bench-topology`: one `news_ingest` run on the Celery topology with 1 worker, then with 2.

Each worker takes one task at a time, so the number of workers is the number of mapped `process` tasks
(extraction + NER) that run at once; the writer tasks stay serialised by the one-slot pool either way.
Needs the local PostgreSQL and Redis (see tests/support/cluster.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from pipeline.settings import PROJECT_ROOT
from tests.support.cluster import AirflowCluster, services_reachable
from tools.bench import build_corpus


def seconds_between(ti: dict) -> float:
    return (dt.datetime.fromisoformat(ti["end_date"]) - dt.datetime.fromisoformat(ti["start_date"])).total_seconds()


def one_run(root: Path, corpus: Path, workers: int, batch_size: int) -> dict:
    with AirflowCluster(home=root / f"airflow-{workers}", data_dir=root / f"data-{workers}",
                        workers=workers) as cluster:
        cluster.wait_for_dag("news_ingest")
        scheduled = [run["dag_run_id"] for run in cluster.runs("news_ingest")]
        cluster.wait_for_runs("news_ingest", scheduled)
        started = time.monotonic()
        run_id = cluster.trigger("news_ingest", {"sources": [str(corpus)], "batch_size": batch_size,
                                                 "fail_on_quality": False})
        state = cluster.wait_for_runs("news_ingest", [run_id], timeout=3600)[run_id]
        wall = time.monotonic() - started
        instances = cluster.task_instances("news_ingest", run_id)
    process = [ti for ti in instances if ti["task_id"] == "process"]
    first = min(dt.datetime.fromisoformat(ti["start_date"]) for ti in process)
    last = max(dt.datetime.fromisoformat(ti["end_date"]) for ti in process)
    return {"workers": workers, "state": state, "wall": wall, "tasks": len(process),
            "process_span": (last - first).total_seconds(),
            "process_busy": sum(seconds_between(ti) for ti in process),
            "writers": sum(seconds_between(ti) for ti in instances if ti["task_id"] != "process")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_topology")
    parser.add_argument("-n", "--articles", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    reason = services_reachable()
    if reason:
        print(reason)
        return 1
    with tempfile.TemporaryDirectory(prefix="news-bench-topology-") as tmp:
        root = Path(tmp)
        corpus = root / "corpus"
        corpus.mkdir()
        build_corpus(corpus, args.articles, sorted((PROJECT_ROOT / "seeds").glob("*.txt")))
        results = [one_run(root, corpus, workers, args.batch_size) for workers in args.workers]
    print(f"{args.articles} articles in batches of {args.batch_size}")
    print(f"{'workers':>7} {'state':>8} {'tasks':>5} {'run s':>7} {'process span s':>15} "
          f"{'process busy s':>15} {'writer tasks s':>15}")
    for r in results:
        print(f"{r['workers']:7d} {r['state']:>8} {r['tasks']:5d} {r['wall']:7.1f} {r['process_span']:15.1f} "
              f"{r['process_busy']:15.1f} {r['writers']:15.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
