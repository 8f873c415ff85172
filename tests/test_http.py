"""The polite HTTP client against a real local server with faults (127.0.0.1 only)."""

from __future__ import annotations

import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.sources.http import HttpPolicy, PoliteClient

PAGE = b"<html><body><p>Hello news</p></body></html>"


class FaultHandler(BaseHTTPRequestHandler):
    hits: dict[str, int] = {}

    def log_message(self, *args):
        pass

    def do_GET(self):
        FaultHandler.hits[self.path] = FaultHandler.hits.get(self.path, 0) + 1
        route = getattr(self, "route_" + self.path.strip("/").replace("-", "_").replace(".", "_") or "root", None)
        if route is None:
            self.reply(404, b"not found")
        else:
            route()

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route_robots_txt(self):
        self.reply(200, b"User-agent: *\nDisallow: /private\n", [("Content-Type", "text/plain")])

    def route_ok(self):
        self.reply(200, PAGE, [("Content-Type", "text/html; charset=utf-8"), ("ETag", '"v1"')])

    def route_private(self):
        self.reply(200, PAGE)

    def route_etag(self):
        if self.headers.get("If-None-Match") == '"v1"':
            self.reply(304)
        else:
            self.reply(200, PAGE, [("ETag", '"v1"'), ("Last-Modified", "Mon, 02 Nov 2026 10:00:00 GMT")])

    def route_flaky(self):
        if FaultHandler.hits[self.path] < 3:
            self.reply(503, b"busy")
        else:
            self.reply(200, PAGE)

    def route_always_500(self):
        self.reply(500, b"broken")

    def route_rate_limited(self):
        if FaultHandler.hits[self.path] == 1:
            self.reply(429, b"slow down", [("Retry-After", "1")])
        else:
            self.reply(200, PAGE)

    def route_slow(self):
        time.sleep(2)
        self.reply(200, PAGE)

    def route_huge(self):
        self.reply(200, b"x" * 300_000, [("Content-Type", "text/html")])

    def route_bomb(self):
        self.reply(200, gzip.compress(b"\0" * 5_000_000), [("Content-Encoding", "gzip"), ("Content-Type", "text/html")])

    def route_loop(self):
        self.reply(302, headers=[("Location", "/loop")])

    def route_hop(self):
        self.reply(301, headers=[("Location", "/ok")])

    def route_escape(self):
        self.reply(302, headers=[("Location", "http://169.254.169.254/latest/meta-data")])


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FaultHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def client():
    policy = HttpPolicy(timeout=1.0, max_bytes=100_000, max_redirects=3, retries=2, backoff=0.05,
                        per_host_delay=0.0, allowed_hosts=frozenset({"127.0.0.1"}))
    with PoliteClient(policy) as polite:
        yield polite


def test_ok_page_with_validators(client, server):
    result = client.fetch(f"{server}/ok")
    assert (result.status, result.content, result.content_type, result.etag) == (200, PAGE, "text/html", '"v1"')
    assert result.problem is None


def test_conditional_get_gives_not_modified(client, server):
    first = client.fetch(f"{server}/etag")
    again = client.fetch(f"{server}/etag", etag=first.etag, last_modified=first.last_modified)
    assert again.not_modified and again.content == b""


def test_robots_disallow_is_honoured(client, server):
    assert client.fetch(f"{server}/private").problem == "refused: disallowed by robots.txt"


def test_retries_5xx_then_succeeds(client, server):
    assert client.fetch(f"{server}/flaky").status == 200


def test_gives_up_after_the_retries(client, server):
    result = client.fetch(f"{server}/always-500")
    assert result.status == 500 and result.problem.startswith("HTTP 500")


def test_429_waits_for_retry_after(client, server):
    start = time.monotonic()
    assert client.fetch(f"{server}/rate-limited").status == 200
    assert time.monotonic() - start >= 0.9


def test_slow_response_times_out(client, server):
    assert client.fetch(f"{server}/slow").problem == "timeout after 1 s"


def test_huge_body_is_cut_at_the_cap(client, server):
    result = client.fetch(f"{server}/huge")
    assert result.problem == "too large: over 100000 bytes" and len(result.content) == 100_000


def test_decompression_bomb_is_cut_at_the_cap(client, server):
    assert client.fetch(f"{server}/bomb").problem == "too large: over 100000 bytes"


def test_redirects_followed_and_loops_stopped(client, server):
    assert client.fetch(f"{server}/hop").final_url == f"{server}/ok"
    assert client.fetch(f"{server}/loop").problem == "too many redirects (over 3)"


def test_redirect_to_a_private_address_is_refused(client, server):
    assert "non-public address" in client.fetch(f"{server}/escape").problem


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "http://127.0.0.1:9/x"])
def test_non_http_and_private_targets_are_refused_by_default(url):
    with PoliteClient(HttpPolicy(per_host_delay=0.0)) as default:
        assert default.fetch(url).problem.startswith("refused:")


def test_per_host_delay_spaces_requests(server):
    policy = HttpPolicy(per_host_delay=0.3, allowed_hosts=frozenset({"127.0.0.1"}), obey_robots=False)
    with PoliteClient(policy) as polite:
        start = time.monotonic()
        for _ in range(3):
            polite.fetch(f"{server}/ok")
        assert time.monotonic() - start >= 0.6
