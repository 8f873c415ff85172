"""The `news_fetch` DAG run through `dag.test()` against a real local HTTP server (127.0.0.1 only).

Runs for different logical dates are what `airflow backfill create` makes (one run id per date);
they re-poll the same server and must add nothing after the first.
"""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.store import query
from tests.conftest import REPO
from tests.support.local_site import feed_site, story_links, story_pages

DAGS = REPO / "dags"


@pytest.fixture(scope="module")
def fetch_dag():
    from airflow.dag_processing.dagbag import BundleDagBag

    return BundleDagBag(dag_folder=str(DAGS), bundle_path=DAGS).dags["news_fetch"]


@pytest.fixture
def newsroom():
    """Three dated articles and one link that is gone, listed in an RSS feed with an ETag."""
    with feed_site(story_pages(), lambda base: [*story_links(base), (f"{base}/gone.html", "Gone")]) as served:
        yield served


def run_at(dag, hour: int, base: str):
    """The run a scheduler or backfill makes for that hour: its run id is derived from the date."""
    when = dt.datetime(2026, 3, 1, hour, tzinfo=dt.UTC)
    return dag.test(logical_date=when, run_after=when,
                    run_conf={"urls": [f"{base}/feed.xml"], "allow_hosts": ["127.0.0.1"], "delay": 0})


def ledger(db, run_id):
    _, rows = query(db, "SELECT source_uri, state, reason FROM ingest_log WHERE run_id = ? ORDER BY ALL", [run_id])
    return rows


def test_fetch_dag_loads_the_feed_and_a_later_run_adds_nothing(fetch_dag, dag_db, newsroom):
    httpd, base = newsroom
    first = run_at(fetch_dag, 10, base)
    assert first.state == "success"
    _, articles = query(dag_db, "SELECT url, title, published_at FROM articles ORDER BY url")
    assert articles == [(f"{base}/news/{n}.html", f"Story {n}", dt.date(2019, 9, 23)) for n in range(3)]
    assert ledger(dag_db, first.run_id)[0] == (f"{base}/gone.html", "rejected", "HTTP 404")

    httpd.hits.clear()
    later = run_at(fetch_dag, 11, base)
    assert later.state == "success"
    assert (first.run_id, later.run_id) == ("manual__2026-03-01T10:00:00+00:00", "manual__2026-03-01T11:00:00+00:00")
    assert httpd.hits == ["/robots.txt", "/feed.xml"]
    _, runs = query(dag_db, "SELECT run_id, n_inputs, n_loaded FROM ingest_runs ORDER BY started_at")
    assert runs == [(first.run_id, 4, 3), (later.run_id, 0, 0)]
    _, failed_checks = query(dag_db, "SELECT count(*) FROM quality_results WHERE NOT success")
    assert failed_checks == [(0,)]
    assert list((dag_db.parent / "staging").iterdir()) == []


def test_running_a_fetch_run_again_rewrites_its_ledger_without_a_request(fetch_dag, dag_db, newsroom):
    httpd, base = newsroom
    first = run_at(fetch_dag, 10, base)
    before = ledger(dag_db, first.run_id)
    httpd.hits.clear()
    again = run_at(fetch_dag, 10, base)
    assert again.state == "success" and again.run_id == first.run_id
    assert httpd.hits == []
    assert ledger(dag_db, first.run_id) == before
    _, runs = query(dag_db, "SELECT n_inputs, n_loaded, n_rejected FROM ingest_runs")
    assert runs == [(4, 3, 1)]
