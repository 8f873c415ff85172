"""`RedisStreamTrigger`: wakes the `news_stream` DAG (its Asset's `AssetWatcher`) when entries wait in the Redis
Stream for the pipeline's consumer group.

The provider's Redis trigger listens to pub/sub, which keeps nothing and returns after one message; a stream keeps
its entries, and the consumer group knows how far it has read them (`XINFO GROUPS`: last-delivered id, lag, the
pending list). The triggerer runs `run()` for as long as the DAG is unpaused (a trigger that returned would be
started again at once, forgetting what it saw), so the trigger polls every `poll_interval` seconds and decides with
`FiringRule`, which remembers what it last fired for:

- it fires when entries wait that the group has not read (lag > 0) and its last event has been answered: a run has
  read or acknowledged entries since (the group's last-delivered id or its count of unacknowledged entries changed)
  and has finished (neither changed since the previous poll, and no more entries are unacknowledged than when the
  trigger fired: the run has acknowledged what it read). So one burst of messages is one event however many polls
  see it waiting; a run that stops at its cap, or takes only entries a dead run left, ends with entries waiting and
  the next event comes when it has acknowledged; entries arriving while a run is active are one event at its end.
- an event nobody answered (the DAG was paused, its run failed before reading, the event was lost) is repeated when
  new entries arrive, at most once per `refire_seconds`.
- it fires once when a delivered entry has stayed unacknowledged for `stalled_seconds` (a run that died after
  reading, an entry whose fetch failed and is to be tried again): once per such entry and delivery.

A triggerer that restarts forgets and fires at its first poll if entries wait. The event's payload carries the
lag: entries not read by the group, read and not acknowledged, their sum (`pending`) and the oldest one's age.

Airflow imports this module by name (the plugins folder is on `sys.path` in every component; the triggerer does
not see the DAG bundle's folder), so it stays small: redis.asyncio and Airflow's trigger base, nothing heavy.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio
from airflow.triggers.base import BaseEventTrigger, TriggerEvent

CLASSPATH = "news_stream_trigger.RedisStreamTrigger"
"""How the triggerer imports the class (a plugins-folder module, so a top-level name)."""
MAX_BACKOFF = 30.0
"""Seconds between attempts at most while Redis cannot be reached."""


@dataclass(frozen=True)
class GroupStatus:
    """One poll's look at the stream and the consumer group."""

    delivered: str
    """The group's last-delivered id (`0-0` before the group exists or has read anything)."""
    added: str
    """A token that changes when entries are added to the stream (entries read + lag, or the last entry id)."""
    unread: int | None
    """Entries the group has not read yet (its lag); None when Redis cannot count them (after deletions)."""
    waiting: bool
    """Whether any entry waits unread (known even when `unread` is not)."""
    unacknowledged: int
    """Entries read by the group and not acknowledged yet (its pending list)."""
    stalled: tuple[str, int] | None = None
    """The first pending entry idle for `stalled_seconds` or more, with its delivery count."""


@dataclass
class FiringRule:
    """When to fire, given what the trigger last fired for (see the module docstring). Pure: no Redis."""

    refire_seconds: float = 60.0
    fired_progress: tuple[str, int] | None = None
    """The group's last-delivered id and unacknowledged count when the trigger last fired (None: not yet)."""
    fired_added: str | None = None
    fired_at: float = 0.0
    previous_progress: tuple[str, int] | None = None
    stalled_mark: tuple[str, int] | None = None

    def decide(self, status: GroupStatus, now: float) -> str | None:
        """The reason to fire now, or None; remembers what it fired for."""
        progress = (status.delivered, status.unacknowledged)
        settled = self.previous_progress in (None, progress)
        self.previous_progress = progress
        reason = None
        if status.waiting:
            if self.fired_progress is None:
                reason = "entries waiting"
            elif (progress != self.fired_progress and settled
                  and status.unacknowledged <= self.fired_progress[1]):
                reason = "entries waiting"  # a run read or acknowledged since the last event, and has finished
            elif (progress == self.fired_progress and status.added != self.fired_added
                  and now - self.fired_at >= self.refire_seconds):
                reason = "not answered"
        if reason is None and status.stalled is not None and status.stalled != self.stalled_mark:
            reason = "stalled"
        if reason is not None:
            self.fired_progress, self.fired_added, self.fired_at = progress, status.added, now
            self.stalled_mark = status.stalled
        return reason


class RedisStreamTrigger(BaseEventTrigger):
    """Fires while entries wait for `group` in the Redis Stream `stream`, by `FiringRule`.

    `url`: the Redis server; None reads NEWS_STREAM_URL in the triggerer when it runs (so a password in it is
    never part of the trigger's stored arguments or its log lines).
    """

    def __init__(self, stream: str, group: str, url: str | None = None, poll_interval: float = 1.0,
                 refire_seconds: float = 60.0, stalled_seconds: float = 300.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.stream, self.group, self.url = stream, group, url
        self.poll_interval = float(poll_interval)
        self.refire_seconds = float(refire_seconds)
        self.stalled_seconds = float(stalled_seconds)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return CLASSPATH, {"stream": self.stream, "group": self.group, "url": self.url,
                           "poll_interval": self.poll_interval, "refire_seconds": self.refire_seconds,
                           "stalled_seconds": self.stalled_seconds}

    def redis_url(self) -> str:
        if self.url:
            return self.url
        from pipeline.settings import load_settings

        return load_settings().stream_url

    async def run(self) -> AsyncIterator[TriggerEvent]:
        rule = FiringRule(self.refire_seconds)
        url = await asyncio.to_thread(self.redis_url)  # the settings import duckdb: not on the triggerer's loop
        client: Any = None
        failures = 0
        try:
            while True:
                try:
                    if client is None:
                        client = redis.asyncio.Redis.from_url(url, decode_responses=True, protocol=2,
                                                              socket_connect_timeout=5, socket_timeout=10)
                    status = await read_status(client, self.stream, self.group, self.stalled_seconds)
                    reason = rule.decide(status, time.monotonic())
                    payload = await self.payload(client, status, reason) if reason else None
                except (redis.RedisError, OSError) as error:
                    failures += 1
                    if failures == 1:
                        self.log.warning("stream %s at %s: %s; trying again", self.stream, redacted(url),
                                         " ".join(str(error).split()) or type(error).__name__)
                    if client is not None:
                        await client.aclose()
                        client = None
                    await asyncio.sleep(min(MAX_BACKOFF, self.poll_interval * 2 ** failures))
                    continue
                if failures:
                    self.log.info("stream %s at %s answers again", self.stream, redacted(url))
                    failures = 0
                if payload is not None:
                    self.log.info("stream %s: %s", self.stream, payload)
                    yield TriggerEvent(payload)
                await asyncio.sleep(self.poll_interval)
        finally:
            if client is not None:
                await client.aclose()

    async def payload(self, client: Any, status: GroupStatus, reason: str) -> dict[str, Any]:
        """What the event carries: the lag now (entries unread, read and unacknowledged, their sum, the oldest
        one's age in seconds from its id and Redis's clock)."""
        firsts = []
        if status.unacknowledged:
            summary = await client.xpending(self.stream, self.group)
            if summary.get("min"):
                firsts.append(summary["min"])
        if status.waiting:
            first = await client.xrange(self.stream, min=f"({status.delivered}", max="+", count=1)
            firsts += [entry_id for entry_id, _ in first[:1]]
        seconds, micros = await client.time()
        oldest = min((entry_millis(entry_id) for entry_id in firsts), default=None)
        age = None if oldest is None else round(max(0.0, seconds + micros / 1e6 - oldest / 1000), 3)
        pending = None if status.unread is None else status.unread + status.unacknowledged
        return {"stream": self.stream, "group": self.group, "reason": reason, "pending": pending,
                "unread": status.unread, "unacknowledged": status.unacknowledged, "oldest_pending_seconds": age,
                "last_delivered_id": status.delivered,
                "measured_at": dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None).isoformat()}


async def read_status(client: Any, stream: str, group: str, stalled_seconds: float) -> GroupStatus:
    """The group's position, lag and pending list; a missing stream or group is one with nothing read."""
    try:
        groups = await client.xinfo_groups(stream)
    except redis.ResponseError as error:
        if "no such key" not in str(error).lower():
            raise
        return GroupStatus("0-0", "#0", 0, False, 0)
    info = next((g for g in groups if g["name"] == group), None)
    if info is None:  # the first run creates the group at id 0: everything in the stream waits for it
        length = int(await client.xlen(stream))
        return GroupStatus("0-0", f"#{length}", length, length > 0, 0)
    delivered = info["last-delivered-id"]
    lag, read = info.get("lag"), info.get("entries-read")
    if lag is not None:  # entries-read is None until the group has read (or after a group id was set)
        unread: int | None = int(lag)
        added, waiting = f"#{int(read or 0) + int(lag)}", int(lag) > 0
    else:  # Redis cannot count the lag (entries deleted in the unread range): compare ids
        last = (await client.xinfo_stream(stream))["last-generated-id"]
        unread, added, waiting = None, last, entry_key(last) > entry_key(delivered)
    unacknowledged = int(info.get("pending") or 0)
    stalled = None
    if unacknowledged:
        idle = await client.xpending_range(stream, group, min="-", max="+", count=1,
                                           idle=max(1, int(stalled_seconds * 1000)))
        if idle:
            stalled = (idle[0]["message_id"], int(idle[0]["times_delivered"]))
    return GroupStatus(delivered, added, unread, waiting, unacknowledged, stalled)


def entry_key(entry_id: str) -> tuple[int, int]:
    millis, _, sequence = entry_id.partition("-")
    return int(millis), int(sequence or 0)


def entry_millis(entry_id: str) -> int:
    return entry_key(entry_id)[0]


def redacted(url: str) -> str:
    """A Redis URL without its password, for log lines."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
