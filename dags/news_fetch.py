"""Web fetch, hourly: frontier -> fetch -> plan -> process (mapped) -> load -> validate -> report.

`frontier` copies from the store what fetching needs (settled pages, listing validators) to the run's
staging folder. `fetch` polls the feeds, sitemaps and URL lists of `sources.yaml` (or the `urls` Param) with
conditional GET and fetches the pages no earlier run settled (robots.txt, per-host delay, retries, size caps,
SSRF guard) into staging; it opens no database, so it runs outside the one-slot `duckdb_writer` pool and
other runs keep loading while it waits on the network. `plan` settles and batches the pages; from there the
run is the same as `news_ingest`'s (`news_tasks.py`).

The schedule is `@hourly`, or the cron expression or preset in `NEWS_FETCH_SCHEDULE` when the DAG file is
parsed. The DAG is paused on creation: it contacts other people's servers, so someone unpauses it on
purpose. Backfills re-poll the sources as they are now (the web keeps no past), adding only what is new.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import Param, dag, task
from news_tasks import DUCKDB_POOL, RUN_TIMEOUT, TASK_DEFAULTS, engine_settings, process_and_load, run_params

from pipeline.sources.registry import LISTING_KINDS

SOURCES_FILE = str(Path(__file__).resolve().parent.parent / "sources.yaml")
FETCH_SCHEDULE = os.environ.get("NEWS_FETCH_SCHEDULE") or "@hourly"


@dag(
    dag_id="news_fetch",
    schedule=FETCH_SCHEDULE,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,
    dagrun_timeout=RUN_TIMEOUT,
    default_args=TASK_DEFAULTS,
    max_active_runs=1,
    tags=["news", "web"],
    params={
        "sources_file": Param(SOURCES_FILE, type="string",
                              description="YAML file of feeds, sitemaps and URL lists to poll."),
        "urls": Param([], type="array", items={"type": "string"},
                      description="Listings to poll instead of the sources file (all of the kind below)."),
        "kind": Param(LISTING_KINDS[0], type="string", enum=list(LISTING_KINDS), description="Kind of every URL."),
        "max_pages": Param(200, type="integer", minimum=1, description="Fetch at most this many new pages."),
        "delay": Param(1.0, type="number", minimum=0,
                       description="Seconds between requests to one host (0 only for your own servers)."),
        "allow_hosts": Param([], type="array", items={"type": "string"},
                             description="Hosts allowed although they resolve to a private address."),
        "run_deadline": Param(1200, type="number", minimum=1,
                              description="Seconds after which fetch starts no new request; the pages left fail "
                                          "and are retried next run."),
        **run_params("Pages"),
    },
    doc_md=__doc__,
)
def news_fetch():
    @task
    def frontier(run_id=None) -> None:
        """Copies the settled pages and the listings' validators to staging, so `fetch` needs no store. It only
        reads the last committed snapshot, so it is outside the writer pool and never waits for a load."""
        from pipeline.stages.fetch import snapshot_frontier

        snapshot_frontier(engine_settings(), run_id)

    @task(execution_timeout=timedelta(minutes=30))
    def fetch(params=None, run_id=None) -> None:
        """The network part, outside the writer pool: other runs keep loading while pages download."""
        from pipeline.sources.http import HttpPolicy
        from pipeline.stages.fetch import fetch_pages

        policy = HttpPolicy(per_host_delay=float(params["delay"]), allowed_hosts=frozenset(params["allow_hosts"]),
                            run_deadline=float(params["run_deadline"]))
        fetch_pages(_listings(params), engine_settings(), run_id, policy, max_pages=params["max_pages"])

    @task(pool=DUCKDB_POOL)
    def plan(params=None, run_id=None) -> list[str]:
        """Returns the raw batch files to map over; the listings' new validators wait for the load."""
        from pipeline.stages.fetch import plan_fetched

        source = ",".join(listing.url for listing in _listings(params))
        planned = plan_fetched(engine_settings(params["batch_size"]), run_id, source)
        return [str(batch) for batch in planned.batches]

    batches = plan()
    frontier() >> fetch() >> batches
    process_and_load(batches)


def _listings(params):
    from pipeline.sources.web import load_listings, url_listings

    urls = list(params["urls"])
    return url_listings(urls, params["kind"]) if urls else load_listings(Path(params["sources_file"]))


news_fetch()
