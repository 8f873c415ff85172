"""Feeds, sitemaps and URL lists: inline examples, and the dev set's 62 real feeds when present."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import feedparser
import pytest

from pipeline.sources.discovery import parse_listing
from pipeline.sources.keys import url_doc_key

SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>https://example.org/world/1</loc><lastmod>2026-01-02</lastmod>
    <news:news><news:publication><news:name>Example</news:name><news:language>en</news:language></news:publication>
      <news:publication_date>2019-09-23T10:00:00+00:00</news:publication_date>
      <news:title>Maduro heads to Moscow</news:title></news:news></url>
  <url><loc>https://example.org/about</loc><lastmod>2026-01-02</lastmod></url>
</urlset>"""

INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://example.org/sitemap-news.xml</loc></sitemap>
</sitemapindex>"""

RSS_1251 = """<?xml version="1.0" encoding="windows-1251"?>
<rss version="2.0"><channel><title>Новости</title>
<item><title>Мадуро прибыл в Москву</title><link>https://example.ru/news/1</link>
<pubDate>Mon, 23 Sep 2019 10:00:00 +0300</pubDate></item>
</channel></rss>""".encode("windows-1251")


def test_google_news_sitemap_gives_urls_titles_and_only_real_publication_dates():
    listing = parse_listing(SITEMAP)
    assert listing.kind == "sitemap"
    first, second = listing.entries
    assert (first.url, first.title, first.published) == ("https://example.org/world/1", "Maduro heads to Moscow",
                                                         dt.date(2019, 9, 23))
    assert second.published is None


def test_sitemap_index_points_at_sitemaps():
    listing = parse_listing(INDEX)
    assert listing.kind == "sitemap_index" and listing.sitemaps == ("https://example.org/sitemap-news.xml",)


def test_feed_in_a_legacy_encoding():
    listing = parse_listing(RSS_1251)
    assert listing.title == "Новости"
    assert listing.entries[0].title == "Мадуро прибыл в Москву"
    assert listing.entries[0].published == dt.date(2019, 9, 23)


def test_url_list():
    listing = parse_listing(b"https://example.org/a\n\n# comment\nhttps://example.org/b\n")
    assert [e.url for e in listing.entries] == ["https://example.org/a", "https://example.org/b"]


def test_garbage_is_a_problem_not_an_exception():
    assert parse_listing(b"\x00\x01 not a feed").problem.startswith("unreadable feed")


def test_a_link_urljoin_cannot_read_is_kept_as_written_and_keyed_by_it():
    """`urljoin` raises ValueError on an invalid IPv6 literal: one such link must not lose the whole feed."""
    feed = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
            b"<item><link>/news/1</link></item><item><link>http://[::1/x</link></item>"
            b"<item><link>http://[zz]/</link></item></channel></rss>")
    listing = parse_listing(feed, base_url="https://example.org/feed.xml")
    assert [e.url for e in listing.entries] == ["https://example.org/news/1", "http://[::1/x", "http://[zz]/"]
    assert [url_doc_key(e.url) for e in listing.entries[1:]] == ["url:http://[::1/x", "url:http://[zz]/"]


@pytest.fixture
def dev_feeds(shared_dir):
    root = shared_dir / "eval"
    return root, [json.loads(line) for line in (root / "feeds.jsonl").open()]


def test_every_dev_feed_parses_and_real_news_feeds_give_every_linked_entry(dev_feeds):
    """Entries without a link (empty items of broken nesting) point at nothing and are skipped."""
    root, feeds = dev_feeds
    for feed in feeds:
        content = (root / feed["file"]).read_bytes()
        if feed.get("gzip"):
            content = gzip.decompress(content)
        listing = parse_listing(content)
        assert len(listing.entries) <= feed["entries"], feed["file"]
        if feed["kind"] == "real-news":
            linked = sum(1 for entry in feedparser.parse(content).entries if entry.get("link"))
            assert len(listing.entries) == linked >= feed["entries"] // 2, feed["file"]
            assert listing.title == (feed["channel_title"] or None), feed["file"]
            assert all(e.url.startswith(("http://", "https://")) for e in listing.entries), feed["file"]
