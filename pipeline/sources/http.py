"""Polite, safe HTTP for fetching news: robots.txt, per-host delay, retries, size caps, SSRF guard, deadlines.

Every outcome is a `Fetched` value, never an exception, so the caller can put it in the ledger:
`problem` says why nothing usable came back (refused, robots, timeout, too large, HTTP 404, ...) and
`transient` whether asking again later may help.
Redirects are followed by hand, one hop at a time, so every hop passes the same address check.

httpx's `timeout` bounds each network operation, not a request: a server sending a byte a second would hold a
request (and the run) as long as it liked. So every socket operation is also cut at the request's deadline
(`request_deadline`, wall clock, covering robots.txt, every redirect hop, retries and their waits, headers and
body), and once the run's deadline (`run_deadline`) has passed no new request starts.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx
from protego import Protego

USER_AGENT = "news-pipeline/0.1 (+https://github.com/; polite news ingestion)"
RETRY_STATUSES = {429, 500, 502, 503, 504}
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
HTTPX_INVALID_LOCATION = "Invalid URL in location header"
"""How httpx words a redirect to a URL it cannot parse: it raises while reading the response, before `_read`."""
TRANSIENT_PROBLEMS = ("timeout", "network error", "not fetched", "unexpected error")
"""How the problems that may go away by themselves begin: asking again later can help."""


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
    request_deadline: float = 30.0
    """Wall-clock seconds one `fetch` may take in all; `timeout` alone bounds each read, not the request."""
    run_deadline: float | None = None
    """Seconds after the client opens after which it starts no request (None: no limit); see `PoliteClient.fetch`."""


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

    @property
    def transient(self) -> bool:
        """Timeouts, network errors, an unreached run deadline, 429 and 5xx may go away, so the input fails and is
        retried; refusals (robots.txt, invalid or private URLs), other 4xx and oversize will not, so it is rejected."""
        if not self.problem:
            return False
        if self.problem.startswith(TRANSIENT_PROBLEMS):
            return True
        return self.status is not None and (self.status == 429 or self.status >= 500)


class PoliteClient:
    """One client per fetch task: it remembers robots.txt rules and the last request time per host.

    `transport` replaces the network (tests); the request deadline is then only checked between requests
    (redirect hops, retries), not inside one.
    """

    def __init__(self, policy: HttpPolicy | None = None, transport: httpx.BaseTransport | None = None):
        self.policy = policy or HttpPolicy()
        self._deadline = _Deadline()
        self._client = httpx.Client(timeout=self.policy.timeout, follow_redirects=False,
                                    transport=transport or _DeadlineTransport(self._deadline),
                                    headers={"User-Agent": self.policy.user_agent})
        self._robots: dict[str, Protego | None] = {}
        self._last_request: dict[str, float] = {}
        self._run_ends = None if self.policy.run_deadline is None else time.monotonic() + self.policy.run_deadline

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run_deadline_reached(self) -> bool:
        return self._run_ends is not None and time.monotonic() >= self._run_ends

    def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        """Never raises: one odd URL or server must not end the run, and every input needs its ledger row.

        After the run deadline nothing is requested; the page is `not fetched` (transient: the next run asks).
        """
        if self.run_deadline_reached():
            return Fetched(url, problem=f"not fetched: run deadline of {self.policy.run_deadline:g} s reached")
        self._deadline.start(self.policy.request_deadline)
        try:
            return self._follow(url, etag, last_modified)
        except Exception as error:  # noqa: BLE001 - any failure is an outcome of this URL, not of the run
            return Fetched(url, problem=f"unexpected error: {type(error).__name__}: {error}"[:300])
        finally:
            self._deadline.stop()

    def _follow(self, url: str, etag: str | None, last_modified: str | None) -> Fetched:
        headers = {k: v for k, v in (("If-None-Match", etag), ("If-Modified-Since", last_modified)) if v}
        current = url
        for _ in range(self.policy.max_redirects + 1):
            refusal = self.refusal(current)
            if refusal:
                return Fetched(url, current, problem=refusal)
            if self._deadline.passed():
                return self._over_deadline(url, current)
            result = self._get_with_retries(url, current, headers)
            location = result.final_url if result.status in REDIRECT_STATUSES and not result.problem else None
            if not location:
                return result
            current = location
        return Fetched(url, current, problem=f"too many redirects (over {self.policy.max_redirects})")

    def refusal(self, url: str) -> str | None:
        """Why this URL must not be fetched, or None: invalid URL, scheme, private address, robots.txt."""
        invalid = _invalid_url(url)
        if invalid:
            return f"refused: invalid URL ({invalid}): {url[:200]}"
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
        """A retry that would not start before the deadline is not waited for: the last answer stands."""
        attempt = 0
        while True:
            result = self._get_once(url, current, headers)
            if result.status not in RETRY_STATUSES or attempt >= self.policy.retries:
                return result
            attempt += 1
            delay = self._retry_delay(result, attempt)
            if self._deadline.left() <= delay:
                return result
            time.sleep(delay)

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
            if self._deadline.cut_short:
                return self._over_deadline(url, current)
            return Fetched(url, current, problem=f"timeout after {self.policy.timeout:g} s")
        except httpx.RemoteProtocolError as error:
            if str(error).startswith(HTTPX_INVALID_LOCATION):
                return Fetched(url, current, problem=f"refused: invalid URL in Location: {error}"[:300])
            return Fetched(url, current, problem=f"network error: {type(error).__name__}: {error}"[:300])
        except httpx.HTTPError as error:
            return Fetched(url, current, problem=f"network error: {type(error).__name__}: {error}"[:300])

    def _over_deadline(self, url: str, current: str) -> Fetched:
        return Fetched(url, current, problem=f"timeout: request took over {self.policy.request_deadline:g} s")

    def _read(self, url: str, current: str, response: httpx.Response) -> Fetched:
        status = response.status_code
        if status in REDIRECT_STATUSES:
            target = response.headers.get("location")
            if not target:
                return Fetched(url, current, status, problem=f"HTTP {status} without a Location")
            try:
                return Fetched(url, urljoin(current, target), status)
            except ValueError:  # httpx accepts a few URLs urlsplit cannot read, such as http://a]b/
                return Fetched(url, current, status, problem=f"refused: invalid URL in Location: {target[:200]}")
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


class _Deadline:
    """When the request under way must end; read by the sockets, so no read or write waits past it."""

    def __init__(self) -> None:
        self.ends: float | None = None
        self.cut_short = False
        """Whether an operation's timeout was shortened to the deadline, so a timeout now means the deadline."""

    def start(self, seconds: float) -> None:
        self.ends, self.cut_short = time.monotonic() + seconds, False

    def stop(self) -> None:
        self.ends = None

    def left(self) -> float:
        return float("inf") if self.ends is None else self.ends - time.monotonic()

    def passed(self) -> bool:
        return self.left() <= 0

    def clamp(self, timeout: float | None, timeout_error: type[Exception]) -> float | None:
        """The timeout for one socket operation: httpx's, or less when the deadline comes first."""
        if self.ends is None:
            return timeout
        left = self.left()
        if left <= 0:
            self.cut_short = True
            raise timeout_error("request deadline reached")
        if timeout is None or left < timeout:
            self.cut_short = True
            return left
        return timeout


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream, deadline: _Deadline):
        self._stream, self._deadline = stream, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._deadline.clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._deadline.clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        timeout = self._deadline.clamp(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout), self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's sockets, with every connect, read and write cut at the deadline of the request under way."""

    def __init__(self, deadline: _Deadline):
        self._sync, self._deadline = httpcore.SyncBackend(), deadline

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None) -> httpcore.NetworkStream:
        stream = self._sync.connect_tcp(host, port, self._deadline.clamp(timeout, httpcore.ConnectTimeout),
                                        local_address, socket_options)
        return _DeadlineStream(stream, self._deadline)

    def sleep(self, seconds: float) -> None:
        self._sync.sleep(seconds)


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's own transport over a connection pool on `_DeadlineBackend` (httpx takes no network backend itself).

    Passing a transport also turns off httpx's proxies from the environment: every request goes straight to the
    address the SSRF guard checked.
    """

    def __init__(self, deadline: _Deadline):
        super().__init__()
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(), keepalive_expiry=5.0,
                                             network_backend=_DeadlineBackend(deadline))


def _invalid_url(url: str) -> str | None:
    """What makes `url` unusable (an invalid IPv6 literal, port or host label), or None: urlsplit and httpx
    raise on these (a port only when read, an IDNA label when the host is decoded), and a retry cannot help."""
    try:
        _ = urlsplit(url).port, httpx.URL(url).host
    except (ValueError, httpx.InvalidURL) as error:
        return str(error)[:200] or type(error).__name__
    return None


def _private_address(host: str) -> str | None:
    """An unresolvable host is let through: the request then fails as a network error, as it should."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError):
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
