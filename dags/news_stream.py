"""Stream micro-batches, event-driven: consume -> plan -> process (mapped) -> load -> acknowledge -> validate -> report.

The DAG is scheduled on the Asset `news_stream`, whose `AssetWatcher` runs `RedisStreamTrigger` (plugins folder) in
the triggerer: it polls the consumer group every second and fires when entries wait that no run has been woken
for (DESIGN.md, "Streams", for the firing rule), so a run starts about a second after a producer publishes.
`max_active_runs=1`: events that come while a run is active wait, and start one run after it.

`consume` reads one micro-batch (at most the `max_entries` and `max_seconds` Params) from the stream into the run's
staging folder and fetches url-only messages; it reads only the last committed snapshot of the store, so it is
outside the one-slot `duckdb_writer` pool. When it took nothing (an event for entries an earlier run took), the
rest of the run is skipped and the run succeeds. `plan` settles and batches (writer pool); `process` and `load` are
the tasks every news DAG shares (`news_tasks.py`), the load committing the stream's offset with the rows; then
`acknowledge` acknowledges the entries the committed offset covers and publishes the run's lag (entries consumed,
pending, oldest pending age) as the `extra` of an event of the Asset `news_stream_lag`; `report` prints it.

The stream and the Redis server are NEWS_STREAM and NEWS_STREAM_URL, read by the triggerer and by every task, so
all components must have the same ones. Paused on creation: unpause it once producers publish to that stream.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import Asset, AssetWatcher, Param, dag, task
from news_stream_trigger import RedisStreamTrigger
from news_tasks import (
    DUCKDB_POOL,
    RUN_TIMEOUT,
    engine_settings,
    lag_line,
    load,
    process,
    report,
    run_params,
    validate,
)

from pipeline.settings import load_settings

SETTINGS = load_settings()
STALLED_SECONDS = float(os.environ.get("NEWS_STREAM_STALLED_SECONDS") or 300)
"""A read entry unacknowledged this long wakes a run (a run that died after reading, a failed fetch to retry)."""
STREAM_ASSET = Asset(
    name="news_stream",
    uri="x-news://stream/entries",
    watchers=[AssetWatcher(
        name="news_stream_entries",
        trigger=RedisStreamTrigger(stream=SETTINGS.stream_name, group=SETTINGS.stream_group, poll_interval=1.0,
                                   refire_seconds=60.0, stalled_seconds=STALLED_SECONDS),
    )],
)
LAG_ASSET = Asset(name="news_stream_lag", uri="x-news://stream/lag")
"""Updated by every run that consumed something; the event's `extra` is the run's lag."""


@dag(
    dag_id="news_stream",
    schedule=[STREAM_ASSET],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,
    dagrun_timeout=RUN_TIMEOUT,
    max_active_runs=1,
    tags=["news", "stream"],
    params={
        "max_entries": Param(SETTINGS.stream_max_entries, type="integer", minimum=1,
                             description="Take at most this many entries per run (default: NEWS_STREAM_MAX_ENTRIES)."),
        "max_seconds": Param(SETTINGS.stream_max_seconds, type="number", minimum=1,
                             description="Stop taking entries after this many seconds of reading and fetching "
                                         "(default: NEWS_STREAM_MAX_SECONDS)."),
        **run_params("Entries"),
    },
    doc_md=__doc__,
)
def news_stream():
    @task.short_circuit(execution_timeout=timedelta(minutes=30))
    def consume(params=None, run_id=None) -> int:
        """One micro-batch into staging, outside the writer pool; returns how many entries it took (0 skips the
        rest of the run)."""
        from pipeline import run_folder
        from pipeline.sources.stream import StreamState
        from pipeline.stages.stream import consume as consume_stream

        source = _source(params)
        folder = consume_stream(engine_settings(), run_id, source)
        taken = run_folder.read(folder.consumed).num_rows
        states = run_folder.read_states(folder.source_states)
        state = StreamState.of(next((s for s in states if s.source_id == source.source_id), None))
        oldest = state.oldest_pending_seconds
        print(f"stream {source.stream}: took {taken} entries, left {state.pending} pending"
              + ("" if oldest is None else f" (oldest {oldest:.1f} s)"))
        if not taken:
            folder.remove()
        return taken

    @task(pool=DUCKDB_POOL)
    def plan(params=None, run_id=None) -> list[str]:
        """Returns the raw batch files to map over; the stream's new offset waits in the plan for the load."""
        from pipeline.stages.stream import plan_consumed

        planned = plan_consumed(engine_settings(params["batch_size"]), run_id, _source(params).label)
        return [str(batch) for batch in planned.batches]

    @task(outlets=[LAG_ASSET])
    def acknowledge(summary: dict, params=None, outlet_events=None) -> dict:
        """Acknowledges what the committed offset covers (reads the store, writes only to Redis: no pool) and
        publishes the run's lag with an event of `news_stream_lag`."""
        from pipeline.stages.stream import acknowledge as acknowledge_stream

        lag = {**acknowledge_stream(engine_settings(), _source(params)).to_xcom(), "run_id": summary["run_id"]}
        print(lag_line(lag))
        outlet_events[LAG_ASSET].extra = lag
        return lag

    batches = plan()
    consume() >> batches
    summary = load(process.expand(batch_path=batches))
    lag = acknowledge(summary)
    quality = validate(summary)
    lag >> quality
    report(summary, quality, lag)


def _source(params):
    from pipeline.sources.stream import StreamSource

    return StreamSource.of(load_settings(), max_entries=params["max_entries"], max_seconds=params["max_seconds"])


news_stream()
