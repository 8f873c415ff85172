"""Local HTTP sites on 127.0.0.1 for the fetch tests and the fetch benchmark (`tools/bench_fetch.py`).

`serve` starts the fault site: generated article pages under /a/, an RSS feed of the first `n_articles`, one route
per misbehaviour a real site shows (`FAULTS`: redirects, 5xx, 429, slow and dripping answers, truncated, huge
and gzip-bomb bodies, robots.txt refusals) and the listing routes: a sitemap index of `server.n_child_sitemaps`
children, unreadable, oversized and recovering feeds, a feed with invalid IPv6 links, and a feed whose first page
drips. `feed_site` starts a small newsroom instead: given pages and an RSS feed of them with an ETag, a 503 page
and a JSON file, for the end-to-end fetch runs. Every request is counted in `server.hits`, so tests can assert
what was (not) fetched.
"""

from __future__ import annotations

import gzip
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


def rss(items: list[tuple[str, str]]) -> bytes:
    """An RSS 2.0 feed of (link, title) items."""
    entries = "".join(f"<item><title>{title}</title><link>{link}</link></item>" for link, title in items)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Local</title>{entries}</channel></rss>'.encode()


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


class FaultSite(BaseHTTPRequestHandler):
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
        # The client gave up waiting (the slow route's purpose) or stopped reading at its size cap.
        with suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def reply_feed(self, links: list[str]):
        self.reply(200, rss([(link, f"Article {n}") for n, link in enumerate(links)]),
                   [("Content-Type", "application/rss+xml")])

    def base(self) -> str:
        return f"http://{self.headers['Host']}"

    def route_robots_txt(self):
        self.reply(200, b"User-agent: *\nDisallow: /private\n", [("Content-Type", "text/plain")])

    def route_feed_xml(self):
        links = [f"{self.base()}/a/{n}.html" for n in range(self.server.n_articles)]
        self.reply_feed(links)

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
        self.reply_feed([f"{self.base()}/a/huge-{n}.html" for n in range(3000)])

    def route_recovering_feed_xml(self):
        """As `server.feed_health` says: "unreadable" (the default), "down" (503) or "repaired"."""
        if self.server.feed_health == "down":
            self.reply(503, b"down for maintenance")
        elif self.server.feed_health == "repaired":
            self.reply_feed([f"{self.base()}/a/repaired.html"])
        else:
            self.route_invalid_feed_xml()

    def route_ipv6_feed_xml(self):
        """One good link and two that urlsplit and httpx refuse to parse."""
        self.reply_feed([f"{self.base()}/a/v6.html", "http://[::1/x", "http://[zz]/"])

    def route_drip_feed_xml(self):
        """A page that drips, then two good ones: a run deadline shorter than the drip leaves those unfetched."""
        self.reply_feed([f"{self.base()}/drip", f"{self.base()}/a/late-1.html", f"{self.base()}/a/late-2.html"])

    def route_wrong_type(self):
        self.reply(200, b'{"title": "not a page"}', [("Content-Type", "application/json")])


def sitemap_index(locations) -> bytes:
    children = "".join(f"<sitemap><loc>{location}</loc></sitemap>" for location in locations)
    return (f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{children}'
            "</sitemapindex>").encode()


def serve(n_articles: int = 0, n_child_sitemaps: int = 50_000) -> tuple[ThreadingHTTPServer, str]:
    """Start the site on a free port of 127.0.0.1 in a daemon thread; returns the server and its base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FaultSite)
    httpd.hits, httpd.n_articles, httpd.n_child_sitemaps = {}, n_articles, n_child_sitemaps
    httpd.feed_health = "unreadable"
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def stop(httpd: ThreadingHTTPServer) -> None:
    httpd.shutdown()
    httpd.server_close()


ARTICLE = """<html><head><title>{title} | Local News</title>
<meta property="article:published_time" content="2019-09-23T10:00:00Z"></head>
<body><article><h1>{title}</h1><p>{text}</p></article></body></html>"""
TEXTS = [
    "Venezuelan President Nicolas Maduro said on Monday that he is going to Russia to meet President Vladimir "
    "Putin, the Kremlin confirmed, as talks on oil and trade continue in Moscow this week. " * 3,
    "Heavy rain flooded the old town overnight and the river rose two metres above its usual level, forcing "
    "the council to close three bridges and open emergency shelters in the school halls. " * 3,
    "The central bank left interest rates unchanged on Thursday, saying inflation had eased for a third month "
    "while wages kept rising faster than expected across most of the service industries. " * 3,
]


class FeedSite(BaseHTTPRequestHandler):
    """`server.pages` by path, an RSS feed of them at /feed.xml (304 to its ETag), robots.txt refusing /private/,
    a JSON file at /data.json and a page that is always busy (503) at /busy.html."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.hits.append(self.path)
        if self.path == "/robots.txt":
            return self.reply(200, b"User-agent: *\nDisallow: /private/\n", "text/plain")
        if self.path == "/feed.xml":
            if self.headers.get("If-None-Match") == '"feed-v1"':
                return self.reply(304, b"", "application/rss+xml")
            return self.reply(200, self.server.feed, "application/rss+xml", etag='"feed-v1"')
        if self.path in self.server.pages:
            return self.reply(200, self.server.pages[self.path], "text/html; charset=utf-8")
        if self.path == "/data.json":
            return self.reply(200, b"{}", "application/json")
        if self.path == "/busy.html":
            return self.reply(503, b"busy", "text/plain")
        return self.reply(404, b"missing", "text/plain")

    def reply(self, status, body, content_type, etag=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if etag:
            self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def feed_site(pages: dict[str, bytes],
              links: Callable[[str], list[tuple[str, str]]]) -> Iterator[tuple[ThreadingHTTPServer, str]]:
    """A local site serving `pages` and an RSS feed of `links(base_url)`; yields the server and its base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FeedSite)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.pages, httpd.feed, httpd.hits = pages, rss(links(base)), []
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield httpd, base
    finally:
        stop(httpd)


def story_pages() -> dict[str, bytes]:
    """Three dated articles on different subjects, at /news/0.html to /news/2.html."""
    return {f"/news/{n}.html": ARTICLE.format(title=f"Story {n}", text=text).encode() for n, text in enumerate(TEXTS)}


def story_links(base: str) -> list[tuple[str, str]]:
    return [(f"{base}/news/{n}.html", f"Story {n}") for n in range(3)]
