"""`news fetch` end to end against a real local HTTP server (127.0.0.1 only): feed -> pages -> DuckDB."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import pytest

from pipeline.sources.http import HttpPolicy, PoliteClient
from pipeline.sources.keys import content_digest
from pipeline.sources.web import WebListing, fetch_documents, load_listings
from pipeline.stages.fetch import fetch_pages, plan_fetched, snapshot_frontier
from pipeline.stages.run import run_fetch
from pipeline.store import query
from tests.conftest import REPO
from tests.support.local_site import CHILD_SITEMAP_PAGES, feed_site, serve, stop, story_links, story_pages
from tools.bench_fetch import fault_table


@pytest.fixture
def site():
    extra = [("/private/x.html", "Hidden"), ("/gone.html", "Gone"), ("/data.json", "Data"), ("/busy.html", "Busy")]
    with feed_site(story_pages(), lambda base: story_links(base) + [(base + path, t) for path, t in extra]) as served:
        yield served


POLICY = HttpPolicy(per_host_delay=0.0, retries=0, timeout=2.0, allowed_hosts=frozenset({"127.0.0.1"}))


def test_fetch_loads_new_pages_and_accounts_every_failure(settings, site):
    httpd, base = site
    summary = run_fetch([WebListing("local", "feed", f"{base}/feed.xml")], settings, "f1", POLICY)
    assert (summary.n_inputs, summary.n_loaded, summary.n_rejected, summary.n_failed) == (7, 3, 3, 1)
    _, rows = query(settings.store, "SELECT url, title, published_at FROM articles ORDER BY url")
    assert [r[1] for r in rows] == ["Story 0", "Story 1", "Story 2"]
    assert all(str(r[2]) == "2019-09-23" and r[0].startswith(base) for r in rows)
    _, ledger = query(settings.store, "SELECT source_uri, state, reason FROM ingest_log WHERE state <> 'loaded'")
    reasons = {uri.rsplit("/", 1)[-1]: (state, reason) for uri, state, reason in ledger}
    assert reasons["x.html"] == ("rejected", "refused: disallowed by robots.txt")
    assert reasons["gone.html"] == ("rejected", "HTTP 404")
    assert reasons["data.json"] == ("rejected", "not an HTML page: content type 'application/json'")
    assert reasons["busy.html"][0] == "failed" and reasons["busy.html"][1].startswith("HTTP 503")
    assert f"{base}/private/x.html".replace(base, "") not in httpd.hits


def test_second_run_fetches_nothing_new_and_retries_what_failed(settings, site):
    httpd, base = site
    run_fetch([WebListing("local", "feed", f"{base}/feed.xml")], settings, "f1", POLICY)
    httpd.hits.clear()
    summary = run_fetch([WebListing("local", "feed", f"{base}/feed.xml")], settings, "f2", POLICY)
    assert httpd.hits == ["/robots.txt", "/feed.xml", "/busy.html"], "the 503 page is retried though the feed is 304"
    assert (summary.n_inputs, summary.n_failed) == (1, 1)
    _, rows = query(settings.store, "SELECT status, etag FROM fetch_state")
    assert rows == [(304, '"feed-v1"')]


def test_a_failing_page_is_tried_at_most_three_times(settings, site):
    httpd, base = site
    for run in ("f1", "f2", "f3", "f4"):
        httpd.hits.clear()
        run_fetch([WebListing("local", "feed", f"{base}/feed.xml")], settings, run, POLICY)
    assert "/busy.html" not in httpd.hits
    _, rows = query(settings.store, "SELECT count(*) FROM ingest_log WHERE source_uri LIKE '%/busy.html'")
    assert rows == [(3,)]


def test_the_network_step_reads_only_the_frontier_snapshot(settings, site, tmp_path):
    """`fetch_pages` runs outside the DAG's writer pool, so it must not open the store at all: here the
    store is unreachable while it runs, and it still skips what an earlier run settled."""
    httpd, base = site
    sources = [WebListing("local", "feed", f"{base}/feed.xml")]
    run_fetch(sources, settings, "f1", POLICY)
    snapshot_frontier(settings, "f2").known_states.unlink()  # poll the feed in full, not with conditional GET
    httpd.hits.clear()
    unreachable = settings.with_store(tmp_path / "no-such-folder" / "news.ducklake")
    fetch_pages(sources, unreachable, "f2", POLICY)
    assert not unreachable.store.home.parent.exists()
    assert httpd.hits == ["/robots.txt", "/feed.xml", "/busy.html"], "only the failed page is fetched again"
    assert plan_fetched(settings, "f2", source="local").n_inputs == 1


def test_an_unreachable_listing_is_a_failed_input(settings):
    summary = run_fetch([WebListing("nowhere", "feed", "http://127.0.0.1:9/feed.xml")], settings, "f1", POLICY)
    assert (summary.n_inputs, summary.n_failed) == (1, 1)


def test_the_shipped_sources_file_parses():
    sources = load_listings(REPO / "sources.yaml")
    assert sources and all(s.url.startswith("https://") for s in sources)


@pytest.fixture
def dev_site(shared_dir):
    root = shared_dir / "eval"
    rows = [json.loads(line) for line in (root / "pages.jsonl").open()]
    chosen = [r for r in rows if r["id"].startswith("fundus-") and r.get("publish_date")][:15]
    pages = {f"/{r['id']}.html": (root / r["html"]).read_bytes() for r in chosen}
    with feed_site(pages, lambda base: [(f"{base}/{r['id']}.html", r["title"]) for r in chosen]) as (_, base):
        yield base, chosen


def test_served_dev_pages_load_with_urls_titles_and_dates(settings, dev_site):
    base, chosen = dev_site
    summary = run_fetch([WebListing("dev", "feed", f"{base}/feed.xml")], settings, "dev", POLICY)
    assert summary.n_inputs == len(chosen) and summary.n_failed == 0
    _, rows = query(settings.store, "SELECT url, title, published_at FROM articles")
    assert len(rows) >= len(chosen) - 1
    expected = {f"{base}/{r['id']}.html": r["publish_date"] for r in chosen}
    dated = sum(1 for url, _, published in rows if published and str(published) == expected[url])
    assert all(title for _, title, _ in rows)
    assert dated >= 0.8 * len(rows)
    again = run_fetch([WebListing("dev", "feed", f"{base}/feed.xml")], settings, "dev2", POLICY)
    assert again.n_inputs == 0


def test_fetch_command_is_wired(settings, site, monkeypatch, capsys):
    from pipeline.cli import main

    _, base = site
    monkeypatch.setenv("NEWS_DATA_DIR", str(settings.store.home.parent))
    code = main(["fetch", "--url", f"{base}/feed.xml", "--allow-host", "127.0.0.1", "--delay", "0",
                 "--store", str(settings.store)])
    assert "loaded 3" in capsys.readouterr().out
    assert code == 0




def test_every_fault_scenario_ends_in_one_ledger_state_in_bounded_time(tmp_path):
    table = {path: (state, seconds) for path, _, state, _, seconds in fault_table(tmp_path)}
    states = {path: state for path, (state, _) in table.items()}
    assert sorted([states.pop("/ok"), states.pop("/hop")]) == ["duplicate", "loaded"]  # one article, two URLs
    assert states == {"/flaky": "loaded", "/rate-limited": "loaded", "/always-500": "failed", "/slow": "failed",
                      "/drip": "failed", "/drip-headers": "failed", "/truncated": "failed", "/huge": "rejected",
                      "/bomb": "rejected", "/loop": "rejected", "/escape": "rejected", "/bad-location": "rejected",
                      "/private": "rejected", "/missing": "rejected", "/wrong-type": "rejected"}
    assert max(seconds for _, seconds in table.values()) < 3


LISTING_POLICY = HttpPolicy(per_host_delay=0.0, retries=0, timeout=5.0, request_deadline=2.0, max_bytes=100_000,
                            allowed_hosts=frozenset({"127.0.0.1"}))
SITEMAP_POLICY = replace(LISTING_POLICY, max_bytes=10 * 1024 * 1024)
"""The 50,000-child index is 3.7 MB."""


@pytest.fixture
def fault_site():
    """The fault site of `tests/support/local_site.py`, with its listing routes; fresh, so its request counts are
    this test's."""
    httpd, base = serve()
    yield httpd, base
    stop(httpd)


def children_read(httpd) -> int:
    return sum(count for path, count in httpd.hits.items() if path.startswith("/sitemaps/"))


def fetch_listing(url: str, policy: HttpPolicy = LISTING_POLICY, settled: Callable[[str], bool] = lambda key: False,
                  **options):
    with PoliteClient(policy) as client:
        return fetch_documents([WebListing("bench", "sitemap", url)], client, {},
                               skip=lambda keys: {key for key in keys if settled(key)}, **options)


def test_a_huge_sitemap_index_is_read_up_to_its_bound_and_says_so(fault_site):
    httpd, base = fault_site
    docs, [state] = fetch_listing(f"{base}/sitemap-index.xml", SITEMAP_POLICY, max_child_sitemaps=3)
    assert children_read(httpd) == 3
    assert state.problem == "sitemap index lists 50,000 sitemaps; read the first 3"
    assert len(docs) == state.entries == 3 * CHILD_SITEMAP_PAGES and not any(doc.problem for doc in docs)
    assert state.etag == '"index-v1"', "the bound is the same every run: what it reads was read in full"


def test_the_walk_stops_once_max_pages_new_pages_are_known(fault_site):
    httpd, base = fault_site
    docs, [state] = fetch_listing(f"{base}/sitemap-index.xml", SITEMAP_POLICY, max_pages=5)
    assert children_read(httpd) == 3, "2 pages a child: 3 children give 6 >= 5"
    assert len(docs) == 5
    assert state.problem == "sitemap index lists 50,000 sitemaps; read the first 3: enough new pages for this run"
    assert state.etag is None, "pages were left over: the next poll must read the index again, not get a 304"


def test_settled_pages_do_not_count_towards_enough(fault_site):
    httpd, base = fault_site
    docs, _ = fetch_listing(f"{base}/sitemap-index.xml", SITEMAP_POLICY, max_pages=2,
                            settled=lambda key: "/sitemap-0-" in key or "/sitemap-1-" in key)
    assert children_read(httpd) == 3
    assert [doc.url for doc in docs] == [f"{base}/a/sitemap-2-{k}.html" for k in range(2)]


def test_an_index_inside_an_index_is_not_followed(fault_site):
    httpd, base = fault_site
    docs, [state] = fetch_listing(f"{base}/nested-index.xml", SITEMAP_POLICY)
    assert httpd.hits["/sitemap-index.xml"] == 1 and children_read(httpd) == 1
    assert state.problem == f"child sitemap {base}/sitemap-index.xml is a sitemap index itself; not followed"
    assert [doc.url for doc in docs] == [f"{base}/a/sitemap-0-{k}.html" for k in range(2)]


@pytest.mark.parametrize(("path", "problem", "size"), [("/invalid-feed.xml", "unreadable feed", 25),
                                                       ("/huge-feed.xml", "too large: over 100000 bytes", 100_000)])
def test_an_unusable_listing_is_rejected_with_its_bytes(fault_site, path, problem, size):
    _, base = fault_site
    [doc], [state] = fetch_listing(base + path)
    assert not doc.transient and doc.problem.startswith(f"listing bench: {problem}")
    assert len(doc.content) == size
    assert doc.doc_key == f"listing:{base}{path}#{content_digest(doc.content)[:16]}"
    assert state.problem.startswith(problem)


def test_a_listing_that_may_come_back_fails(fault_site):
    _, base = fault_site
    [doc], _ = fetch_listing(f"{base}/always-500")
    assert doc.transient and doc.doc_key == f"listing:{base}/always-500" and doc.problem.startswith("listing bench")


def test_a_listing_rejected_before_can_fail_and_then_be_read(settings, fault_site):
    """The rejected listing's key carries the digest of its bytes: only those bytes again are settled as rejected
    before. Keyed by its URL alone, the outage would be settled as that rejection, and not be polled again."""
    httpd, base = fault_site
    source = [WebListing("bench", "feed", f"{base}/recovering-feed.xml")]
    ledger = []
    for run_id, health in [("r1", "unreadable"), ("r2", "unreadable"), ("r3", "down"), ("r4", "repaired")]:
        httpd.feed_health = health
        run_fetch(source, settings, run_id, LISTING_POLICY)
        _, rows = query(settings.store, "SELECT source_uri, state FROM ingest_log WHERE run_id = ?", [run_id])
        ledger += [(run_id, uri.removeprefix(base), state) for uri, state in rows]
    assert ledger == [("r1", "/recovering-feed.xml", "rejected"), ("r2", "/recovering-feed.xml", "rejected"),
                      ("r3", "/recovering-feed.xml", "failed"), ("r4", "/a/repaired.html", "loaded")]


def test_invalid_ipv6_links_are_each_rejected_and_the_rest_of_the_feed_loads(settings, fault_site):
    _, base = fault_site
    summary = run_fetch([WebListing("bench", "feed", f"{base}/ipv6-feed.xml")], settings, "v6", LISTING_POLICY)
    assert (summary.n_inputs, summary.n_loaded, summary.n_rejected) == (3, 1, 2)
    _, rows = query(settings.store, "SELECT source_uri, doc_key, reason FROM ingest_log WHERE state = 'rejected' "
                                      "ORDER BY source_uri")
    assert [uri for uri, _, _ in rows] == ["http://[::1/x", "http://[zz]/"]
    assert all(key.startswith(f"url:{uri}#") for uri, key, _ in rows), "keyed by the raw string, uncanonicalisable"
    assert all(reason.startswith("refused: invalid URL") for _, _, reason in rows)


def test_after_the_run_deadline_every_listed_page_fails_unrequested_and_comes_back(settings, fault_site):
    httpd, base = fault_site
    source = [WebListing("bench", "feed", f"{base}/drip-feed.xml")]
    summary = run_fetch(source, settings, "d1", replace(LISTING_POLICY, run_deadline=1.0))
    assert (summary.n_inputs, summary.n_failed) == (3, 3)
    assert not [path for path in httpd.hits if path.startswith("/a/")]
    _, rows = query(settings.store, "SELECT source_uri, reason FROM ingest_log ORDER BY source_uri")
    assert rows == [(f"{base}/a/late-1.html", "not fetched: run deadline of 1 s reached"),
                    (f"{base}/a/late-2.html", "not fetched: run deadline of 1 s reached"),
                    (f"{base}/drip", "timeout: request took over 2 s")]
    later = run_fetch(source, settings, "d2", LISTING_POLICY)
    assert (later.n_loaded, later.n_failed) == (2, 1)
