"""`make bench-stream`: publish → queryable latency of the `news_stream` DAG on the native topology.

A scheduler, a triggerer, a dag-processor, an api-server and Celery workers run against the local PostgreSQL
(metadata and the DuckLake catalog) and Redis (broker and stream), as in production. A producer thread publishes
distinct articles to the stream at a fixed rate for a while; a reader polls the store read-only, as an analyst
would, and notes when each entry's ledger row (loaded, duplicate or rejected, committed with its article) becomes
visible. Latency is that moment minus the publish time carried in the entry id (Redis' clock, the same machine).
Each phase ends when every entry it published is visible; the next starts on an idle stream. The last phase
publishes while a `news_ingest` replay of `--replay` inputs runs at the same time, sharing the writer pool.

Reported per phase: entries, p50/p95/max latency in seconds, the highest lag the runs published (entries
pending after a run) and the number of stream runs. The reader polls every `--poll` seconds on one read-only
connection it keeps, as an analyst's notebook would (connecting afresh costs 0.16 CPU-s a poll, a sixth of this
machine at two polls a second), so latencies are late by up to that much. Then where the machine's CPU went in
the phase, per component (`CpuMeter`): the capacity the 10/s target has to fit in.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from pipeline.settings import PROJECT_ROOT
from pipeline.sources.stream import RedisStreamLog, entry_order, stream_doc_key
from pipeline.store import connect
from tests.support.cluster import AirflowCluster, services_reachable
from tests.support.streams import REDIS_URL
from tools.bench import build_corpus

GROUP = "news"


@dataclass
class Phase:
    label: str
    rate: float
    seconds: float
    replay: int = 0
    published: dict[str, float] = field(default_factory=dict)
    """doc key → publish time (seconds since the epoch, from the entry id)."""
    visible: dict[str, float] = field(default_factory=dict)
    runs: int = 0
    max_lag: int | None = None
    replay_state: str | None = None
    cpu: str = ""
    """CPU seconds per component while the phase ran (`CpuMeter.stop`)."""

    def latencies(self) -> list[float]:
        return sorted(self.visible[key] - at for key, at in self.published.items() if key in self.visible)

    def line(self) -> str:
        values = self.latencies()
        if not values:
            return f"{self.label:<28} {len(self.published):>7} {'-':>7} {'-':>7} {'-':>7}"
        p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
        lost = len(self.published) - len(values)
        extra = f"  replay {self.replay_state}" if self.replay else ""
        return (f"{self.label:<28} {len(self.published):>7} {statistics.median(values):7.1f} {p95:7.1f} "
                f"{values[-1]:7.1f} {self.max_lag if self.max_lag is not None else '-':>7} {self.runs:>5} "
                f"{lost:>6}{extra}")


def articles(folder: Path, count: int) -> list[str]:
    folder.mkdir()
    build_corpus(folder, count, sorted((PROJECT_ROOT / "seeds").glob("*.txt")))
    return [path.read_text() for path in sorted(folder.glob("*.txt"))]


def publish(log: RedisStreamLog, stream: str, phase: Phase, texts: list[str]) -> None:
    """Publish `rate` messages a second for `seconds`, each a distinct article with its own URL."""
    started = time.monotonic()
    for number, text in enumerate(texts):
        due = started + number / phase.rate
        time.sleep(max(0.0, due - time.monotonic()))
        title, _, body = text.partition("\n\n")
        doc = {"url": f"https://bench.example/{uuid.uuid4().hex}", "title": title.strip()[:200], "text": body}
        [entry] = log.publish([json.dumps(doc).encode()])
        phase.published[stream_doc_key(stream, entry)] = entry_order(entry)[0] / 1000


class CpuMeter:
    """CPU seconds the machine spent, and each component's share, from `start` to `stop`: every process of the
    cluster's components and their children (a Celery worker's task processes, a drain's processing workers),
    the PostgreSQL and Redis servers, and this process (producer and reader). Sampled every `interval` seconds,
    so a process that lived less than that between two samples is counted in "machine" only."""

    def __init__(self, cluster: AirflowCluster, interval: float = 2.0):
        self._cluster = cluster
        self._interval = interval
        self._seen: dict[int, tuple[str, float, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._machine = psutil.cpu_times()
        self._started = time.time()

    def start(self) -> CpuMeter:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()

    def sample(self) -> None:
        for process, component in self._processes():
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    used = times.user + times.system
                    born = process.create_time()
            except psutil.Error:
                continue
            first = self._seen.get(process.pid, (component, 0.0 if born >= self._started else used, 0.0))[1]
            self._seen[process.pid] = (component, first, used)

    def _processes(self) -> list[tuple[psutil.Process, str]]:
        found = [(psutil.Process(), "bench (producer, reader)")]
        for name, popen in self._cluster.processes.items():
            try:
                root = psutil.Process(popen.pid)
                children = root.children(recursive=True)
            except psutil.Error:
                continue
            component = "celery workers" if name.startswith("worker-") else name
            found.append((root, component))
            for child in children:
                try:
                    processing = "pipeline.stages.workers" in " ".join(child.cmdline())
                except psutil.Error:
                    continue
                found.append((child, "processing workers" if processing else component))
        servers = ("postgres", "redis-server")
        found.extend((process, process.info["name"]) for process in psutil.process_iter(["name"])
                     if process.info["name"] in servers)
        return found

    def stop(self) -> str:
        self._stop.set()
        self._thread.join()
        self.sample()
        now = psutil.cpu_times()
        busy = sum(now) - now.idle - getattr(now, "iowait", 0.0) - (
            sum(self._machine) - self._machine.idle - getattr(self._machine, "iowait", 0.0))
        capacity = (time.time() - self._started) * (os.cpu_count() or 1)
        shares: dict[str, float] = {}
        for component, first, last in self._seen.values():
            shares[component] = shares.get(component, 0.0) + last - first
        parts = ", ".join(f"{name} {seconds:.0f}" for name, seconds in sorted(shares.items(), key=lambda kv: -kv[1]))
        return f"CPU s: machine {busy:.0f} of {capacity:.0f} ({busy / capacity:.0%}); {parts}"


def watch(cluster: AirflowCluster, stream: str, phase: Phase, poll: float, timeout: float) -> None:
    """Poll the store until every entry published in the phase has its ledger row (or `timeout` after the
    producer stops), on one read-only connection: each query sees the latest committed snapshot."""
    prefix = stream_doc_key(stream, "")
    deadline = None
    with connect(cluster.store, read_only=True) as con:
        while True:
            keys = con.execute("SELECT doc_key FROM ingest_log WHERE starts_with(doc_key, ?)", [prefix]).fetchall()
            now = time.time()
            for (key,) in keys:
                phase.visible.setdefault(key, now)
            if phase.published and phase.published.keys() <= phase.visible.keys() and deadline is not None:
                return
            if deadline is not None and time.monotonic() > deadline:
                return
            if deadline is None and _producer_done(phase):
                deadline = time.monotonic() + timeout
            time.sleep(poll)


def _producer_done(phase: Phase) -> bool:
    return len(phase.published) >= round(phase.rate * phase.seconds)


def stream_runs(cluster: AirflowCluster, since: str) -> tuple[int, int | None]:
    """Stream runs started since `since` (ISO), and the highest `pending` their lag events carried."""
    runs = [run for run in cluster.runs("news_stream") if (run.get("start_date") or "") >= since]
    events = cluster.request("GET", "/assets/events",
                             params={"source_dag_id": "news_stream", "limit": 1000})["asset_events"]
    pending = [event["extra"].get("pending") for event in events if event["timestamp"] >= since]
    known = [value for value in pending if isinstance(value, int)]
    return len(runs), max(known, default=None)


def task_medians(cluster: AirflowCluster) -> str:
    """Median seconds of each stream task over all runs, and of a whole run (first task queued to last end): where
    a micro-batch's time goes."""
    import datetime as dt

    spans: dict[str, list[float]] = {}
    for run in cluster.runs("news_stream"):
        instances = [ti for ti in cluster.task_instances("news_stream", run["dag_run_id"])
                     if ti.get("start_date") and ti.get("end_date")]
        for ti in instances:
            seconds = (dt.datetime.fromisoformat(ti["end_date"]) - dt.datetime.fromisoformat(ti["start_date"]))
            spans.setdefault(ti["task_id"], []).append(seconds.total_seconds())
        if instances and run.get("start_date") and run.get("end_date"):
            whole = dt.datetime.fromisoformat(run["end_date"]) - dt.datetime.fromisoformat(run["start_date"])
            spans.setdefault("(whole run)", []).append(whole.total_seconds())
    return ", ".join(f"{task} {statistics.median(values):.1f}" for task, values in spans.items())


def run_phase(cluster: AirflowCluster, log: RedisStreamLog, stream: str, phase: Phase, texts: list[str],
              root: Path, poll: float) -> None:
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    replay_id = None
    if phase.replay:
        inbox = root / f"replay-{phase.replay}"
        inbox.mkdir()
        build_corpus(inbox, phase.replay, sorted((PROJECT_ROOT / "seeds").glob("*.txt")), seed=11)
        replay_id = cluster.trigger("news_ingest", {"sources": [str(inbox)], "batch_size": 100,
                                                    "fail_on_quality": False})
    producer = threading.Thread(target=publish, args=(log, stream, phase, texts), daemon=True)
    meter = CpuMeter(cluster).start()
    producer.start()
    watch(cluster, stream, phase, poll, timeout=900)
    producer.join()
    if replay_id:
        phase.replay_state = cluster.wait_for_runs("news_ingest", [replay_id], timeout=3600)[replay_id]
    phase.cpu = meter.stop()
    phase.runs, phase.max_lag = stream_runs(cluster, since)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_stream")
    parser.add_argument("--rates", type=float, nargs="+", default=[1, 10, 50], help="articles per second")
    parser.add_argument("--seconds", type=float, default=180, help="publishing time per rate")
    parser.add_argument("--replay", type=int, default=2000, help="inputs of the concurrent replay (0: none)")
    parser.add_argument("--replay-rate", type=float, default=10, help="publishing rate during the replay")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--poll", type=float, default=0.5, help="reader's polling interval, seconds")
    parser.add_argument("--logs", type=Path, help="copy the components' and tasks' logs here before cleaning up "
                                                  "(each drain logs its micro-batches' steps in seconds)")
    args = parser.parse_args(argv)
    reason = services_reachable()
    if reason:
        print(reason)
        return 1
    stream = f"news-bench-{uuid.uuid4().hex[:8]}"
    phases = [Phase(f"{rate:g}/s", rate, args.seconds) for rate in args.rates]
    if args.replay:
        phases.append(Phase(f"{args.replay_rate:g}/s + replay {args.replay}", args.replay_rate, args.seconds,
                            replay=args.replay))
    extra_env = {"NEWS_STREAM": stream, "NEWS_STREAM_URL": REDIS_URL, "NEWS_STREAM_GROUP": GROUP}
    with tempfile.TemporaryDirectory(prefix="news-bench-stream-") as tmp, \
            RedisStreamLog(REDIS_URL, stream, GROUP) as log:
        root = Path(tmp)
        needed = sum(round(phase.rate * phase.seconds) for phase in phases)
        texts = articles(root / "corpus", needed)
        try:
            with AirflowCluster(home=root / "airflow", data_dir=root / "data", workers=args.workers,
                                extra_env=extra_env) as cluster:
                cluster.wait_for_dag("news_stream")
                cluster.wait_for_runs("news_ingest", [run["dag_run_id"] for run in cluster.runs("news_ingest")])
                cluster.request("PATCH", "/dags/news_stream", json={"is_paused": False})
                used = 0
                for phase in phases:
                    count = round(phase.rate * phase.seconds)
                    run_phase(cluster, log, stream, phase, texts[used:used + count], root, args.poll)
                    used += count
                    print(phase.line(), flush=True)
                    print(f"  {phase.cpu}", flush=True)
                medians = task_medians(cluster)
        finally:
            log.delete()
            if args.logs:
                shutil.copytree(root / "airflow" / "logs", args.logs, dirs_exist_ok=True)
    print(f"\n{args.workers} Celery workers; reader polls every {args.poll:g} s; latency = first poll that saw the "
          "ledger row - publish time")
    print(f"{'phase':<28} {'entries':>7} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'lag':>7} {'runs':>5} {'unseen':>6}")
    for phase in phases:
        print(phase.line())
    for phase in phases:
        print(f"{phase.label}: {phase.cpu}")
    print(f"median seconds per stream task: {medians}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
