"""`make bench-fetch`: fetch throughput and the fault table, measured against a local HTTP site (127.0.0.1 only).

`python -m tools.bench_fetch` serves generated article pages and an RSS feed listing them from the fault site of
`tests/support/local_site.py`, and times the fetch stage (snapshot the frontier, poll the feed, fetch every page, plan
them into batches) with politeness off (no per-host delay, no robots.txt) and on (the default policy: robots.txt, one
request per host per second). `--faults` fetches every misbehaving route of the same site through a real fetch
run and prints, per scenario, the ledger state and reason and the time the fetch took; `tests/test_fetch.py`
asserts the same table, so what the benchmark prints is what CI holds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from pipeline.settings import load_settings
from tests.support.local_site import FAULTS, serve, stop


def fetch_rate(n_pages: int, policy, root: Path) -> tuple[int, int, float]:
    """Pages planned, pages that came back without a problem, and seconds taken by the three steps of a fetch run
    before processing: `snapshot_frontier`, `fetch_pages`, `plan_fetched`."""
    from pipeline import run_folder
    from pipeline.sources.web import WebListing
    from pipeline.stages.fetch import fetch_pages, plan_fetched, snapshot_frontier

    settings = load_settings().under(root)
    httpd, base = serve(n_pages)
    try:
        start = time.perf_counter()
        snapshot_frontier(settings, "bench")
        fetch_pages([WebListing("bench", "feed", f"{base}/feed.xml")], settings, "bench", policy)
        plan = plan_fetched(settings, "bench", source="bench")
        seconds = time.perf_counter() - start
    finally:
        stop(httpd)
    clean = sum(run_folder.read(batch).column("problem").null_count for batch in plan.batches)
    return plan.n_inputs, clean, seconds


def fault_table(root: Path) -> list[tuple[str, str, str, str, float]]:
    """(route, behaviour, ledger state, reason, seconds) for every fault route, through a real fetch run."""
    from pipeline.sources.base import nothing_settled
    from pipeline.sources.http import HttpPolicy, PoliteClient
    from pipeline.sources.web import WebListing, fetch_documents
    from pipeline.stages.load import load
    from pipeline.stages.plan import plan_docs
    from pipeline.stages.process import process_batch
    from pipeline.store import query

    class TimedClient(PoliteClient):
        def __init__(self, policy):
            super().__init__(policy)
            self.seconds: dict[str, float] = {}

        def fetch(self, url, etag=None, last_modified=None):
            start = time.perf_counter()
            try:
                return super().fetch(url, etag=etag, last_modified=last_modified)
            finally:
                self.seconds[url] = time.perf_counter() - start

    policy = HttpPolicy(timeout=1.5, max_bytes=100_000, max_redirects=3, per_host_delay=0.0, request_deadline=2.0,
                        allowed_hosts=frozenset({"127.0.0.1"}))
    settings = load_settings().under(root)
    httpd, base = serve()
    client = TimedClient(policy)
    try:
        docs, _ = fetch_documents([WebListing("faults", "urls", f"{base}/faults.txt")], client, {},
                                  skip=nothing_settled)
    finally:
        client.close()
        stop(httpd)
    plan = plan_docs(docs, settings, "faults", f"{base}/faults.txt")
    load(plan, [process_batch(batch, settings) for batch in plan.batches], settings)
    _, rows = query(settings.store, "SELECT source_uri, state, reason FROM ingest_log WHERE run_id = 'faults'")
    ledger = {uri.removeprefix(base): (state, reason or "") for uri, state, reason in rows}
    return [(path, behaviour, *ledger[path], client.seconds[base + path]) for path, behaviour in FAULTS.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_fetch")
    parser.add_argument("-n", "--pages", type=int, default=500, help="pages fetched with politeness off")
    parser.add_argument("--polite-pages", type=int, default=20,
                        help="pages fetched with politeness on (about one a second from one host)")
    parser.add_argument("--faults", action="store_true", help="print the fault table instead")
    args = parser.parse_args(argv)

    from pipeline.sources.http import HttpPolicy

    with tempfile.TemporaryDirectory(prefix="news-bench-fetch-") as tmp:
        if args.faults:
            print(f"{'route':14} {'server behaviour':44} {'state':9} {'seconds':>7}  reason")
            for path, behaviour, state, reason, seconds in fault_table(Path(tmp)):
                print(f"{path:14} {behaviour:44} {state:9} {seconds:7.2f}  {reason[:90]}")
            return 0
        local = frozenset({"127.0.0.1"})
        policies = [("politeness off (delay 0, no robots.txt)", args.pages,
                     HttpPolicy(per_host_delay=0.0, obey_robots=False, allowed_hosts=local)),
                    ("politeness on (default: delay 1 s, robots.txt)", args.polite_pages,
                     replace(HttpPolicy(), allowed_hosts=local))]
        print(f"{'fetch stage (poll feed, fetch pages, plan)':48} {'pages':>6} {'ok':>6} {'seconds':>8} {'pages/s':>8}")
        for number, (label, n_pages, policy) in enumerate(policies):
            pages, clean, seconds = fetch_rate(n_pages, policy, Path(tmp) / str(number))
            print(f"{label:48} {pages:6d} {clean:6d} {seconds:8.2f} {pages / seconds:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
