"""The machine's Redis for stream tests: where it is, and a stream name of a test's own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

REDIS_URL = os.environ.get("NEWS_TEST_STREAM_URL", "redis://127.0.0.1:6379/0")


def redis_problem() -> str | None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        return f"no Redis at {REDIS_URL} ({error}); set NEWS_TEST_STREAM_URL or start redis-server"
    return None


def own_stream() -> Iterator[str]:
    """A stream name of its own, deleted with its groups at teardown; skips where Redis is absent."""
    problem = redis_problem()
    if problem:
        pytest.skip(problem)
    name = f"test:news:{uuid.uuid4().hex[:12]}"
    yield name
    redis.Redis.from_url(REDIS_URL).delete(name)
