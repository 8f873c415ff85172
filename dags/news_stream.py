"""Stream ingestion, event-driven: drain (micro-batches while entries keep coming) -> publish_lag, validate -> report.

The DAG is scheduled on the Asset `news_stream`, whose `AssetWatcher` runs `RedisStreamTrigger` (plugins folder) in
the triggerer: it polls the consumer group every second and fires when entries wait that no run has been woken
for (DESIGN.md, "Streams", for the firing rule), so a run starts about a second after a producer publishes.
Two runs may be active, but one drain at a time (`max_active_tis_per_dag=1`): the next run's drain starts while
the previous run is still being gated, so a run's end costs the stream seconds, not the gate's time.

`drain` runs micro-batches one after another in its worker (`pipeline.stages.drain.drain_stream`), extraction and
NER in `workers` processes started once (the model loaded once in each): each micro-batch consumes at
most `max_entries` entries (and `max_seconds` of reading and fetching url-only messages), plans, processes, loads
(committing the stream's offset with the rows) and acknowledges, under the store's writer slot for the plan and
the load only. The NLP model stays loaded, so an entry published while a drain runs is queryable one micro-batch
later instead of one Airflow run later (seven tasks' start-up each: 35 s at 1 message/s, DESIGN.md). The drain
ends when the stream has been empty for `idle_seconds` or after `max_run_seconds`; `validate` then gates all its
micro-batches at once, and `report` prints them. A run woken for entries an earlier run took finds nothing: the
rest is skipped and the run succeeds. The run's lag (entries consumed, acknowledged, pending after it, the oldest
one's age) is the `extra` of an event of the Asset `news_stream_lag` (`publish_lag`, beside the gate).

The stream and the Redis server are NEWS_STREAM and NEWS_STREAM_URL, read by the triggerer and by every task, so
all components must have the same ones. Paused on creation: unpause it once producers publish to that stream.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import Asset, AssetWatcher, Param, dag, task
from news_stream_trigger import RedisStreamTrigger
from news_tasks import RUN_TIMEOUT, TASK_DEFAULTS, engine_settings, gate, lag_line, run_params, write_html_report

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
    default_args=TASK_DEFAULTS,
    max_active_runs=2,
    tags=["news", "stream"],
    params={
        "max_entries": Param(SETTINGS.stream_max_entries, type="integer", minimum=1,
                             description="Take at most this many entries per micro-batch "
                                         "(default: NEWS_STREAM_MAX_ENTRIES)."),
        "max_seconds": Param(SETTINGS.stream_max_seconds, type="number", minimum=1,
                             description="Stop taking entries after this many seconds of reading and fetching "
                                         "(default: NEWS_STREAM_MAX_SECONDS)."),
        "max_run_seconds": Param(SETTINGS.stream_max_run_seconds, type="number", minimum=0,
                                 description="Start no micro-batch after this many seconds, so the run ends and is "
                                             "gated (default: NEWS_STREAM_MAX_RUN_SECONDS)."),
        "idle_seconds": Param(SETTINGS.stream_idle_seconds, type="number", minimum=0,
                              description="End the run when the stream has had nothing new for this long "
                                          "(default: NEWS_STREAM_IDLE_SECONDS)."),
        "workers": Param(SETTINGS.workers, type="integer", minimum=1,
                         description="Processes the drain extracts and tags in, side by side "
                                     "(default: NEWS_WORKERS, else the worker's CPUs up to 2)."),
        **run_params("Entries"),
    },
    doc_md=__doc__,
)
def news_stream():
    @task.short_circuit(execution_timeout=timedelta(hours=1), max_active_tis_per_dag=1, retries=0)
    def drain(params=None, run_id=None, ti=None) -> dict:
        """Micro-batches until the stream is idle or the run's time is up; returns the run's lag with the run ids
        of its micro-batches (empty, which skips the rest, when it loaded nothing). Never retried: what a failed
        drain took stays pending in the stream, and the next wake takes it again (after `STALLED_SECONDS`)."""
        from pipeline.stages.drain import drain_stream

        drained = drain_stream(_source(params), engine_settings(params["batch_size"]), f"{run_id}.try{ti.try_number}",
                               params["max_run_seconds"], params["idle_seconds"], on_batch=lambda done: print(
                                   f"{done.summary.run_id if done.summary else '-'}: {done.line()}"),
                               workers=params["workers"])
        if not drained.runs:
            return {}
        lag = {**drained.to_xcom(), "run_id": run_id}
        print(lag_line(lag))
        return lag

    @task(outlets=[LAG_ASSET])
    def publish_lag(lag: dict, outlet_events=None) -> None:
        """The run's lag as the `extra` of an event of `news_stream_lag` (skipped with the rest when the drain
        took nothing, so an idle wake publishes no event)."""
        outlet_events[LAG_ASSET].extra = lag

    @task
    def validate(lag: dict, params=None, run_id=None) -> dict:
        """The quality gate over every micro-batch of the run, at once (outside the writer pool: nothing here
        deduplicates)."""
        return gate(lag["runs"], run_id, params["fail_on_quality"])

    @task
    def report(lag: dict, quality: dict) -> None:
        """Prints each micro-batch's summary and the run's lag, and writes the last micro-batch's HTML report (its
        charts over the last runs show the others)."""
        from pipeline.report import format_summary

        settings = engine_settings()
        for micro_batch in lag["runs"]:
            print(format_summary(settings.store, micro_batch))
        print(lag_line(lag))
        print(f"quality: {quality['passed']} passed, {quality['failed']} failed")
        write_html_report(settings, lag["runs"][-1])

    lag = drain()
    publish_lag(lag)
    report(lag, validate(lag))


def _source(params):
    from pipeline.sources.stream import StreamSource

    return StreamSource.of(load_settings(), max_entries=params["max_entries"], max_seconds=params["max_seconds"])


news_stream()
