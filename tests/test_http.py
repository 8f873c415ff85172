"""The polite HTTP client against a real local server with faults (127.0.0.1 only)."""

from __future__ import annotations

import time

import httpx
import pytest

from pipeline.sources.http import Fetched, HttpPolicy, PoliteClient
from tests.support.local_site import article_html, serve, stop

PAGE = article_html("/ok")


@pytest.fixture(scope="module")
def site():
    """The fault site of `tests/support/local_site.py` (`tools/bench_fetch.py --faults` prints its fault table)."""
    httpd, base = serve()
    yield httpd, base
    stop(httpd)


@pytest.fixture(scope="module")
def server(site):
    return site[1]


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


def test_truncated_body_is_a_network_error(client, server):
    assert client.fetch(f"{server}/truncated").problem.startswith("network error: RemoteProtocolError")


def test_content_type_is_reported_for_the_caller_to_judge(client, server):
    result = client.fetch(f"{server}/wrong-type")
    assert (result.status, result.content_type, result.problem) == (200, "application/json", None)


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


@pytest.fixture
def deadline_client():
    """A request deadline of 2 s, well under the per-read timeout: only the deadline can end a drip."""
    policy = HttpPolicy(timeout=5.0, request_deadline=2.0, retries=2, per_host_delay=0.0,
                        allowed_hosts=frozenset({"127.0.0.1"}))
    with PoliteClient(policy) as polite:
        yield polite


@pytest.mark.parametrize("path", ["/drip", "/drip-headers"])
def test_a_dripping_server_is_cut_at_the_request_deadline(deadline_client, server, path):
    result = deadline_client.fetch(f"{server}{path}")
    assert (result.problem, result.transient) == ("timeout: request took over 2 s", True)


def test_no_retry_is_waited_for_past_the_request_deadline(site):
    """A backoff longer than the deadline: the 500 stands after one attempt (counted by the server)."""
    httpd, server = site
    policy = HttpPolicy(request_deadline=1.0, retries=2, backoff=5.0, per_host_delay=0.0,
                        allowed_hosts=frozenset({"127.0.0.1"}), obey_robots=False)
    hits = httpd.hits
    before = hits.get("/always-500", 0)
    with PoliteClient(policy) as polite:
        result = polite.fetch(f"{server}/always-500")
    assert result.status == 500 and result.transient
    assert hits["/always-500"] == before + 1


def test_after_the_run_deadline_nothing_is_requested(site):
    httpd, server = site
    before = dict(httpd.hits)
    policy = HttpPolicy(run_deadline=0.0, per_host_delay=0.0, allowed_hosts=frozenset({"127.0.0.1"}))
    with PoliteClient(policy) as polite:
        result = polite.fetch(f"{server}/ok")
    assert (result.problem, result.transient) == ("not fetched: run deadline of 0 s reached", True)
    assert httpd.hits == before


@pytest.mark.parametrize("url", ["http://[::1/x", "http://[zz]/", "http://[::1]:99999/x", "https://xn--/",
                                 "http://a\x00b/"])
def test_an_invalid_url_is_refused_not_raised(client, url):
    result = client.fetch(url)
    assert result.problem.startswith("refused: invalid URL") and not result.transient


def test_a_redirect_to_an_invalid_url_is_refused(client, server):
    result = client.fetch(f"{server}/bad-location")
    assert result.problem.startswith("refused: invalid URL in Location") and not result.transient


def test_any_exception_becomes_a_transient_problem():
    def broken(request):
        raise RuntimeError("transport bug")

    policy = HttpPolicy(per_host_delay=0.0, obey_robots=False, allowed_hosts=frozenset({"example.org"}))
    with PoliteClient(policy, transport=httpx.MockTransport(broken)) as polite:
        result = polite.fetch("http://example.org/x")
    assert (result.problem, result.transient) == ("unexpected error: RuntimeError: transport bug", True)


@pytest.mark.parametrize(("fetched", "transient"), [
    (Fetched("u", status=503, problem="HTTP 503; retry-after="), True),
    (Fetched("u", status=429, problem="HTTP 429; retry-after=1"), True),
    (Fetched("u", problem="network error: ConnectError: refused"), True),
    (Fetched("u", status=404, problem="HTTP 404"), False),
    (Fetched("u", status=200, problem="too large: over 10 bytes"), False),
    (Fetched("u", problem="refused: disallowed by robots.txt"), False),
    (Fetched("u", status=200), False),
])
def test_transient_means_a_retry_can_help(fetched, transient):
    assert fetched.transient is transient
