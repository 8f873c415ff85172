"""A CLI run processes its batches in `Settings.workers` child processes: the same rows as in one process, the
workers' progress reaches the parent's listeners, and the parent imports the quality gate while it loads."""

from __future__ import annotations

import sys
from dataclasses import replace

from pipeline import progress
from pipeline.cli import GatePreload
from pipeline.sources.files import FileSource
from pipeline.stages.run import run_source
from pipeline.stages.workers import WORKER_BATCH_SIZE, shared_batch_size
from pipeline.store import Store, query
from tests.test_progress import stories

ROWS = {
    "articles": "SELECT doc_key, title, body, language, published_at, content_hash, story_id IS NOT NULL "
                "FROM articles ORDER BY doc_key",
    "ledger": "SELECT doc_key, state, reason, article_id FROM ingest_log ORDER BY doc_key",
    "mentions": "SELECT article_id, surface, label, start_char, end_char, linked_by FROM entity_mentions "
                "ORDER BY ALL",
    "entities": "SELECT entity_id, name, label FROM entities ORDER BY entity_id",
}


def test_two_workers_load_the_same_rows_as_one_process(settings, tmp_path):
    inbox = tmp_path / "inbox"
    stories(inbox, 30)
    tables = {}
    for workers in (1, 2):
        store = Store.at(tmp_path / f"workers-{workers}.ducklake")
        summary = run_source(FileSource([str(inbox)]), replace(settings, store=store, workers=workers, batch_size=10),
                             "workers")
        assert (summary.n_inputs, summary.n_loaded, summary.n_rejected) == (31, 30, 1)
        tables[workers] = {name: query(store, sql)[1] for name, sql in ROWS.items()}
    assert tables[2] == tables[1]


def test_the_workers_progress_reaches_the_parent(settings, tmp_path):
    inbox = tmp_path / "inbox"
    stories(inbox, 30)
    heard: list[tuple[str, int, int | None]] = []
    with progress.listening(lambda stage, done, total: heard.append((stage, done, total))):
        run_source(FileSource([str(inbox)]), replace(settings, workers=2, batch_size=10), "progress")

    done = {stage: sum(step for name, step, _ in heard if name == stage) for stage, _, _ in heard}
    assert done == {"reading": 31, "extracting": 31, "tagging": 30, "loading": 1}


def test_the_gate_is_imported_while_the_run_loads_and_only_then():
    unchecked, idle = GatePreload(check=False), GatePreload(check=True)
    for preload, planned in ((unchecked, 10), (idle, 0)):
        preload("extracting", 0, planned)
        preload("loading", 0, 1)
    assert [unchecked.thread, idle.thread] == [None, None], "no check, nothing processed"

    preload = GatePreload(check=True)
    preload("reading", 0, None)
    preload("extracting", 0, 31)
    preload("extracting", 1, None)
    assert preload.thread is None, "not beside the workers"
    preload("loading", 0, 1)
    assert preload.thread is not None
    preload.thread.join()
    assert "pipeline.quality_suites" in sys.modules


def test_batches_are_cut_for_the_workers_sharing_them(settings):
    planned = replace(settings, batch_size=200)
    assert shared_batch_size(planned, 1) == 200, "one process: the setting"
    assert shared_batch_size(planned, 2) == WORKER_BATCH_SIZE, "a run of unknown length, shared"
    assert shared_batch_size(planned, 2, inputs=30) == 15, "a micro-batch: a batch for each worker"
    assert shared_batch_size(planned, 2, inputs=1) == 1
    assert shared_batch_size(replace(planned, batch_size=10), 2, inputs=300) == 10
