"""The event-driven `news_stream` DAG: its Redis Streams trigger alone, the DAG under `dag.test()`, and the
triggerer-driven runs on the production topology.

Runs against the machine's Redis (NEWS_TEST_STREAM_URL, default redis://127.0.0.1:6379/0), one stream per test,
deleted at teardown; skipped with the reason when no Redis answers there. The firing-rule tests need no Redis.
Airflow puts the plugins folder on `sys.path` (AIRFLOW__CORE__PLUGINS_FOLDER, set by the Makefile); so does this
module, for a bare `pytest`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections import Counter

import pytest
import redis

from pipeline.sources.stream import stream_doc_key
from pipeline.store import query
from tests.conftest import REPO
from tests.support.streams import REDIS_URL, own_stream
from tests.test_crash_safety import assert_store_consistent, fingerprint
from tests.test_stream import mixed_messages

DAGS = REPO / "dags"
PLUGINS = REPO / "plugins"
if str(PLUGINS) not in sys.path:
    sys.path.append(str(PLUGINS))

from news_stream_trigger import CLASSPATH, FiringRule, GroupStatus, RedisStreamTrigger  # noqa: E402

GROUP = "news-pipeline"
POLL = 0.1
"""The trigger's poll interval in these tests (1 s in the DAG)."""


@pytest.fixture
def stream():
    yield from own_stream()


def client() -> redis.Redis:
    return redis.Redis.from_url(REDIS_URL, decode_responses=True)


def publish(stream: str, messages: list[bytes | dict]) -> list[str]:
    pipe = client().pipeline(transaction=False)
    for message in messages:
        pipe.xadd(stream, {"doc": message} if isinstance(message, bytes) else message)
    return pipe.execute()


def read(stream: str, count: int, start: str = ">") -> list[str]:
    """What a run's consume does to the group: read entries (creating the group at 0 if needed)."""
    with contextlib.suppress(redis.ResponseError):
        client().xgroup_create(stream, GROUP, id="0", mkstream=True)
    reply = client().xreadgroup(GROUP, "writer", {stream: start}, count=count)
    return [entry_id for _, entries in reply or [] for entry_id, _ in entries]


def acknowledge(stream: str, ids: list[str]) -> None:
    client().xack(stream, GROUP, *ids)


def trigger_for(stream: str, **kwargs) -> RedisStreamTrigger:
    options = {"poll_interval": POLL, "refire_seconds": 3600.0, "stalled_seconds": 3600.0, **kwargs}
    return RedisStreamTrigger(stream=stream, group=GROUP, url=REDIS_URL, **options)


class Running:
    """The trigger's `run()` iterated in the background, as the triggerer does, its events in a queue."""

    def __init__(self, trigger: RedisStreamTrigger):
        self.trigger = trigger
        self.events: asyncio.Queue = asyncio.Queue()
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self._pump())
        return self

    async def _pump(self) -> None:
        async for event in self.trigger.run():
            await self.events.put(event.payload)

    async def __aexit__(self, *exc) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def event(self, timeout: float = 5.0) -> dict:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def quiet(self, polls: int = 8) -> None:
        """No event during that many polls (and the trigger still running)."""
        await asyncio.sleep(polls * POLL)
        assert self.task is not None and not self.task.done(), "run() ended"
        events = [self.events.get_nowait() for _ in range(self.events.qsize())]
        assert not events, f"unexpected events: {events}"


def run_async(coroutine) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 60))


# -- the firing rule, no Redis ---------------------------------------------------------------------------------


def status(delivered: str, unread: int, unacknowledged: int = 0, added: int | None = None,
           stalled: tuple[str, int] | None = None) -> GroupStatus:
    return GroupStatus(delivered, f"#{added if added is not None else unread}", unread, unread > 0, unacknowledged,
                       stalled)


def test_the_rule_fires_once_per_wake_and_not_while_a_run_reads_or_processes():
    rule = FiringRule(refire_seconds=60)
    assert rule.decide(status("0-0", 0), 0) is None
    assert rule.decide(status("0-0", 200), 1) == "entries waiting"
    assert [rule.decide(status("0-0", 200), t) for t in (2, 3, 4)] == [None] * 3, "one burst, one event"
    reading = [status("1-19", 180, 20, 200), status("1-39", 160, 40, 200), status("1-59", 140, 60, 200)]
    assert [rule.decide(s, 5 + n) for n, s in enumerate(reading)] == [None] * 3, "the run is reading"
    assert [rule.decide(status("1-59", 140, 60, 200), t) for t in (8, 9, 10)] == [None] * 3, "and processing"
    assert rule.decide(status("1-59", 140, 0, 200), 11) is None, "acknowledging: not finished yet"
    assert rule.decide(status("1-59", 140, 0, 200), 12) == "entries waiting", "stopped at its cap, entries wait"
    assert [rule.decide(status("1-59", 140, 0, 200), t) for t in (13, 14)] == [None] * 2


def test_entries_arriving_during_a_run_are_one_event_at_its_end():
    rule = FiringRule(refire_seconds=60)
    assert rule.decide(status("0-0", 3), 0) == "entries waiting"
    assert rule.decide(status("1-2", 0, 3, 3), 1) is None
    assert [rule.decide(status("1-2", n, 3, 3 + n), 2 + n) for n in (1, 2, 3)] == [None] * 3, "arrivals mid-run"
    assert rule.decide(status("1-2", 3, 0, 6), 6) is None
    assert rule.decide(status("1-2", 3, 0, 6), 7) == "entries waiting"


def test_a_run_that_only_takes_what_a_dead_run_left_is_answered_when_it_acknowledges():
    rule = FiringRule(refire_seconds=60)
    assert rule.decide(status("1-49", 150, 50, 200), 0) == "entries waiting", "a restarted trigger"
    assert [rule.decide(status("1-49", 150, 50, 200), t) for t in (1, 2)] == [None] * 2, "read again: no change"
    assert rule.decide(status("1-49", 150, 0, 200), 3) is None
    assert rule.decide(status("1-49", 150, 0, 200), 4) == "entries waiting"


def test_an_unanswered_event_is_repeated_on_new_entries_at_most_once_per_refire_period():
    rule = FiringRule(refire_seconds=60)
    assert rule.decide(status("0-0", 5), 0) == "entries waiting"
    assert rule.decide(status("0-0", 6), 30) is None, "new entries, but within the period"
    assert rule.decide(status("0-0", 6), 61) == "not answered"
    assert rule.decide(status("0-0", 6), 200) is None, "nothing new since"
    assert rule.decide(status("0-0", 7), 110) is None, "new, but within the period of the repeat"
    assert rule.decide(status("0-0", 7), 122) == "not answered"


def test_a_stalled_entry_fires_once_per_delivery():
    rule = FiringRule()
    assert rule.decide(status("1-5", 0, 6), 0) is None
    assert rule.decide(status("1-5", 0, 6, stalled=("1-0", 1)), 1) == "stalled"
    assert rule.decide(status("1-5", 0, 6, stalled=("1-0", 1)), 2) is None
    assert rule.decide(status("1-5", 0, 6, stalled=("1-0", 2)), 3) == "stalled", "delivered again, stalled again"


# -- the trigger against Redis ---------------------------------------------------------------------------------


def test_the_trigger_fires_once_for_a_new_entry_with_the_lag_and_then_stays_quiet(stream):
    async def scenario():
        async with Running(trigger_for(stream)) as running:
            await running.quiet()
            [first] = publish(stream, [b'{"text": "one"}'])
            event = await running.event()
            assert event["stream"] == stream and event["group"] == GROUP
            assert (event["pending"], event["unread"], event["unacknowledged"]) == (1, 1, 0)
            assert 0 <= event["oldest_pending_seconds"] < 5
            await running.quiet()

            acknowledge(stream, read(stream, 10))  # a run reads and acknowledges it
            await running.quiet()
            publish(stream, [b'{"text": "two"}', b'{"text": "three"}', b'{"text": "four"}'])
            event = await running.event()
            assert (event["pending"], event["unread"]) == (3, 3)
            await running.quiet()

            taken = read(stream, 2)  # a run capped at 2: one left unread, two unacknowledged while it processes
            await running.quiet()
            acknowledge(stream, taken)  # the run ends
            event = await running.event()
            assert (event["pending"], event["unread"], event["unacknowledged"]) == (1, 1, 0)
            assert event["last_delivered_id"] == taken[-1] and first not in taken
            await running.quiet()
            acknowledge(stream, read(stream, 10))
            await running.quiet()

    run_async(scenario())


def test_the_trigger_yields_nothing_with_nothing_new(stream):
    async def scenario():
        async with Running(trigger_for(stream)) as running:
            await running.quiet(10)  # no stream yet
            publish(stream, [b'{"text": "one"}'])
            acknowledge(stream, read(stream, 10))
        async with Running(trigger_for(stream)) as running:  # a restarted trigger: all read and acknowledged
            await running.quiet(10)

    run_async(scenario())


def test_a_restarted_trigger_fires_for_entries_waiting_and_an_unanswered_event_is_repeated(stream):
    async def scenario():
        publish(stream, [b'{"text": "one"}'])
        async with Running(trigger_for(stream, refire_seconds=1.0)) as running:
            assert (await running.event())["unread"] == 1
            await running.quiet(3)
            publish(stream, [b'{"text": "two"}'])
            await running.quiet(3)  # within the refire period
            event = await running.event(timeout=3)
            assert (event["reason"], event["unread"]) == ("not answered", 2)
            await running.quiet(12)  # nothing new since

    run_async(scenario())


def test_an_entry_read_and_never_acknowledged_fires_once_when_stalled(stream):
    async def scenario():
        publish(stream, [b'{"text": "one"}', b'{"text": "two"}'])
        read(stream, 10)  # a run that died after reading
        async with Running(trigger_for(stream, stalled_seconds=0.5)) as running:
            event = await running.event()
            assert (event["reason"], event["pending"], event["unread"], event["unacknowledged"]) == (
                "stalled", 2, 0, 2)
            await running.quiet(10)
            read(stream, 10, start="0")  # the next run reads them again, and dies too
            event = await running.event()
            assert event["reason"] == "stalled"
            await running.quiet(3)

    run_async(scenario())


def test_an_unreachable_redis_is_waited_for_without_an_event_or_an_error():
    async def scenario():
        trigger = RedisStreamTrigger(stream="test:none", group=GROUP, url="redis://127.0.0.1:1/0",
                                     poll_interval=POLL)
        async with Running(trigger) as running:
            await running.quiet(10)

    run_async(scenario())


def test_the_trigger_serialises_and_is_rebuilt_from_its_classpath():
    from airflow._shared.module_loading import import_string
    from airflow.serialization.decoders import smart_decode_trigger_kwargs
    from airflow.serialization.encoders import encode_trigger
    from airflow.triggers.base import BaseEventTrigger

    trigger = RedisStreamTrigger(stream="news:articles", group=GROUP, poll_interval=1.0, stalled_seconds=120.0)
    classpath, kwargs = trigger.serialize()
    assert classpath == CLASSPATH == "news_stream_trigger.RedisStreamTrigger"
    assert kwargs == {"stream": "news:articles", "group": GROUP, "url": None, "poll_interval": 1.0,
                      "refire_seconds": 60.0, "stalled_seconds": 120.0}
    encoded = encode_trigger(trigger)
    rebuilt = import_string(encoded["classpath"])(
        **{key: smart_decode_trigger_kwargs(value) for key, value in encoded["kwargs"].items()})
    assert isinstance(rebuilt, BaseEventTrigger)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert BaseEventTrigger.hash(*rebuilt.serialize()) == BaseEventTrigger.hash(classpath, kwargs)


# -- the DAG ---------------------------------------------------------------------------------------------------

IMPORT_GUARD = """
import socket, sys, importlib.util, duckdb
def refuse(*args, **kwargs):
    raise AssertionError("network or database touched while parsing the DAG file")
socket.socket.connect = refuse
socket.create_connection = refuse
duckdb.connect = refuse
sys.path.append({dags!r})
sys.path.append({plugins!r})
spec = importlib.util.spec_from_file_location("dag_file", {dag_file!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
heavy = sorted(m for m in ("spacy", "great_expectations", "trafilatura", "pipeline.stages.process") if m in sys.modules)
assert not heavy, heavy
print("ok")
"""


def test_parsing_the_dag_file_touches_no_network_database_or_heavy_module():
    guard = IMPORT_GUARD.format(dags=str(DAGS), plugins=str(PLUGINS), dag_file=str(DAGS / "news_stream.py"))
    done = subprocess.run([sys.executable, "-c", guard], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")


@pytest.fixture(scope="module")
def stream_dag():
    from airflow.dag_processing.dagbag import BundleDagBag

    bag = BundleDagBag(dag_folder=str(DAGS), bundle_path=DAGS)
    assert bag.import_errors == {}
    return bag.dags["news_stream"]


def test_the_dag_is_woken_by_the_stream_asset_one_drain_at_a_time(stream_dag):
    from airflow.sdk.definitions.timetables.assets import AssetTriggeredTimetable

    dag = stream_dag
    assert isinstance(dag.timetable, AssetTriggeredTimetable)
    [asset] = dag.timetable.asset_condition.objects
    [watcher] = asset.watchers
    # By classpath, not isinstance: Airflow's plugin manager may have imported plugins/ as a module of its own.
    assert asset.name == "news_stream"
    assert watcher.trigger.serialize()[0] == RedisStreamTrigger(stream="s", group="g").serialize()[0]
    assert watcher.trigger.poll_interval == 1.0 and watcher.trigger.url is None
    assert (dag.catchup, dag.is_paused_upon_creation, dag.max_active_runs) == (False, True, 2)
    assert dag.get_task("drain").max_active_tis_per_dag == 1, "one drain at a time: one reader of the group"
    assert dag.dagrun_timeout is not None
    assert set(dag.params) == {"max_entries", "max_seconds", "max_run_seconds", "idle_seconds", "workers",
                               "batch_size", "fail_on_quality"}
    assert {task.task_id: task.pool for task in dag.tasks}.get("drain") != "duckdb_writer", (
        "a drain takes the store's writer slot per micro-batch, not the pool for minutes")
    upstream = {task.task_id: task.upstream_task_ids for task in dag.tasks}
    assert upstream == {"drain": set(), "publish_lag": {"drain"}, "validate": {"drain"},
                        "report": {"drain", "validate"}}
    assert [o.name for o in dag.get_task("publish_lag").outlets] == ["news_stream_lag"]


def test_ruff_airflow3_rules_pass_on_the_dags_and_plugins():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "AIR3", str(DAGS), str(PLUGINS)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def stream_ledger(db, stream: str) -> list[tuple]:
    return query(db, "SELECT doc_key, state, reason FROM ingest_log WHERE starts_with(doc_key, ?) ORDER BY doc_key",
                 [stream_doc_key(stream, "")])[1]


def lag_events(run_id: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                               .where(AssetModel.name == "news_stream_lag", AssetEvent.source_run_id == run_id))
        return [dict(event.extra) for event in rows]


def task_states(run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def test_a_dag_run_drains_every_entry_once_in_micro_batches_and_a_run_with_nothing_new_skips_the_rest(
        stream_dag, dag_db, stream, monkeypatch):
    monkeypatch.setenv("NEWS_STREAM", stream)
    monkeypatch.setenv("NEWS_STREAM_URL", REDIS_URL)
    monkeypatch.setenv("NEWS_MAX_INPUT_BYTES", "4096")
    ids = publish(stream, mixed_messages())

    first = stream_dag.test(run_conf={"batch_size": 8, "max_entries": 12, "idle_seconds": 0, "workers": 2})
    assert first.state == "success", task_states(first)
    rows = stream_ledger(dag_db, stream)
    assert [key for key, *_ in rows] == sorted(stream_doc_key(stream, entry) for entry in ids), "0 lost, 0 doubled"
    assert Counter(state for _, state, _ in rows) == {"loaded": 22, "duplicate": 4, "rejected": 4}
    assert query(dag_db, "SELECT count(*) FROM articles")[1] == [(22,)]
    [group] = client().xinfo_groups(stream)
    assert (group["pending"], group["lag"]) == (0, 0), "every entry acknowledged"
    micro_batches = query(dag_db, "SELECT run_id, n_inputs FROM ingest_runs ORDER BY run_id")[1]
    assert [n for _, n in micro_batches] == [12, 12, 6], "one drain, three micro-batches of at most 12"
    assert all(run.startswith(f"{first.run_id}.try1.") for run, _ in micro_batches)
    gated = query(dag_db, "SELECT run_id, count(*), bool_and(success) FROM quality_results GROUP BY ALL")[1]
    assert sorted((run, ok) for run, _, ok in gated) == [(run, True) for run, _ in micro_batches]
    [lag] = lag_events(first.run_id)
    assert (lag["consumed"], lag["acknowledged"], lag["pending"], lag["offset"]) == (30, 30, 0, ids[-1])
    assert (lag["run_id"], lag["micro_batches"]) == (first.run_id, 3)
    assert list((dag_db.parent / "staging").iterdir()) == []
    assert_store_consistent(dag_db)

    before = fingerprint(dag_db)
    again = stream_dag.test(run_conf={"idle_seconds": 0})
    assert again.state == "success"
    states = task_states(again)
    assert states.pop("drain") == "success"
    assert set(states.values()) == {"skipped"}, states
    assert fingerprint(dag_db) == before, "a run with nothing new added something"
    assert lag_events(again.run_id) == []
    assert list((dag_db.parent / "staging").iterdir()) == []
    [(value,)] = query(dag_db, "SELECT value FROM source_state WHERE kind = 'stream'")[1]
    assert json.loads(value)["offset"] == ids[-1]


# -- the production topology: the triggerer wakes the runs ----------------------------------------------------

CLUSTER_BATCH = 20
"""Entries per micro-batch on the cluster (NEWS_STREAM_MAX_ENTRIES), so 200 messages take ten: the worker is killed
after the first commits, with most of the stream still to take."""


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _draining_after_a_commit(cluster, dag_id: str, stream: str) -> tuple[str, dict] | None:
    """The run and its `drain` task, once the drain has committed a micro-batch and is still running."""
    for run in cluster.runs(dag_id):
        if run["state"] != "running":
            continue
        for ti in cluster.task_instances(dag_id, run["dag_run_id"]):
            if ti["task_id"] == "drain" and ti["state"] == "running" and stream_ledger(cluster.store, stream):
                return run["dag_run_id"], ti
    return None


def _worker_of(cluster, ti: dict) -> str | None:
    """The worker whose process group runs the task's process, when the API tells its pid."""
    pid = ti.get("pid")
    if not pid:
        return None
    try:
        group = os.getpgid(pid)
    except ProcessLookupError:
        return None
    return next((name for name, process in cluster.processes.items()
                 if name.startswith("worker-") and process.pid == group), None)


def _respawn(cluster, name: str) -> None:
    if name == "triggerer":
        cluster._spawn("triggerer", "triggerer")
        return
    number = name.removeprefix("worker-")
    cluster._spawn(name, "celery", "worker", "--celery-hostname", f"news{number}@%h",
                   "--concurrency", str(cluster.worker_concurrency), "--skip-serve-logs")


@pytest.mark.integration
def test_the_triggerer_wakes_runs_that_drain_the_stream_through_a_killed_worker_and_a_restarted_triggerer(
        tmp_path, stream):
    import time

    from tests.support.cluster import AirflowCluster, group_alive, services_reachable
    from tests.test_stream import corpus

    reason = services_reachable()
    if reason:
        pytest.skip(f"the production topology needs local PostgreSQL and Redis: {reason}")
    extra_env = {
        "NEWS_STREAM": stream, "NEWS_STREAM_URL": REDIS_URL, "NEWS_MAX_INPUT_BYTES": "4096",
        "NEWS_STREAM_MAX_ENTRIES": str(CLUSTER_BATCH), "NEWS_BATCH_SIZE": "10", "NEWS_STREAM_STALLED_SECONDS": "30",
        # a task killed with its worker is failed after 20 s instead of 5 min, and the tasks the dead worker had
        # reserved are queued again after 30 s instead of 10 min; the DAG file is parsed often, so the watcher is
        # registered soon after the DAG is unpaused
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "30",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "10",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
    }
    messages, _ = corpus()
    started = time.monotonic()
    with AirflowCluster(home=tmp_path / "airflow", data_dir=tmp_path / "data", workers=2, worker_concurrency=2,
                        extra_env=extra_env) as cluster:
        groups = [process.pid for process in cluster.processes.values()]
        cluster.wait_for_dag("news_stream")
        assert cluster.request("GET", "/dags/news_stream")["is_paused"] is True
        ids = publish(stream, messages)
        cluster.request("PATCH", "/dags/news_stream", json={"is_paused": False})

        deadline = time.monotonic() + 600
        while (found := _draining_after_a_commit(cluster, "news_stream", stream)) is None:
            assert time.monotonic() < deadline, f"no drain committed a micro-batch\n{cluster.log_tails()}"
            time.sleep(0.5)
        killed_run, ti = found
        victims = [_worker_of(cluster, ti)] if _worker_of(cluster, ti) else [
            name for name in cluster.processes if name.startswith("worker-")]
        for name in victims:
            _kill_group(cluster.processes[name].pid)
            cluster.processes[name].wait()
            groups.append(cluster.processes[name].pid)
        for name in victims:
            _respawn(cluster, name)
        os.killpg(cluster.processes["triggerer"].pid, signal.SIGTERM)
        cluster.processes["triggerer"].wait(timeout=60)
        _respawn(cluster, "triggerer")
        groups += [process.pid for process in cluster.processes.values()]

        deadline = time.monotonic() + 1200
        while True:
            [group] = [g for g in client().xinfo_groups(stream) if g["name"] == GROUP]
            runs = cluster.runs("news_stream")
            busy = [run for run in runs if run["state"] in ("queued", "running")]
            if (group["lag"], group["pending"]) == (0, 0) and not busy:
                break
            assert time.monotonic() < deadline, f"stream not drained: {group}, {busy}\n{cluster.log_tails()}"
            time.sleep(3)
        drained = time.monotonic() - started
        states = Counter(run["state"] for run in runs)
        killed_state = next(run["state"] for run in runs if run["dag_run_id"] == killed_run)
        assert {run["run_type"] for run in runs} == {"asset_triggered"}
        lag = cluster.request("GET", "/assets/events", params={"source_dag_id": "news_stream", "limit": 100},
                              )["asset_events"]
        store = cluster.store
        rows = stream_ledger(store, stream)
        committed_by_killed = query(store, "SELECT coalesce(sum(n_inputs), 0) FROM ingest_runs "
                                           "WHERE starts_with(run_id, ?)", [f"{killed_run}."])[1][0][0]
        articles_stored = query(store, "SELECT count(*), count(DISTINCT content_hash) FROM articles")[1]
    left = [group for group in groups if group_alive(group)]
    assert not left, f"process groups still running after stop: {left}"

    print(f"drained 200 messages in {drained:.0f} s over {sum(states.values())} runs {dict(states)}; "
          f"the run with the killed worker ended {killed_state}")
    assert [key for key, *_ in rows] == sorted(stream_doc_key(stream, entry) for entry in ids), "0 lost, 0 doubled"
    assert Counter(state for _, state, _ in rows) == {"loaded": 170, "duplicate": 20, "rejected": 10}
    assert articles_stored == [(170, 170)]
    assert states["success"] >= 1 and committed_by_killed > 0
    lags = [event["extra"] for event in sorted(lag, key=lambda event: event["timestamp"])
            if event["extra"].get("stream") == stream]
    assert sum(extra["consumed"] for extra in lags) + committed_by_killed == len(ids), (
        "each entry consumed once: by a finished run, or by a micro-batch the killed run committed")
    assert lags[-1]["pending"] == 0
