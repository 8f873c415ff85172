"""The `stream` source: messages producers append to a Redis Stream, read by one consumer group in micro-batches.

A message is one JSON object with the fields of a JSONL line (`url`, `title`, `text` or `html`, `published`) in
the entry's `doc` field. A message with a `url` and neither `text` nor `html` is fetched with the polite client
(robots.txt, SSRF guard, caps). Every entry becomes exactly one input keyed by the entry (`stream:<stream>/<id>`);
an entry that cannot be read (invalid JSON, not UTF-8, too large, a refused URL, no usable field) is an input with
its `problem` and its bytes, so it ends `rejected` in the ledger and the stream moves on.

Exactly-once effect from at-least-once delivery: the stream's offset (the last entry id taken) is this source's
state, committed by the load in the same transaction as the rows; entries are acknowledged only after that
commit (`pipeline.stages.stream.acknowledge`). A run first re-reads the entries delivered to it before and not
acknowledged: those the committed offset covers are stored already and are acknowledged without being planned
(unless their last fate was `failed`: then they are tried again, up to `MAX_STREAM_ATTEMPTS` times in all); the
others are taken again. Then new entries, up to the micro-batch caps. See DESIGN.md, "Streams".

The offset and acknowledgement logic talks to a `StreamLog`; `RedisStreamLog` implements it, and
`pipeline.sources.kafka.KafkaStreamLog` for a Kafka topic (a `kafka://` URL: the scale path, an offset per
partition); `open_stream_log` picks by the URL.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, Protocol, Self
from urllib.parse import urlsplit, urlunsplit

import redis

from pipeline.records import RawDoc
from pipeline.sources.base import ReadContext, SourceState
from pipeline.sources.http import Fetched, HttpPolicy, PoliteClient
from pipeline.sources.keys import HTML_TYPES, not_html
from pipeline.textnorm import without_surrogates

if TYPE_CHECKING:
    from pipeline.settings import Settings

CONSUMER = "writer"
"""The one consumer name: runs are serialised by the writer slot anyway, and entries delivered to a consumer that
died are re-read by the next run under the same name (`XREADGROUP ... 0`)."""
DOC_FIELD = "doc"
"""The entry field holding the message."""
READ_CHUNK = 20
"""Entries asked of the stream at once: a time cap or a count cap leaves at most this many delivered but untaken
(they are re-read by the next run)."""
ACK_CHUNK = 1000
MAX_STREAM_ATTEMPTS = 3
"""An entry that failed this many times (a page fetch timing out, a 5xx) is acknowledged and stays `failed`."""
BACKLOG_SCAN = 100_000
"""Delivered, unacknowledged entries counted into the backlog at most (the count is a lag figure, not a ledger)."""


class StreamUnavailable(RuntimeError):
    """The stream cannot be reached or used (connection refused, a key that is no stream); one line."""


@dataclass(frozen=True)
class Entry:
    """One stream entry. `fields` is empty when the entry was deleted from the stream while still pending."""

    id: str
    fields: Mapping[bytes, bytes]


@dataclass(frozen=True)
class Backlog:
    """What waits for the group after a run: entries not taken yet (never delivered, or delivered and left over)
    and the age of the oldest of them. None when the stream cannot tell (lag unknown after deletions)."""

    pending: int | None
    oldest_pending_seconds: float | None


class StreamLog(Protocol):
    """Where messages wait for one consumer group, and how far the group has taken them.

    Offsets are opaque strings the log orders (`covers`); the store keeps the committed one. Kafka's keeps one
    offset per partition in that string.
    """

    stream: str
    group: str

    def prepare(self) -> None:
        """Create the group if missing, from the start of the stream (entries published before the first run
        are consumed too)."""
        ...

    def redelivered(self, committed: str | None) -> Iterator[Entry]:
        """Entries delivered to this consumer earlier and not acknowledged, oldest first, read lazily. `committed`
        is the store's offset: a log that cannot tell what it delivered (Kafka) reads up to it."""
        ...

    def fresh(self, count: int) -> list[Entry]:
        """At most `count` entries never delivered to the group, oldest first; empty when there are none now."""
        ...

    def unacknowledged(self, upto: str) -> list[str]:
        """Ids delivered to this consumer and not acknowledged, up to offset `upto` included."""
        ...

    def acknowledge(self, ids: Sequence[str]) -> int:
        ...

    def covers(self, offset: str | None, entry_id: str) -> bool:
        """Whether an entry is at or before the offset."""
        ...

    def later(self, offset: str | None, entry_id: str) -> str:
        """The offset after taking the entry."""
        ...

    def backlog(self, offset: str | None) -> Backlog:
        ...

    def publish(self, docs: Iterable[bytes]) -> list[str]:
        ...

    def close(self) -> None:
        ...


def entry_order(entry_id: str) -> tuple[int, int]:
    """A Redis entry id (`<milliseconds>-<sequence>`) as a sortable pair."""
    millis, _, sequence = entry_id.partition("-")
    return int(millis), int(sequence or 0)


class RedisStreamLog:
    """A Redis Stream read by one consumer group under the one consumer name."""

    def __init__(self, url: str, stream: str, group: str, client: Any = None):
        self.url, self.stream, self.group = url, stream, group
        # redis-py's own annotations make every reply `Awaitable | Any`; it is Any at this boundary.
        self._redis: Any = client or redis.Redis.from_url(url, protocol=2, socket_connect_timeout=5,
                                                          socket_timeout=30)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._redis.close()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except redis.RedisError as error:
            detail = " ".join(str(error).split()) or type(error).__name__
            raise StreamUnavailable(f"stream {self.stream} at {redacted(self.url)}: {detail}"[:300]) from error

    def prepare(self) -> None:
        with self._errors():
            try:
                self._redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
            except redis.ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise

    def redelivered(self, committed: str | None = None) -> Iterator[Entry]:
        """Redis' pending list says what was delivered: `committed` is not needed."""
        after = "0"
        while True:
            with self._errors():
                entries = self._read(after, READ_CHUNK)
            if not entries:
                return
            yield from entries
            after = entries[-1].id

    def fresh(self, count: int) -> list[Entry]:
        with self._errors():
            return self._read(">", count)

    def _read(self, start: str, count: int) -> list[Entry]:
        reply = self._redis.xreadgroup(self.group, CONSUMER, {self.stream: start}, count=count)
        return [Entry(_text(entry_id), fields or {}) for _, entries in reply or [] for entry_id, fields in entries]

    def unacknowledged(self, upto: str) -> list[str]:
        """Empty when the stream or its group is gone (a Redis restarted without persistence)."""
        ids: list[str] = []
        low = "-"
        with self._errors():
            while True:
                try:
                    page = self._redis.xpending_range(self.stream, self.group, min=low, max=upto, count=ACK_CHUNK,
                                                      consumername=CONSUMER)
                except redis.ResponseError as error:
                    if "NOGROUP" in str(error):
                        return ids
                    raise
                ids += [_text(row["message_id"]) for row in page]
                if len(page) < ACK_CHUNK:
                    return ids
                low = f"({ids[-1]}"

    def acknowledge(self, ids: Sequence[str]) -> int:
        done = 0
        with self._errors():
            for start in range(0, len(ids), ACK_CHUNK):
                done += int(self._redis.xack(self.stream, self.group, *ids[start:start + ACK_CHUNK]))
        return done

    def covers(self, offset: str | None, entry_id: str) -> bool:
        return offset is not None and entry_order(entry_id) <= entry_order(offset)

    def later(self, offset: str | None, entry_id: str) -> str:
        return entry_id if offset is None or entry_order(entry_id) > entry_order(offset) else offset

    def backlog(self, offset: str | None) -> Backlog:
        with self._errors():
            group = next((g for g in self._redis.xinfo_groups(self.stream) if _text(g["name"]) == self.group), None)
            if group is None:
                return Backlog(None, None)
            left = self._redis.xpending_range(self.stream, self.group, min=f"({offset}" if offset else "-",
                                              max="+", count=BACKLOG_SCAN)
            undelivered = self._redis.xrange(self.stream, min=f"({_text(group['last-delivered-id'])}", max="+",
                                             count=1)
            seconds, micros = self._redis.time()
        firsts = [_text(left[0]["message_id"])] if left else []
        firsts += [_text(undelivered[0][0])] if undelivered else []
        oldest = min(firsts, key=entry_order, default=None)
        age = None if oldest is None else max(0.0, seconds + micros / 1e6 - entry_order(oldest)[0] / 1000)
        lag = group.get("lag")
        return Backlog(None if lag is None else int(lag) + len(left), None if age is None else round(age, 3))

    def publish(self, docs: Iterable[bytes]) -> list[str]:
        ids: list[str] = []
        with self._errors():
            pipe = self._redis.pipeline(transaction=False)
            pending = 0
            for doc in docs:
                pipe.xadd(self.stream, {DOC_FIELD: doc})
                pending += 1
                if pending == ACK_CHUNK:
                    ids += [_text(i) for i in pipe.execute()]
                    pending = 0
            if pending:
                ids += [_text(i) for i in pipe.execute()]
        return ids

    def delete(self) -> None:
        """Drop the stream and its groups (tests)."""
        with self._errors():
            self._redis.delete(self.stream)


KAFKA_SCHEME = "kafka://"


def open_stream_log(url: str, stream: str, group: str) -> StreamLog:
    """The log at `url`: a Kafka topic for `kafka://host:port[,host:port]`, else a Redis Stream."""
    if url.startswith(KAFKA_SCHEME):
        from pipeline.sources.kafka import KafkaStreamLog

        return KafkaStreamLog(url, stream, group)
    return RedisStreamLog(url, stream, group)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def redacted(url: str) -> str:
    """A Redis URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class StreamState:
    """The stream's committed state (`source_state.value`): the offset, and the lag measured by the run that
    committed it (entries it consumed, entries left pending after it, the oldest one's age)."""

    offset: str | None
    previous: str | None = None
    """The offset the run started from: an entry between it and the offset was taken by this run."""
    consumed: int = 0
    acknowledged_stored: int = 0
    """Entries redelivered to the run that the committed offset covered: acknowledged, not planned."""
    pending: int | None = None
    oldest_pending_seconds: float | None = None
    measured_at: str | None = None

    @classmethod
    def of(cls, state: SourceState | None) -> StreamState:
        if state is None:
            return cls(None)
        value = state.value
        return cls(value.get("offset"), value.get("previous"), value.get("consumed", 0),
                   value.get("acknowledged_stored", 0), value.get("pending"), value.get("oldest_pending_seconds"),
                   value.get("measured_at"))

    def value(self, stream: str, group: str) -> dict[str, Any]:
        return {"stream": stream, "group": group, "offset": self.offset, "previous": self.previous,
                "consumed": self.consumed, "acknowledged_stored": self.acknowledged_stored, "pending": self.pending,
                "oldest_pending_seconds": self.oldest_pending_seconds, "measured_at": self.measured_at}


@dataclass
class StreamSource:
    """One consumer group over one Redis stream. `policy` fetches url-only messages; the caps bound a run."""

    kind: ClassVar[str] = "stream"
    url: str
    stream: str
    group: str
    policy: HttpPolicy = field(default_factory=HttpPolicy)
    max_entries: int = 1000
    max_seconds: float = 60.0
    log_factory: Callable[[StreamSource], StreamLog] | None = None
    """Builds the log (default: `RedisStreamLog`); a Kafka log later, a fake in tests."""
    _state: SourceState | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_arguments(cls, arguments: list[str]) -> StreamSource:
        """`news ingest --kind stream [URL] [STREAM]`: defaults from NEWS_STREAM_URL and NEWS_STREAM."""
        from pipeline.settings import load_settings

        urls = [a for a in arguments if a.startswith(("redis://", "rediss://", "unix://", KAFKA_SCHEME))]
        names = [a for a in arguments if a not in urls]
        if len(urls) > 1 or len(names) > 1:
            raise ValueError("stream: give at most one stream URL (redis://… or kafka://…) and one stream name")
        return cls.of(load_settings(), url=urls[0] if urls else None, stream=names[0] if names else None)

    @classmethod
    def of(cls, settings: Settings, url: str | None = None, stream: str | None = None,
           policy: HttpPolicy | None = None, max_entries: int | None = None,
           max_seconds: float | None = None) -> StreamSource:
        """The stream the settings name, with what the caller overrides."""
        return cls(url or settings.stream_url, stream or settings.stream_name, settings.stream_group,
                   policy or HttpPolicy(), settings.stream_max_entries if max_entries is None else max_entries,
                   settings.stream_max_seconds if max_seconds is None else max_seconds)

    @property
    def label(self) -> str:
        return f"stream:{self.stream}"

    @property
    def source_id(self) -> str:
        """Its `source_state` key: the stream and the consumer group."""
        return f"{self.stream}@{self.group}"

    def doc_key(self, entry_id: str) -> str:
        return stream_doc_key(self.stream, entry_id)

    def open_log(self) -> StreamLog:
        return self.log_factory(self) if self.log_factory else open_stream_log(self.url, self.stream, self.group)

    def read(self, context: ReadContext) -> Iterator[RawDoc]:
        """One micro-batch as a one-step source (`news ingest --kind stream`): entries the committed offset covers
        are left for `acknowledge`, failed ones are not retried here. `pipeline.stages.stream` is the two-step
        path, with the fetches outside the writer slot."""
        return self.take(context, retry={}, acknowledge_stored=False)

    def take(self, context: ReadContext, retry: Mapping[str, int], acknowledge_stored: bool,
             in_flight: Collection[str] = ()) -> Iterator[RawDoc]:
        """Redelivered entries first, then new ones, up to `max_entries` and `max_seconds`.

        `retry`: doc keys whose last fate was `failed`, with their number of failures; such an entry is taken
        again while under `MAX_STREAM_ATTEMPTS` even though the offset covers it. Other covered entries were
        stored: acknowledged here with `acknowledge_stored`, else left for `acknowledge`. `in_flight`: entry ids
        the micro-batch before took and has not committed yet (a pipelined drain loads it while this one is
        tagged): neither taken nor acknowledged, and the offset taken starts after them.
        """
        committed = StreamState.of(context.known.get(self.source_id))
        started = time.monotonic()
        offset, taken, stored = committed.offset, 0, []

        def capped() -> bool:
            return taken >= self.max_entries or time.monotonic() - started >= self.max_seconds

        with contextlib.closing(self.open_log()) as log, _Fetcher(self.policy, context.max_bytes) as fetcher:
            log.prepare()
            for entry_id in in_flight:
                offset = log.later(offset, entry_id)
            for entry in log.redelivered(committed.offset):
                if entry.id in in_flight:
                    continue
                if log.covers(committed.offset, entry.id) and retry.get(self.doc_key(entry.id),
                                                                        MAX_STREAM_ATTEMPTS) >= MAX_STREAM_ATTEMPTS:
                    stored.append(entry.id)
                    continue
                if capped():
                    break
                taken += 1
                offset = log.later(offset, entry.id)
                yield message_doc(self.stream, entry, context.max_bytes, fetcher.fetch)
            if acknowledge_stored and stored:
                log.acknowledge(stored)
            while not capped():
                entries = log.fresh(min(READ_CHUNK, self.max_entries - taken))
                if not entries:
                    break
                for entry in entries:
                    if capped():
                        break  # delivered but not taken: re-read by the next run, the offset is before it
                    taken += 1
                    offset = log.later(offset, entry.id)
                    yield message_doc(self.stream, entry, context.max_bytes, fetcher.fetch)
            backlog = log.backlog(offset)
        state = StreamState(offset, committed.offset, taken, len(stored) if acknowledge_stored else 0,
                            backlog.pending, backlog.oldest_pending_seconds,
                            dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds"))
        self._state = SourceState(self.source_id, self.kind, state.value(self.stream, self.group))

    def states(self) -> list[SourceState]:
        return [self._state] if self._state else []


def stream_doc_key(stream: str, entry_id: str) -> str:
    """An entry's key: the stream and the entry id, the same on every redelivery and different for every entry
    (a repeat of a message's content is a new entry, found as a duplicate by the loader)."""
    return f"stream:{stream}/{entry_id}"


def entry_of(doc_key: str) -> str:
    """The entry id in a stream doc key."""
    return doc_key.rsplit("/", 1)[-1]


class _Fetcher:
    """The polite client, opened at the first url-only message of a run and closed with it."""

    def __init__(self, policy: HttpPolicy, max_bytes: int):
        self._policy = replace(policy, max_bytes=max_bytes)
        self._client: PoliteClient | None = None

    def fetch(self, url: str) -> Fetched:
        if self._client is None:
            self._client = PoliteClient(self._policy)
        return self._client.fetch(url)

    def __enter__(self) -> _Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()


def message_doc(stream: str, entry: Entry, max_bytes: int, fetch: Callable[[str], Fetched]) -> RawDoc:
    """The input one entry is: its message as a JSON input, the page its url names, or a problem with its bytes.

    Never raises: a message that cannot be used is an input with its `problem`, rejected with its bytes.
    """
    key = stream_doc_key(stream, entry.id)
    if not entry.fields:
        return RawDoc(key, key, "unknown", b"", problem="entry deleted from the stream before it was stored")
    raw = entry.fields.get(DOC_FIELD.encode())
    if raw is None:
        names = ", ".join(sorted(repr(_text(name)) for name in entry.fields))
        listing = json.dumps({_text(k): v.decode("utf-8", "backslashreplace") for k, v in entry.fields.items()})
        return RawDoc(key, key, "unknown", listing.encode()[:max_bytes],
                      problem=f"no {DOC_FIELD!r} field in the stream entry (fields: {names})"[:300])
    if len(raw) > max_bytes:
        return RawDoc(key, key, "json", raw[:max_bytes], problem=f"too large: message over {max_bytes} bytes")
    if not raw.strip():
        return RawDoc(key, key, "json", raw, problem="empty input")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return RawDoc(key, key, "json", raw, problem=f"binary content: message is not UTF-8 "
                                                     f"(byte 0x{raw[error.start]:02x} at {error.start})")
    try:
        record = json.loads(text)
    except RecursionError:
        return RawDoc(key, key, "json", raw, problem="invalid JSON message: nested too deep")
    except ValueError as error:
        return RawDoc(key, key, "json", raw, problem=f"invalid JSON message: {' '.join(str(error).split())}"[:300])
    if not isinstance(record, dict):
        return RawDoc(key, key, "json", raw, problem=f"message is not a JSON object but {type(record).__name__}")
    url = _field(record, "url")
    if _field(record, "text") or _field(record, "html"):
        return RawDoc(key, key, "json", raw, url=url)
    if url is None:
        return RawDoc(key, key, "json", raw, problem="message has no usable field: it needs 'text', 'html' or 'url'")
    return _page_doc(key, url, raw, fetch(url))


def _field(record: dict, name: str) -> str | None:
    value = record.get(name)
    return without_surrogates(value.strip()) if isinstance(value, str) and value.strip() else None


def _page_doc(key: str, url: str, message: bytes, fetched: Fetched) -> RawDoc:
    """A url-only message's page, as a fetch run reads it; a refused or failed fetch keeps the bytes it got, else
    the message's own."""
    if fetched.problem:
        return RawDoc(key, key, "html", fetched.content or message, url=url, problem=fetched.problem,
                      transient=fetched.transient)
    if fetched.content_type and fetched.content_type not in HTML_TYPES:
        return RawDoc(key, key, "html", fetched.content, url=url, problem=not_html(fetched.content_type))
    return RawDoc(key, key, "html", fetched.content, url=fetched.final_url or url)


def input_messages(files: Sequence[str], jsonl: Sequence[str], urls: Sequence[str],
                   stdin: BinaryIO | None = None) -> list[bytes]:
    """What `news publish` sends, all read before anything is sent (so an unreadable input sends nothing):
    a .jsonl file or `-` (stdin) gives a message per non-blank line as it is (a bad line is the consumer's to
    reject, with its bytes), a .json file one message, an .html/.htm or .txt file one `html` or `text` message,
    a url a url-only message."""
    messages: list[bytes] = []
    for name in files:
        if name == "-":
            if stdin is None:
                raise ValueError("- given, but no standard input")
            messages += _jsonl_messages(stdin)
        else:
            messages += _file_messages(_existing(name))
    for name in jsonl:
        with _existing(name).open("rb") as handle:
            messages += _jsonl_messages(handle)
    messages += [json.dumps({"url": url}).encode() for url in urls]
    return messages


def _existing(name: str) -> Path:
    path = Path(name)
    if not path.exists():
        raise ValueError(f"no such file: {name}")
    if path.is_dir():
        raise ValueError(f"{name} is a folder: give its files")
    return path


def _jsonl_messages(handle: BinaryIO) -> list[bytes]:
    return [line.rstrip(b"\r\n") for line in handle if line.strip()]


def _file_messages(path: Path) -> list[bytes]:
    from pipeline.extract.decode import decode

    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        with path.open("rb") as handle:
            return _jsonl_messages(handle)
    if suffix == ".json":
        return [path.read_bytes()]
    if suffix in (".html", ".htm", ".txt"):
        field_name = "text" if suffix == ".txt" else "html"
        try:
            text = decode(path.read_bytes(), html=field_name == "html").text
        except ValueError as error:
            raise ValueError(f"cannot publish {path}: {error}") from error
        return [json.dumps({field_name: text}, ensure_ascii=False).encode()]
    raise ValueError(f"cannot publish {path}: give .jsonl, .json, .html, .htm or .txt files")
