"""Fetch throughput and the fault table, measured against a local HTTP server (127.0.0.1 only).

`python -m pipeline.bench_fetch` serves generated article pages and an RSS feed listing them from a
threaded local server, and times the fetch stage (`fetch_plan`: poll the feed, fetch every page, plan
them into staging) with politeness off (no per-host delay, no robots.txt) and on (the default policy:
robots.txt, one request per host per second). `--faults` fetches every misbehaving route of the same
server through a real fetch run and prints, per scenario, the ledger state and reason and the time the
fetch took. The tests in `tests/test_http.py`, `tests/test_fetch.py` use the same server, with its listing
routes too: a sitemap index of `server.n_child_sitemaps` children, unreadable, oversized and recovering feeds, a
feed with invalid IPv6 links, and a feed whose first page drips.
"""

from __future__ import annotations

import argparse
import gzip
import random
import tempfile
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pipeline.settings import load_settings

WORDS = ("council minister river bridge market bank inflation wages election parliament police court storm "
         "school hospital railway harbour festival museum farmers energy prices talks ceasefire border trade "
         "mayor strike union teachers doctors budget taxes housing rents airport flights weather flood drought "
         "harvest exports factory workers protest vote report inquiry company shares profits losses").split()
VERBS = "said announced warned agreed rejected approved delayed confirmed denied promised".split()

FAULTS = {
    "/ok": "200 HTML article",
    "/hop": "301 to /ok",
    "/flaky": "503, 503, then 200",
    "/rate-limited": "429 Retry-After: 1, then 200",
    "/always-500": "500 on every attempt",
    "/slow": "answers after 2 s",
    "/drip": "200, then the body at 1 byte/s",
    "/drip-headers": "the headers at 1 byte/s",
    "/truncated": "Content-Length 5000, 100 bytes, then closed",
    "/huge": "300,000-byte body",
    "/bomb": "gzip bomb: 5 MB of zeros",
    "/loop": "302 to itself",
    "/escape": "302 to 169.254.169.254",
    "/bad-location": "302 to http://[::1/x (invalid IPv6)",
    "/private": "disallowed by robots.txt",
    "/missing": "404",
    "/wrong-type": "200 application/json",
}


DRIP_BYTES = 600
"""How long (in bytes, at one a second) the drip routes go on when nobody hangs up."""
CHILD_SITEMAP_PAGES = 2
"""Article pages listed by each child sitemap of /sitemap-index.xml."""


def rss(links: list[str]) -> bytes:
    items = "".join(f"<item><title>Article {n}</title><link>{link}</link></item>" for n, link in enumerate(links))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Local</title>{items}</channel></rss>'.encode()


def article_html(key: str) -> bytes:
    """A distinct, dated news page for `key`: random sentences, so no two pages are near-duplicates."""
    rng = random.Random(key)

    def sentence() -> str:
        words = rng.sample(WORDS, 10)
        return f"The {words[0]} {rng.choice(VERBS)} on Monday that the {' '.join(words[1:])} would change."

    paragraphs = "".join(f"<p>{' '.join(sentence() for _ in range(4))}</p>" for _ in range(5))
    title = " ".join(rng.sample(WORDS, 5)).capitalize()
    return (f'<html><head><title>{title} | Local News</title><meta property="article:published_time" '
            f'content="2026-03-0{rng.randint(1, 9)}T10:00:00Z"></head><body><article><h1>{title}</h1>'
            f"{paragraphs}</article></body></html>").encode()


class LocalNewsSite(BaseHTTPRequestHandler):
    """Generated articles under /a/N.html, a feed of the first `server.n_articles`, and the fault routes."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        hits = self.server.hits
        hits[self.path] = hits.get(self.path, 0) + 1
        if self.path.startswith("/a/"):
            return self.reply(200, article_html(self.path), [("Content-Type", "text/html; charset=utf-8")])
        if self.path.startswith("/sitemaps/"):
            return self.child_sitemap(self.path.removeprefix("/sitemaps/").removesuffix(".xml"))
        route = getattr(self, "route_" + self.path.strip("/").replace("-", "_").replace(".", "_"), None)
        if route is None:
            return self.reply(404, b"not found")
        return route()

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (the slow route's purpose) or stopped reading at its size cap

    def base(self) -> str:
        return f"http://{self.headers['Host']}"

    def route_robots_txt(self):
        self.reply(200, b"User-agent: *\nDisallow: /private\n", [("Content-Type", "text/plain")])

    def route_feed_xml(self):
        links = [f"{self.base()}/a/{n}.html" for n in range(self.server.n_articles)]
        self.reply(200, rss(links), [("Content-Type", "application/rss+xml")])

    def route_faults_txt(self):
        self.reply(200, "".join(f"{self.base()}{path}\n" for path in FAULTS).encode(), [("Content-Type", "text/plain")])

    def route_ok(self):
        self.reply(200, article_html("/ok"), [("Content-Type", "text/html; charset=utf-8"), ("ETag", '"v1"')])

    def route_private(self):
        self.reply(200, article_html("/private"), [("Content-Type", "text/html")])

    def route_etag(self):
        if self.headers.get("If-None-Match") == '"v1"':
            self.reply(304)
        else:
            self.reply(200, article_html("/etag"),
                       [("ETag", '"v1"'), ("Last-Modified", "Mon, 02 Nov 2026 10:00:00 GMT")])

    def route_flaky(self):
        if self.server.hits[self.path] < 3:
            self.reply(503, b"busy")
        else:
            self.reply(200, article_html("/flaky"), [("Content-Type", "text/html")])

    def route_always_500(self):
        self.reply(500, b"broken")

    def route_rate_limited(self):
        if self.server.hits[self.path] == 1:
            self.reply(429, b"slow down", [("Retry-After", "1")])
        else:
            self.reply(200, article_html("/rate-limited"), [("Content-Type", "text/html")])

    def route_slow(self):
        time.sleep(2)
        self.reply(200, article_html("/slow"), [("Content-Type", "text/html")])

    def route_truncated(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "5000")
        self.end_headers()
        self.wfile.write(article_html("/truncated")[:100])
        self.close_connection = True

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

    def route_drip(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(DRIP_BYTES))
        self.end_headers()
        self.drip(b"x" * DRIP_BYTES)

    def route_drip_headers(self):
        self.drip(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Padding: " + b"x" * DRIP_BYTES)

    def drip(self, data: bytes):
        """One byte a second: each read gets something, so no per-read timeout ever fires."""
        self.close_connection = True
        try:
            for byte in data:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(1)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up at its deadline

    def route_bad_location(self):
        self.reply(302, headers=[("Location", "http://[::1/x")])

    def route_sitemap_index_xml(self):
        """An index of `server.n_child_sitemaps` children (50,000 by default: the most a sitemap index may list)."""
        self.reply(200, sitemap_index(f"{self.base()}/sitemaps/{n}.xml" for n in range(self.server.n_child_sitemaps)),
                   [("Content-Type", "application/xml"), ("ETag", '"index-v1"')])

    def route_nested_index_xml(self):
        """An index whose second child is an index again (of 50,000 children)."""
        self.reply(200, sitemap_index([f"{self.base()}/sitemaps/0.xml", f"{self.base()}/sitemap-index.xml"]),
                   [("Content-Type", "application/xml")])

    def child_sitemap(self, number: str):
        pages = "".join(f"<url><loc>{self.base()}/a/sitemap-{number}-{k}.html</loc></url>"
                        for k in range(CHILD_SITEMAP_PAGES))
        body = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{pages}</urlset>'
        self.reply(200, body.encode(), [("Content-Type", "application/xml")])

    def route_invalid_feed_xml(self):
        self.reply(200, b"\x00\x01 this is not a feed <<<", [("Content-Type", "application/rss+xml")])

    def route_huge_feed_xml(self):
        """Over the 100,000-byte cap of the tests' policy, though every byte of it is a valid feed."""
        self.reply(200, rss([f"{self.base()}/a/huge-{n}.html" for n in range(3000)]),
                   [("Content-Type", "application/rss+xml")])

    def route_recovering_feed_xml(self):
        """As `server.feed_health` says: "unreadable" (the default), "down" (503) or "repaired"."""
        if self.server.feed_health == "down":
            return self.reply(503, b"down for maintenance")
        if self.server.feed_health == "repaired":
            return self.reply(200, rss([f"{self.base()}/a/repaired.html"]), [("Content-Type", "application/rss+xml")])
        self.route_invalid_feed_xml()

    def route_ipv6_feed_xml(self):
        """One good link and two that urlsplit and httpx refuse to parse."""
        self.reply(200, rss([f"{self.base()}/a/v6.html", "http://[::1/x", "http://[zz]/"]),
                   [("Content-Type", "application/rss+xml")])

    def route_drip_feed_xml(self):
        """A page that drips, then two good ones: a run deadline shorter than the drip leaves those unfetched."""
        self.reply(200, rss([f"{self.base()}/drip", f"{self.base()}/a/late-1.html", f"{self.base()}/a/late-2.html"]),
                   [("Content-Type", "application/rss+xml")])

    def route_wrong_type(self):
        self.reply(200, b'{"title": "not a page"}', [("Content-Type", "application/json")])


def sitemap_index(locations) -> bytes:
    children = "".join(f"<sitemap><loc>{location}</loc></sitemap>" for location in locations)
    return (f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{children}'
            "</sitemapindex>").encode()


def serve(n_articles: int = 0, n_child_sitemaps: int = 50_000) -> tuple[ThreadingHTTPServer, str]:
    """Start the site on a free port of 127.0.0.1 in a daemon thread; returns the server and its base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), LocalNewsSite)
    httpd.hits, httpd.n_articles, httpd.n_child_sitemaps = {}, n_articles, n_child_sitemaps
    httpd.feed_health = "unreadable"
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def stop(httpd: ThreadingHTTPServer) -> None:
    httpd.shutdown()
    httpd.server_close()


def fetch_rate(n_pages: int, policy, root: Path) -> tuple[int, int, float]:
    """Pages planned, pages that came back without a problem, and seconds taken by `fetch_plan`."""
    from pipeline import staging
    from pipeline.sources.fetch import Source
    from pipeline.stages import fetch_plan

    httpd, base = serve(n_pages)
    try:
        start = time.perf_counter()
        plan = fetch_plan([Source("bench", "feed", f"{base}/feed.xml")], load_settings().under(root), "bench", policy)
        seconds = time.perf_counter() - start
    finally:
        stop(httpd)
    clean = sum(staging.read(batch).column("problem").null_count for batch in plan.batches)
    return plan.n_inputs, clean, seconds


def fault_table(root: Path) -> list[tuple[str, str, str, str, float]]:
    """(route, behaviour, ledger state, reason, seconds) for every fault route, through a real fetch run."""
    from pipeline.sources.fetch import Source, fetch_documents
    from pipeline.sources.http import HttpPolicy, PoliteClient
    from pipeline.stages import load_planned, plan_docs, process_batch
    from pipeline.store import query

    class TimedClient(PoliteClient):
        def __init__(self, policy):
            super().__init__(policy)
            self.seconds: dict[str, float] = {}

        def fetch(self, url, etag=None, last_modified=None):
            start = time.perf_counter()
            try:
                return super().fetch(url, etag=etag, last_modified=last_modified)
            finally:
                self.seconds[url] = time.perf_counter() - start

    policy = HttpPolicy(timeout=1.5, max_bytes=100_000, max_redirects=3, per_host_delay=0.0, request_deadline=2.0,
                        allowed_hosts=frozenset({"127.0.0.1"}))
    settings = load_settings().under(root)
    httpd, base = serve()
    client = TimedClient(policy)
    try:
        docs, _ = fetch_documents([Source("faults", "urls", f"{base}/faults.txt")], client, {}, skip=lambda keys: set())
    finally:
        client.close()
        stop(httpd)
    plan = plan_docs(docs, settings, "faults", f"{base}/faults.txt")
    load_planned(plan, [process_batch(batch, settings) for batch in plan.batches], settings)
    _, rows = query(settings.db_path, "SELECT source_uri, state, reason FROM ingest_log WHERE run_id = 'faults'")
    ledger = {uri.removeprefix(base): (state, reason or "") for uri, state, reason in rows}
    return [(path, behaviour, *ledger[path], client.seconds[base + path]) for path, behaviour in FAULTS.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="news-bench-fetch")
    parser.add_argument("-n", "--pages", type=int, default=500, help="pages fetched with politeness off")
    parser.add_argument("--polite-pages", type=int, default=20,
                        help="pages fetched with politeness on (about one a second from one host)")
    parser.add_argument("--faults", action="store_true", help="print the fault table instead")
    args = parser.parse_args(argv)

    from pipeline.sources.http import HttpPolicy

    with tempfile.TemporaryDirectory(prefix="news-bench-fetch-") as tmp:
        if args.faults:
            print(f"{'route':14} {'server behaviour':44} {'state':9} {'seconds':>7}  reason")
            for path, behaviour, state, reason, seconds in fault_table(Path(tmp)):
                print(f"{path:14} {behaviour:44} {state:9} {seconds:7.2f}  {reason[:90]}")
            return 0
        local = frozenset({"127.0.0.1"})
        policies = [("politeness off (delay 0, no robots.txt)", args.pages,
                     HttpPolicy(per_host_delay=0.0, obey_robots=False, allowed_hosts=local)),
                    ("politeness on (default: delay 1 s, robots.txt)", args.polite_pages,
                     replace(HttpPolicy(), allowed_hosts=local))]
        print(f"{'fetch stage (poll feed, fetch pages, plan)':48} {'pages':>6} {'ok':>6} {'seconds':>8} {'pages/s':>8}")
        for number, (label, n_pages, policy) in enumerate(policies):
            pages, clean, seconds = fetch_rate(n_pages, policy, Path(tmp) / str(number))
            print(f"{label:48} {pages:6d} {clean:6d} {seconds:8.2f} {pages / seconds:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
