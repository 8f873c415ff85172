"""The stream source: messages in a Redis Stream end, each, in exactly one ledger state, however often they are
delivered and wherever a run dies.

Runs against the machine's Redis (NEWS_TEST_STREAM_URL, default redis://127.0.0.1:6379/0), one stream per test,
deleted at teardown; skipped with the reason when no Redis answers there. The poison-message unit tests need no
Redis.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
import redis

from pipeline import run_folder
from pipeline.cli import main
from pipeline.records import RawDoc
from pipeline.run_folder import RunFolder
from pipeline.sources.base import ReadContext
from pipeline.sources.http import Fetched, HttpPolicy, PoliteClient
from pipeline.sources.registry import source_for
from pipeline.sources.stream import (
    MAX_STREAM_ATTEMPTS,
    Entry,
    RedisStreamLog,
    StreamSource,
    message_doc,
    stream_doc_key,
)
from pipeline.stages.drain import drain_stream, run_stream
from pipeline.stages.load import load
from pipeline.stages.plan import plan_source
from pipeline.stages.process import process_batch
from pipeline.stages.run import run_source
from pipeline.stages.stream import acknowledge, consume, plan_consumed
from pipeline.store import query
from tests.conftest import SEEDS
from tests.killing import finish, kill_after, reach, spawn
from tests.support.local_site import WORDS, serve, stop
from tests.support.streams import REDIS_URL, own_stream
from tests.test_crash_safety import assert_store_consistent, fingerprint

GROUP = "news-pipeline"
NEWS = Path(sys.executable).with_name("news")
CORPUS_SEED = 20260214
MAX_BYTES = 4096
"""The input cap of these tests, so an oversize message is small."""
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))


@pytest.fixture
def stream():
    yield from own_stream()


@pytest.fixture
def stream_settings(settings):
    return replace(settings, max_input_bytes=MAX_BYTES, batch_size=40)


def source_of(stream: str, max_entries: int = 1000, max_seconds: float = 60.0,
              policy: HttpPolicy | None = None) -> StreamSource:
    return StreamSource(REDIS_URL, stream, GROUP, policy or HttpPolicy(per_host_delay=0), max_entries, max_seconds)


def publish(stream: str, messages: list[bytes | dict]) -> list[str]:
    """Append in order: bytes as a message in `doc`, a dict as the entry's fields (an entry without `doc`)."""
    pipe = redis.Redis.from_url(REDIS_URL).pipeline(transaction=False)
    for message in messages:
        pipe.xadd(stream, {"doc": message} if isinstance(message, bytes) else message)
    return [entry_id.decode() for entry_id in pipe.execute()]


def pending(stream: str) -> int:
    client = redis.Redis.from_url(REDIS_URL)
    return client.xpending(stream, GROUP)["pending"] if client.exists(stream) else 0


def consume_until_empty(settings, source: StreamSource, prefix: str) -> list:
    runs = []
    for number in range(50):
        done = run_stream(source, settings, f"{prefix}-{number}")
        if done.taken.consumed == 0:
            return runs
        runs.append(done)
    raise AssertionError("the stream never ran dry")


def ledger(settings, stream: str) -> list[tuple]:
    return query(settings.store, "SELECT source_uri, doc_key, state, reason FROM ingest_log "
                                 "WHERE starts_with(doc_key, ?) ORDER BY source_uri",
                 [stream_doc_key(stream, "")])[1]


def sentences() -> list[str]:
    pool = []
    for path in sorted(SEEDS.glob("*.txt")):
        pool += [s.strip() for s in re.split(r"(?<=[.!?])\s+", path.read_text()) if 60 <= len(s.strip()) <= 300
                 and "\n" not in s.strip()]
    return pool


def articles(count: int, rng: random.Random) -> list[bytes]:
    """Distinct short articles: two seed sentences and three of random words each, so no two are near-duplicates;
    every other one has a URL."""
    pool = sentences()
    messages = []
    for number in range(count):
        made_up = [f"The {' '.join(rng.sample(WORDS, 12))} {number}." for _ in range(3)]
        text = " ".join([*rng.sample(pool, 2), *made_up])
        record = {"title": f"Dispatch {number}: {' '.join(rng.sample(WORDS, 4))}", "text": text,
                  "published": f"2026-01-{1 + number % 28:02d}"}
        if number % 2 == 0:
            record["url"] = f"https://news.example/world/{number}"
        messages.append(json.dumps(record).encode())
    return messages


POISON: list[tuple[bytes | dict, str]] = [
    (b'{"text": "unterminated', "invalid JSON message: "),
    (b"[" * 100_000 + b"]" * 100_000, "too large: message over 4096 bytes"),
    (b"[" * 2000 + b"]" * 2000, "invalid JSON message: nested too deep"),
    (PNG, "binary content: message is not UTF-8 (byte 0x89 at 0)"),
    ('{"text": "caf\xe9 au lait, a Latin-1 message"}'.encode("latin-1"), "binary content: message is not UTF-8"),
    (b'{"url": "http://10.1.2.3/news/1"}', "refused: 10.1.2.3 resolves to a non-public address"),
    (b'{"url": "file:///etc/passwd"}', "refused: not an http(s) URL"),
    (b'{"title": "a headline and nothing else"}', "message has no usable field"),
    (b"[1, 2, 3]", "message is not a JSON object but list"),
    ({"body": b"a field of another name"}, "no 'doc' field in the stream entry (fields: 'body')"),
]
"""Ten poison messages of different kinds, with how their rejection reason begins."""


def corpus() -> tuple[list[bytes | dict], dict[int, str | None]]:
    """200 messages: 170 distinct articles, 20 exact repeats of some of them under new entries, 10 poison, in a
    seeded order; and, by position, the reject reason expected (None for an article)."""
    rng = random.Random(CORPUS_SEED)
    distinct = articles(170, rng)
    messages: list[tuple[bytes | dict, str | None]] = [(message, None) for message in distinct]
    messages += [(message, None) for message in rng.sample(distinct, 20)]
    messages += POISON
    rng.shuffle(messages)
    return [message for message, _ in messages], {n: reason for n, (_, reason) in enumerate(messages)}


def mixed_messages() -> list[bytes | dict]:
    """30 messages: 22 distinct articles, 4 exact repeats under new entries, 4 poison (none needs the network)."""
    rng = random.Random(14)
    distinct = articles(22, rng)
    poison = [POISON[0][0], POISON[3][0], POISON[5][0], POISON[8][0]]
    messages: list[bytes | dict] = [*distinct, *rng.sample(distinct, 4), *poison]
    rng.shuffle(messages)
    return messages


def test_200_messages_end_each_in_one_ledger_state_and_consuming_again_adds_nothing(stream_settings, stream):
    messages, expected = corpus()
    ids = publish(stream, messages)
    source = source_of(stream, max_entries=60)
    runs = consume_until_empty(stream_settings, source, "batch")
    assert [done.taken.consumed for done in runs] == [60, 60, 60, 20]

    rows = ledger(stream_settings, stream)
    assert [uri for uri, *_ in rows] == sorted(stream_doc_key(stream, entry) for entry in ids), "0 lost, 0 doubled"
    assert len({doc_key for _, doc_key, *_ in rows}) == 200
    assert Counter(state for _, _, state, _ in rows) == {"loaded": 170, "duplicate": 20, "rejected": 10}
    reasons = {uri: reason for uri, _, _, reason in rows}
    for position, reason in expected.items():
        got = reasons[stream_doc_key(stream, ids[position])]
        assert (got or "").startswith(reason) if reason else got in (None, "content_hash", "canonical_url")
    by_content = Counter(m for m in messages if isinstance(m, bytes) and not any(m == p for p, _ in POISON))
    loaded_per_content = Counter(messages[ids.index(uri.rsplit("/", 1)[1])] for uri, _, state, _ in rows
                                 if state == "loaded")
    assert loaded_per_content == Counter(dict.fromkeys(by_content, 1)), "each content loaded exactly once"
    assert query(stream_settings.store, "SELECT count(*), count(DISTINCT content_hash) FROM articles")[1] == [
        (170, 170)]
    raw = dict(query(stream_settings.store, "SELECT doc_key, raw FROM rejects")[1])
    assert raw[stream_doc_key(stream, ids[messages.index(PNG)])] == PNG
    assert len(raw[stream_doc_key(stream, ids[messages.index(POISON[1][0])])]) == MAX_BYTES

    [(value,)] = query(stream_settings.store, "SELECT value FROM source_state WHERE kind = 'stream'")[1]
    state = json.loads(value)
    assert (state["offset"], state["pending"]) == (ids[-1], 0)
    assert runs[0].taken.pending == 140 and runs[0].taken.oldest_pending_seconds is not None
    assert pending(stream) == 0

    before = fingerprint(stream_settings.store)
    again = run_stream(source, stream_settings, "again")
    assert (again.summary, again.taken.consumed, again.acknowledged.acknowledged) == (None, 0, 0)
    assert fingerprint(stream_settings.store) == before, "consuming again added something"
    assert_store_consistent(stream_settings.store)


def test_a_crash_after_the_commit_before_acknowledging_adds_nothing_and_the_next_run_acknowledges(
        stream_settings, stream):
    rng = random.Random(1)
    first = publish(stream, [*articles(8, rng), POISON[0][0], POISON[7][0]])
    source = source_of(stream)
    consume(stream_settings, "crashed", source)
    plan = plan_consumed(stream_settings, "crashed", source.label)
    load(plan, [process_batch(batch, stream_settings) for batch in plan.batches], stream_settings)
    assert pending(stream) == 10, "not acknowledged before the commit"
    before = fingerprint(stream_settings.store)

    later = publish(stream, articles(3, random.Random(2)))
    done = run_stream(source, stream_settings, "next")
    assert done.taken.consumed == 3 and done.taken.acknowledged_stored == 10
    assert pending(stream) == 0
    rows = ledger(stream_settings, stream)
    assert sorted(uri for uri, *_ in rows) == sorted(stream_doc_key(stream, e) for e in first + later)
    assert query(stream_settings.store, "SELECT count(*) FROM ingest_log WHERE run_id = 'next'")[1] == [(3,)]
    assert fingerprint(stream_settings.store) != before

    twice = acknowledge(stream_settings, source)
    assert (twice.acknowledged, twice.retrying, twice.committed.offset) == (0, 0, later[-1])


def test_acknowledging_alone_after_the_commit_takes_them_off_the_stream(stream_settings, stream):
    entries = publish(stream, articles(4, random.Random(3)))
    source = source_of(stream)
    consume(stream_settings, "run", source)
    plan = plan_consumed(stream_settings, "run", source.label)
    assert acknowledge(stream_settings, source).acknowledged == 0, "nothing is committed before the load"
    load(plan, [process_batch(batch, stream_settings) for batch in plan.batches], stream_settings)
    done = acknowledge(stream_settings, source)
    assert (done.acknowledged, done.committed.offset, done.committed.consumed) == (4, entries[-1], 4)
    assert acknowledge(stream_settings, source).acknowledged == 0
    assert pending(stream) == 0


def test_a_crash_before_the_commit_leaves_the_entries_pending_and_the_next_run_takes_them_once(
        stream_settings, stream):
    entries = publish(stream, articles(6, random.Random(4)))
    source = source_of(stream)
    consume(stream_settings, "died", source)
    plan = plan_consumed(stream_settings, "died", source.label)
    [process_batch(batch, stream_settings) for batch in plan.batches]
    assert pending(stream) == 6
    done = run_stream(source, stream_settings, "retry")
    assert done.summary is not None and (done.summary.n_inputs, done.summary.n_loaded) == (6, 6)
    assert [uri for uri, *_ in ledger(stream_settings, stream)] == [stream_doc_key(stream, e) for e in entries]
    assert pending(stream) == 0


def test_a_consume_task_run_again_reads_nothing_new_and_a_run_run_again_after_its_load_rewrites_its_ledger(
        stream_settings, stream):
    publish(stream, articles(3, random.Random(5)))
    source = source_of(stream)
    consume(stream_settings, "r", source)
    publish(stream, articles(2, random.Random(6)))
    folder = consume(stream_settings, "r", source)
    plan = plan_consumed(stream_settings, "r", source.label)
    assert plan.n_inputs == 3, "the retried task kept what its first attempt took"
    load(plan, [process_batch(batch, stream_settings) for batch in plan.batches], stream_settings)
    folder.remove()
    ledger_sql = "SELECT * EXCLUDE (logged_at) FROM ingest_log ORDER BY ALL"
    before = query(stream_settings.store, ledger_sql)[1]
    done = run_stream(source, stream_settings, "r")
    assert done.summary is not None and (done.summary.n_inputs, done.summary.n_loaded) == (3, 3)
    assert done.taken.consumed == 0, "planned from its own ledger, nothing taken"
    assert query(stream_settings.store, ledger_sql)[1] == before
    assert run_stream(source, stream_settings, "s").taken.consumed == 2
    assert len(ledger(stream_settings, stream)) == 5


def test_a_stream_lost_after_the_commit_acknowledges_nothing_and_a_new_one_is_read_from_its_start(
        stream_settings, stream):
    """Redis keeps nothing on disk: after a restart the stream and its group are gone, and new entries (ids from
    the clock, after the committed offset) are read by a group created again."""
    source = source_of(stream)
    publish(stream, articles(2, random.Random(11)))
    consume(stream_settings, "before", source)
    plan = plan_consumed(stream_settings, "before", source.label)
    load(plan, [process_batch(batch, stream_settings) for batch in plan.batches], stream_settings)
    redis.Redis.from_url(REDIS_URL).delete(stream)
    assert acknowledge(stream_settings, source).acknowledged == 0
    entries = publish(stream, articles(3, random.Random(12)))
    done = run_stream(source, stream_settings, "after")
    assert done.summary is not None and (done.summary.n_inputs, done.summary.n_loaded) == (3, 3)
    assert done.acknowledged.committed.offset == entries[-1] and pending(stream) == 0


@pytest.mark.parametrize("workers", [1, 2], ids=["in-process", "two-processes"])
def test_a_drain_takes_micro_batches_until_the_stream_is_idle_and_every_entity_is_stored(stream_settings, stream,
                                                                                         workers):
    """Three small loads in a row: with DuckLake's data inlining on, the third lost the entity `Finland` while
    keeping its mentions (see `pipeline.store.DATA_INLINING_ROW_LIMIT`)."""
    ids = publish(stream, mixed_messages())

    drained = drain_stream(source_of(stream, max_entries=12), stream_settings, "drain", max_run_seconds=120,
                           idle_seconds=0, workers=workers)

    assert [done.taken.consumed for done in drained.runs] == [12, 12, 6]
    assert drained.run_ids == ["drain.0001", "drain.0002", "drain.0003"]
    assert (drained.consumed, drained.acknowledged, drained.to_xcom()["pending"]) == (30, 30, 0)
    rows = ledger(stream_settings, stream)
    assert [uri for uri, *_ in rows] == sorted(stream_doc_key(stream, entry) for entry in ids), "0 lost, 0 doubled"
    assert Counter(state for _, _, state, _ in rows) == {"loaded": 22, "duplicate": 4, "rejected": 4}
    assert pending(stream) == 0
    assert_store_consistent(stream_settings.store)


def test_a_pipelined_take_skips_the_micro_batch_in_flight_and_starts_its_offset_after_it(stream_settings, stream):
    """The drain takes micro-batch k+1 before k is committed: k's entries are delivered and unacknowledged, so the
    one consumer would be handed them again."""
    entries = publish(stream, articles(5, random.Random(21)))
    consume(stream_settings, "first", source_of(stream, max_entries=2))
    folder = consume(stream_settings, "second", source_of(stream), in_flight=frozenset(entries[:2]))
    taken = run_folder.read(folder.consumed).column("doc_key").to_pylist()
    assert taken == [stream_doc_key(stream, entry) for entry in entries[2:]]
    [state] = run_folder.read_states(folder.source_states)
    assert state.value["offset"] == entries[-1]
    assert pending(stream) == 5, "nothing acknowledged before its micro-batch is committed"


def test_a_drain_stops_after_its_time_even_with_entries_waiting(stream_settings, stream):
    publish(stream, articles(6, random.Random(9)))
    drained = drain_stream(source_of(stream, max_entries=2), stream_settings, "short", max_run_seconds=0.001,
                           idle_seconds=60)
    assert [done.taken.consumed for done in drained.runs] == [2]
    assert drained.last is not None and drained.last.taken.pending == 4


def test_the_caps_bound_a_batch_and_what_is_left_is_taken_by_the_next(stream_settings, stream):
    entries = publish(stream, articles(7, random.Random(7)))
    done = run_stream(source_of(stream, max_entries=3), stream_settings, "first")
    assert (done.taken.consumed, done.taken.offset, done.taken.pending) == (3, entries[2], 4)
    done = run_stream(source_of(stream, max_seconds=0), stream_settings, "no-time")
    assert done.summary is None and done.taken.consumed == 0
    done = run_stream(source_of(stream), stream_settings, "rest")
    assert (done.taken.consumed, done.taken.pending) == (4, 0)
    assert len(ledger(stream_settings, stream)) == 7


def test_the_ingest_kind_reads_a_batch_and_the_next_consume_acknowledges_it(stream_settings, stream):
    publish(stream, articles(3, random.Random(8)))
    source = source_for("stream", [REDIS_URL, stream])
    summary = run_source(source, stream_settings, "ingested")
    assert (summary.n_inputs, summary.n_loaded) == (3, 3)
    assert pending(stream) == 3
    done = run_stream(source_of(stream), stream_settings, "consumed")
    assert (done.summary, done.taken.acknowledged_stored) == (None, 3)
    assert pending(stream) == 0
    assert len(ledger(stream_settings, stream)) == 3
    with pytest.raises(ValueError, match="at most one stream URL"):
        source_for("stream", ["a", "b"])


@pytest.fixture
def site():
    httpd, base = serve()
    yield base
    stop(httpd)


def test_url_only_messages_are_fetched_politely_and_a_failing_page_is_retried_then_given_up(
        stream_settings, stream, site):
    ids = publish(stream, [json.dumps({"url": f"{site}/{path}"}).encode()
                           for path in ("a/1.html", "private", "missing", "wrong-type", "always-500")])
    source = source_of(stream, policy=HttpPolicy(per_host_delay=0, retries=0, allowed_hosts=frozenset({"127.0.0.1"})))
    first = run_stream(source, stream_settings, "fetch-1")
    assert first.summary is not None and (first.summary.n_loaded, first.summary.n_failed) == (1, 1)
    assert (first.acknowledged.acknowledged, first.acknowledged.retrying) == (4, 1)
    states = {uri: (state, reason) for uri, _, state, reason in ledger(stream_settings, stream)}
    keys = [stream_doc_key(stream, e) for e in ids]
    assert states[keys[0]] == ("loaded", None)
    assert states[keys[1]] == ("rejected", "refused: disallowed by robots.txt")
    assert states[keys[2]] == ("rejected", "HTTP 404")
    assert states[keys[3]][1].startswith("not an HTML page")
    assert states[keys[4]] == ("failed", "HTTP 500; retry-after=")
    [(url, title)] = query(stream_settings.store, "SELECT url, title FROM articles")[1]
    assert url == f"{site}/a/1.html" and title
    for attempt in range(2, MAX_STREAM_ATTEMPTS + 1):
        done = run_stream(source, stream_settings, f"fetch-{attempt}")
        assert done.summary is not None and (done.summary.n_inputs, done.summary.n_failed) == (1, 1)
    assert (done.acknowledged.acknowledged, done.acknowledged.retrying) == (1, 0), "given up after 3 attempts"
    assert pending(stream) == 0
    assert run_stream(source, stream_settings, "fetch-last").taken.consumed == 0
    failures = query(stream_settings.store, "SELECT count(*) FROM ingest_log WHERE doc_key = ?", [keys[4]])[1]
    assert failures == [(MAX_STREAM_ATTEMPTS,)]


def test_publish_and_consume_commands(stream_settings, stream, site, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NEWS_STAGING", str(stream_settings.staging_dir))
    store = str(stream_settings.store)
    lines = tmp_path / "in.jsonl"
    lines.write_bytes(b"\n".join(articles(2, random.Random(9))) + b"\n\n{broken\n")
    page = tmp_path / "page.html"
    page.write_text(f"<html><head><title>Local page</title></head><body><article><p>{'Words of a page. ' * 30}"
                    "</p></article></body></html>")
    common = ["--stream-url", REDIS_URL, "--stream", stream]
    assert main(["publish", str(lines), str(page), "--url", f"{site}/a/2.html", *common]) == 0
    assert f"published 5 messages to {stream}" in capsys.readouterr().out
    assert main(["consume", "--allow-host", "127.0.0.1", "--delay", "0", "--max-entries", "10", "--run-id", "cli",
                 "--store", store, *common]) == 0
    out = capsys.readouterr().out
    assert f"stream {stream}: consumed 5, acknowledged 5, retrying 0, pending 0" in out
    assert "inputs 5: loaded 4, duplicate 0, rejected 1, failed 0" in out and " 0 failed" in out
    assert query(store, "SELECT url FROM articles WHERE url LIKE 'http://127.0.0.1%'")[1] == [(f"{site}/a/2.html",)]
    assert main(["consume", "--store", store, *common]) == 0
    assert "nothing new" in capsys.readouterr().out

    assert main(["publish", str(tmp_path / "nope.jsonl"), *common]) == 2
    assert capsys.readouterr().err.strip() == f"news publish: no such file: {tmp_path / 'nope.jsonl'}"
    assert main(["publish", *common]) == 2
    assert "nothing to publish" in capsys.readouterr().err
    for command in (["publish", "--url", "https://example.com/"], ["consume", "--store", store]):
        assert main([*command, "--stream-url", "redis://127.0.0.1:1/0", "--stream", stream]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "redis://127.0.0.1:1/0" in err


def test_publish_reads_stdin(stream, monkeypatch, capsys):
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"url": "https://example.com/a"}\n\n[1]\n')))
    assert main(["publish", "-", "--stream-url", REDIS_URL, "--stream", stream]) == 0
    assert "published 2 messages" in capsys.readouterr().out
    entries = redis.Redis.from_url(REDIS_URL).xrange(stream)
    assert [fields[b"doc"] for _, fields in entries] == [b'{"url": "https://example.com/a"}', b"[1]"]


KILL_SEED = 7


@pytest.mark.parametrize(("phase", "window"), [("process", 1.0), ("load", 2.0), ("acknowledge", 0.0)])
def test_a_news_consume_killed_mid_batch_then_run_again_loses_and_doubles_nothing(
        phase, window, stream_settings, stream, tmp_path):
    """SIGKILLed after consume, while processing or loading (a seeded point in the first seconds of the phase),
    or once the load committed (its staging folder removed) before acknowledging, then run again: every entry
    ends in one ledger state, and the stream is left with nothing pending."""
    rng = random.Random(f"{KILL_SEED}:{phase}")
    messages = articles(24, rng)
    entries = publish(stream, [*messages, *messages[:4], POISON[0][0], POISON[3][0]])
    db = stream_settings.store
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("NEWS_")},
           "NEWS_DATA_DIR": str(tmp_path), "NEWS_STAGING": str(tmp_path / "staging"), "NEWS_BATCH_SIZE": "5",
           "NEWS_MAX_INPUT_BYTES": str(MAX_BYTES)}
    run_dir = RunFolder.of(tmp_path / "staging", "killed").root
    markers = {
        "consumed": (run_dir / "consumed.parquet").exists,
        "first batch processed": (run_dir / "processed-00000" / "outcomes.parquet").exists,
        "all batches processed": lambda: run_dir.exists() and all(
            (raw.with_name(raw.stem.replace("raw-", "processed-")) / "outcomes.parquet").exists()
            for raw in run_dir.glob("raw-*.parquet")) and (run_dir / "plan.json").exists(),
        "loaded": lambda: not run_dir.exists(),
    }
    command = [str(NEWS), "consume", "--no-check", "--run-id", "killed", "--store", str(db),
               "--stream-url", REDIS_URL, "--stream", stream]
    run = spawn(command, env, tmp_path / "killed.log")
    start = {"process": "first batch processed", "load": "all batches processed", "acknowledge": "loaded"}[phase]
    assert reach(run, markers, upto=start), f"the run ended before the kill:\n{run.log_tail()}"
    killed = kill_after(run, rng.uniform(0, window))
    committed = query(db, "SELECT count(*) FROM ingest_runs WHERE run_id = 'killed'")[1] == [(1,)]
    assert killed or phase == "acknowledge", f"the run ended before the kill:\n{run.log_tail()}"
    assert committed == (phase == "acknowledge") or phase == "load"
    if not committed:
        assert pending(stream) == len(entries), "nothing acknowledged before the commit"
    assert_store_consistent(db)

    finish(spawn([*command[:4], "again", *command[5:]], env, tmp_path / "again.log"))
    rows = ledger(stream_settings, stream)
    assert sorted(uri for uri, *_ in rows) == sorted(stream_doc_key(stream, e) for e in entries)
    assert Counter(state for _, _, state, _ in rows) == {"loaded": 24, "duplicate": 4, "rejected": 2}
    runs = dict(query(db, "SELECT run_id, n_inputs FROM ingest_runs")[1])
    assert runs == ({"killed": 30} if committed else {"again": 30})
    assert pending(stream) == 0
    assert query(db, "SELECT count(*), count(DISTINCT doc_key) FROM articles")[1] == [(24, 24)]
    assert_store_consistent(db)


# Poison messages, one by one (no Redis needed).

def no_fetch(url: str) -> Fetched:
    raise AssertionError(f"fetched {url}")


@pytest.mark.parametrize(("message", "reason"), POISON, ids=[
    "invalid-json", "oversize", "too-deep", "binary", "latin-1", "private-address", "not-http", "no-usable-field",
    "not-an-object", "no-doc-field"])
def test_a_poison_message_is_an_input_with_its_problem_and_bytes(message, reason):
    fields = {b"doc": message} if isinstance(message, bytes) else {k.encode(): v for k, v in message.items()}
    with PoliteClient(HttpPolicy(per_host_delay=0)) as client:
        doc = message_doc("s", Entry("1-0", fields), MAX_BYTES, client.fetch)
    assert doc.doc_key == doc.source_uri == "stream:s/1-0"
    assert doc.problem is not None and doc.problem.startswith(reason) and not doc.transient
    if isinstance(message, bytes):
        assert doc.content == message[:MAX_BYTES]
    else:
        assert json.loads(doc.content) == {"body": "a field of another name"}


def test_an_empty_or_deleted_entry_and_a_message_without_text_or_url_are_rejected():
    assert message_doc("s", Entry("1-0", {b"doc": b"  "}), MAX_BYTES, no_fetch).problem == "empty input"
    assert message_doc("s", Entry("1-0", {}), MAX_BYTES, no_fetch).problem == (
        "entry deleted from the stream before it was stored")
    doc = message_doc("s", Entry("1-0", {b"doc": b'{"text": 5, "html": "  "}'}), MAX_BYTES, no_fetch)
    assert doc.problem is not None and doc.problem.startswith("message has no usable field")


def test_a_message_with_text_is_a_json_input_and_a_url_only_one_the_fetched_page():
    record = b'{"url": " https://news.example/a ", "title": "T", "text": "body"}'
    assert message_doc("s", Entry("2-1", {b"doc": record}), MAX_BYTES, no_fetch) == RawDoc(
        "stream:s/2-1", "stream:s/2-1", "json", record, url="https://news.example/a")
    page = Fetched("https://news.example/a", "https://news.example/b", 200, b"<html>page</html>", "text/html")
    doc = message_doc("s", Entry("2-2", {b"doc": b'{"url": "https://news.example/a"}'}), MAX_BYTES, lambda _: page)
    assert doc == RawDoc("stream:s/2-2", "stream:s/2-2", "html", b"<html>page</html>", url="https://news.example/b")
    busy = Fetched("https://news.example/a", status=503, problem="HTTP 503; retry-after=")
    doc = message_doc("s", Entry("2-3", {b"doc": b'{"url": "https://news.example/a"}'}), MAX_BYTES, lambda _: busy)
    assert doc.transient and doc.content == b'{"url": "https://news.example/a"}'


def test_offsets_order_entry_ids_numerically(stream):
    log = RedisStreamLog(REDIS_URL, stream, GROUP)
    assert log.covers("10-0", "9-5") and log.covers("10-0", "10-0") and not log.covers("10-0", "10-1")
    assert not log.covers(None, "0-1") and log.later("9-9", "10-0") == "10-0" and log.later("10-0", "9-9") == "10-0"
    assert log.later(None, "3-0") == "3-0" and log.covers("10-0", "2-7")
    log.close()


def test_plan_source_path_reads_what_the_context_knows(stream_settings, stream):
    """`read` (the one-step path) leaves entries the offset covers pending for `acknowledge`."""
    entries = publish(stream, articles(2, random.Random(10)))
    source = source_of(stream)
    plan = plan_source(source, stream_settings, "one-step")
    load(plan, [process_batch(batch, stream_settings) for batch in plan.batches], stream_settings)
    again = source_of(stream)
    known = {s.source_id: s for s in plan.source_states}
    assert list(again.read(ReadContext(MAX_BYTES, known))) == []
    assert pending(stream) == 2
    assert acknowledge(stream_settings, again).acknowledged == 2
    assert again.states()[0].value["offset"] == entries[-1]
