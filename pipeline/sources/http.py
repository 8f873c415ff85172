"""Polite, safe HTTP for fetching news: robots.txt, per-host delay, retries, size caps, SSRF guard.

Every outcome is a `Fetched` value, never an exception, so the caller can put it in the ledger:
`problem` says why nothing usable came back (refused, robots, timeout, too large, HTTP 404, ...).
Redirects are followed by hand, one hop at a time, so every hop passes the same address check.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpx
from protego import Protego

USER_AGENT = "news-pipeline/0.1 (+https://github.com/; polite news ingestion)"
RETRY_STATUSES = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class HttpPolicy:
    user_agent: str = USER_AGENT
    timeout: float = 10.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    retries: int = 2
    backoff: float = 0.5
    max_retry_after: float = 30.0
    per_host_delay: float = 1.0
    obey_robots: bool = True
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Fetched:
    url: str
    final_url: str | None = None
    status: int | None = None
    content: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    problem: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class PoliteClient:
    """One client per fetch task: it remembers robots.txt rules and the last request time per host."""

    def __init__(self, policy: HttpPolicy | None = None, transport: httpx.BaseTransport | None = None):
        self.policy = policy or HttpPolicy()
        self._client = httpx.Client(timeout=self.policy.timeout, follow_redirects=False, transport=transport,
                                    headers={"User-Agent": self.policy.user_agent})
        self._robots: dict[str, Protego | None] = {}
        self._last_request: dict[str, float] = {}

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        headers = {k: v for k, v in (("If-None-Match", etag), ("If-Modified-Since", last_modified)) if v}
        current = url
        for _ in range(self.policy.max_redirects + 1):
            refusal = self.refusal(current)
            if refusal:
                return Fetched(url, current, problem=refusal)
            result = self._get_with_retries(url, current, headers)
            location = result.final_url if result.status in {301, 302, 303, 307, 308} else None
            if not location:
                return result
            current = location
        return Fetched(url, current, problem=f"too many redirects (over {self.policy.max_redirects})")

    def refusal(self, url: str) -> str | None:
        """Why this URL must not be fetched, or None: scheme, private address, robots.txt."""
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            return f"refused: not an http(s) URL: {url[:200]}"
        if parts.hostname not in self.policy.allowed_hosts:
            blocked = _private_address(parts.hostname)
            if blocked:
                return f"refused: {parts.hostname} resolves to a non-public address ({blocked})"
        if self.policy.obey_robots and not self._robots_allow(url):
            return "refused: disallowed by robots.txt"
        return None

    def _get_with_retries(self, url: str, current: str, headers: dict) -> Fetched:
        attempt = 0
        while True:
            result = self._get_once(url, current, headers)
            if result.status not in RETRY_STATUSES or attempt >= self.policy.retries:
                return result
            attempt += 1
            time.sleep(self._retry_delay(result, attempt))

    def _retry_delay(self, result: Fetched, attempt: int) -> float:
        retry_after = _retry_after_seconds(result.problem)
        delay = retry_after if retry_after is not None else self.policy.backoff * 2 ** (attempt - 1)
        return min(delay, self.policy.max_retry_after)

    def _get_once(self, url: str, current: str, headers: dict) -> Fetched:
        self._wait_for_host(current)
        try:
            with self._client.stream("GET", current, headers=headers) as response:
                return self._read(url, current, response)
        except httpx.TimeoutException:
            return Fetched(url, current, problem=f"timeout after {self.policy.timeout:g} s")
        except httpx.HTTPError as error:
            return Fetched(url, current, problem=f"network error: {type(error).__name__}: {error}"[:300])

    def _read(self, url: str, current: str, response: httpx.Response) -> Fetched:
        status = response.status_code
        if status in {301, 302, 303, 307, 308}:
            target = response.headers.get("location")
            if not target:
                return Fetched(url, current, status, problem=f"HTTP {status} without a Location")
            return Fetched(url, urljoin(current, target), status)
        common = {"final_url": current, "status": status,
                  "content_type": response.headers.get("content-type", "").split(";")[0].strip().lower(),
                  "etag": response.headers.get("etag"), "last_modified": response.headers.get("last-modified")}
        if status == 304:
            return Fetched(url, **common)
        if status >= 400:
            problem = f"HTTP {status}"
            if status == 429 or status >= 500:
                problem += f"; retry-after={response.headers.get('retry-after', '')}"
            return Fetched(url, **common, problem=problem)
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > self.policy.max_bytes:
                return Fetched(url, **common, content=bytes(body[: self.policy.max_bytes]),
                               problem=f"too large: over {self.policy.max_bytes} bytes")
        return Fetched(url, **common, content=bytes(body))

    def _wait_for_host(self, url: str) -> None:
        host = urlsplit(url).netloc
        wait = self._last_request.get(host, 0.0) + self.policy.per_host_delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_request[host] = time.monotonic()

    def _robots_allow(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._robots:
            self._robots[origin] = self._load_robots(origin)
        rules = self._robots[origin]
        return rules is None or rules.can_fetch(url, self.policy.user_agent)

    def _load_robots(self, origin: str) -> Protego | None:
        """No robots.txt (or an unreadable one) allows everything, as crawlers conventionally read it."""
        result = self._get_once(origin, f"{origin}/robots.txt", {})
        if result.status != 200 or result.problem:
            return None
        return Protego.parse(result.content.decode("utf-8", errors="replace"))


def _private_address(host: str) -> str | None:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        return None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            return str(address)
    return None


def _retry_after_seconds(problem: str | None) -> float | None:
    """Retry-After as seconds or an HTTP date; carried in `problem` as 'retry-after=VALUE'."""
    value = (problem or "").partition("retry-after=")[2].strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
