"""A Kafka topic as the stream source's log: the scale path beside Redis Streams (`StreamSource` with a
`kafka://host:port[,host:port]` URL; the stream name is the topic, the group the consumer group).

Kafka keeps no list of entries delivered and not acknowledged: a consumer group has one committed position per
partition, a watermark. So the log maps the `StreamLog` contract onto positions:

- an entry id is `<partition>-<offset>`; the store's committed offset is a JSON object `{partition: last offset
  taken}`, committed with the rows as for Redis;
- `redelivered(committed)` reads, in each partition, from the group's committed position up to the store's offset:
  entries a run took and stored, or took and failed, before Kafka heard of it. The caller acknowledges the stored
  ones and takes the failed ones again, as with Redis;
- `acknowledge` moves each partition's committed position past the acknowledged entries, up to the first entry
  left out (one to try again), so an entry to retry holds its partition's position and is read again.

One process reads every partition (assigned, not subscribed): the loads are serialised by the writer slot anyway,
so consumers in parallel would only wait. Partitions scale the producers and the broker; the pipeline's parallel
part is the `process` task, mapped over batches.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Self

from pipeline.sources.stream import DOC_FIELD, Backlog, Entry, StreamUnavailable

DOC_KEY = DOC_FIELD.encode()
"""The entry field a message's value is given under, as for a Redis entry."""
POLL_SECONDS = 1.0
"""How long `fresh` waits for messages before deciding there are none now."""
TIMEOUT_SECONDS = 10.0
"""Broker requests (metadata, committed positions, commits) give up after this long."""


def entry_id(partition: int, offset: int) -> str:
    return f"{partition}-{offset}"


def parse_entry(entry: str) -> tuple[int, int]:
    partition, _, offset = entry.partition("-")
    return int(partition), int(offset)


def offsets_of(offset: str | None) -> dict[int, int]:
    """The store's offset as {partition: last offset taken}."""
    return {int(partition): int(last) for partition, last in json.loads(offset).items()} if offset else {}


def offset_text(offsets: dict[int, int]) -> str:
    return json.dumps({str(partition): last for partition, last in sorted(offsets.items())}, sort_keys=True)


class KafkaStreamLog:
    """One Kafka topic read by one consumer group (confluent-kafka), as a `StreamLog`."""

    def __init__(self, url: str, stream: str, group: str):
        from confluent_kafka import Consumer

        self.url, self.stream, self.group = url, stream, group
        servers = url.removeprefix("kafka://").rstrip("/")
        common: dict[str, str | int | float | bool] = {"bootstrap.servers": servers,
                                                       "socket.timeout.ms": int(TIMEOUT_SECONDS * 1000)}
        self._common = common
        self._consumer: Any = Consumer({**common, "group.id": group, "enable.auto.commit": False,
                                        "auto.offset.reset": "earliest", "enable.partition.eof": False})
        self._partitions: list[int] = []
        self._position: dict[int, int] = {}
        """Next offset to read in each partition."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._consumer.close()

    def _fail(self, error: object) -> StreamUnavailable:
        detail = " ".join(str(error).split()) or type(error).__name__
        return StreamUnavailable(f"topic {self.stream} at {self.url}: {detail}"[:300])

    def prepare(self) -> None:
        """Create the topic if it is missing (one partition), and learn its partitions."""
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient, NewTopic

        try:
            topics = self._consumer.list_topics(self.stream, timeout=TIMEOUT_SECONDS).topics
            if not topics.get(self.stream) or not topics[self.stream].partitions:
                admin = AdminClient(self._common)
                for future in admin.create_topics([NewTopic(self.stream, num_partitions=1)]).values():
                    try:
                        future.result(TIMEOUT_SECONDS)
                    except KafkaException as error:
                        if "TOPIC_ALREADY_EXISTS" not in str(error):
                            raise
                topics = self._consumer.list_topics(self.stream, timeout=TIMEOUT_SECONDS).topics
            self._partitions = sorted(topics[self.stream].partitions)
            self._position = self._group_positions()
        except KafkaException as error:
            raise self._fail(error) from error

    def _group_positions(self) -> dict[int, int]:
        """The group's committed position in each partition (0 where it committed none: from the start)."""
        from confluent_kafka import TopicPartition

        committed = self._consumer.committed([TopicPartition(self.stream, p) for p in self._partitions],
                                             timeout=TIMEOUT_SECONDS)
        return {tp.partition: max(tp.offset, 0) for tp in committed}

    def _consume(self, positions: dict[int, int], count: int, wait: float) -> list[Any]:
        """Up to `count` messages from the given partitions at the given offsets (moved past what is read),
        waiting at most `wait` seconds for them."""
        from confluent_kafka import TopicPartition

        self._consumer.assign([TopicPartition(self.stream, p, offset) for p, offset in positions.items()])
        messages: list[Any] = []
        deadline = time.monotonic() + wait
        while len(messages) < count and (left := deadline - time.monotonic()) > 0:
            for message in self._consumer.consume(min(count - len(messages), 500), timeout=left):
                if message.error():
                    raise self._fail(message.error())
                messages.append(message)
                positions[message.partition()] = message.offset() + 1
        return messages

    @staticmethod
    def _entry(message: Any) -> Entry:
        return Entry(entry_id(message.partition(), message.offset()), {DOC_KEY: message.value()})

    def redelivered(self, committed: str | None = None) -> Iterator[Entry]:
        """Entries from the group's position up to the store's offset, partition by partition."""
        for partition, last in sorted(offsets_of(committed).items()):
            if partition not in self._position:
                continue
            at = {partition: self._position[partition]}
            while at[partition] <= last:
                messages = self._consume(at, min(last - at[partition] + 1, 500), TIMEOUT_SECONDS)
                if not messages:
                    break
                yield from (self._entry(m) for m in messages if m.offset() <= last)
            self._position[partition] = max(self._position[partition], last + 1)

    def fresh(self, count: int) -> list[Entry]:
        """At most `count` entries after everything read so far in this run."""
        return [self._entry(m) for m in self._consume(self._position, count, POLL_SECONDS)]

    def unacknowledged(self, upto: str) -> list[str]:
        """Ids from the group's position to the store's offset in each partition (offsets Kafka skipped included:
        acknowledging them is harmless)."""
        if not self._partitions:
            self.prepare()
        group = self._group_positions()
        return [entry_id(partition, offset) for partition, last in sorted(offsets_of(upto).items())
                for offset in range(group.get(partition, 0), last + 1)]

    def acknowledge(self, ids: Sequence[str]) -> int:
        """Commit each partition's position past the acknowledged ids, stopping at the first id left out."""
        from confluent_kafka import KafkaException, TopicPartition

        if not ids:
            return 0
        if not self._partitions:
            self.prepare()
        group = self._group_positions()
        acked: dict[int, set[int]] = {}
        for entry in ids:
            partition, offset = parse_entry(entry)
            acked.setdefault(partition, set()).add(offset)
        commits, done = [], 0
        for partition, offsets in acked.items():
            position = group.get(partition, 0)
            start = position
            while position in offsets:
                position += 1
            if position > start:
                commits.append(TopicPartition(self.stream, partition, position))
                done += position - start
        if commits:
            try:
                self._consumer.commit(offsets=commits, asynchronous=False)
            except KafkaException as error:
                raise self._fail(error) from error
        return done

    def covers(self, offset: str | None, entry: str) -> bool:
        partition, position = parse_entry(entry)
        last = offsets_of(offset).get(partition)
        return last is not None and position <= last

    def later(self, offset: str | None, entry: str) -> str:
        partition, position = parse_entry(entry)
        offsets = offsets_of(offset)
        offsets[partition] = max(position, offsets.get(partition, -1))
        return offset_text(offsets)

    def backlog(self, offset: str | None) -> Backlog:
        """Messages after the offset in every partition (from the brokers' high watermarks), and the age of the
        oldest of them (its timestamp)."""
        from confluent_kafka import KafkaException, TopicPartition

        taken = offsets_of(offset)
        pending, oldest = 0, None
        try:
            for partition in self._partitions:
                after = taken.get(partition, -1) + 1
                _, high = self._consumer.get_watermark_offsets(TopicPartition(self.stream, partition),
                                                               timeout=TIMEOUT_SECONDS)
                waiting = max(0, high - after)
                pending += waiting
                first = self._consume({partition: after}, 1, POLL_SECONDS) if waiting else []
                stamps = [m.timestamp()[1] / 1000 for m in first if m.timestamp()[1] > 0]
                oldest = min([*stamps, *([oldest] if oldest is not None else [])], default=None)
        except KafkaException as error:
            raise self._fail(error) from error
        return Backlog(pending, None if oldest is None else round(max(0.0, time.time() - oldest), 3))

    def publish(self, docs: Iterable[bytes]) -> list[str]:
        """Produce each doc as one message, waiting for every delivery.

        Keyed by a hash of the doc: without a key librdkafka's sticky partitioner sends a whole quick burst to one
        partition, so consumers of the other partitions idle; with it the docs spread over every partition and
        exact repeats land in the same one, behind their first copy."""
        from confluent_kafka import KafkaException, Producer

        producer = Producer({**self._common, "enable.idempotence": True})
        delivered: list[tuple[int, str]] = []
        failures: list[object] = []

        def report(error: object, message: Any) -> None:
            if error is not None:
                failures.append(error)
            else:
                delivered.append((len(delivered), entry_id(message.partition(), message.offset())))

        try:
            for doc in docs:
                producer.produce(self.stream, value=doc, key=hashlib.blake2b(doc, digest_size=8).digest(),
                                 on_delivery=report)
                producer.poll(0)
            left = producer.flush(TIMEOUT_SECONDS * 3)
        except KafkaException as error:
            raise self._fail(error) from error
        if failures or left:
            raise self._fail(failures[0] if failures else f"{left} messages not delivered")
        return [entry for _, entry in delivered]
