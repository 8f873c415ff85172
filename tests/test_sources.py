"""Sources as types: the registry every interface reads its kinds from, and a stateful source whose state is
committed with the rows it produced (a stream's offsets tomorrow)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

import pytest

from pipeline.cli import build_parser
from pipeline.records import RawDoc
from pipeline.sources.base import ReadContext, SourceState
from pipeline.sources.registry import DEFAULT_KIND, SOURCE_KINDS, source_for
from pipeline.stages.load import load
from pipeline.stages.plan import plan_source
from pipeline.stages.process import process_batch
from pipeline.stages.run import run_source
from pipeline.store import query
from tests.conftest import REPO, SEEDS

ARTICLES = [path.read_text() for path in sorted(SEEDS.glob("*.txt"))]


@dataclass
class LogSource:
    """A toy append-only log: reads from the offset its committed state names, at most `limit` entries."""

    kind: ClassVar[str] = "log"
    entries: list[str]
    limit: int = 2
    _next: int = field(default=0, init=False)

    @property
    def label(self) -> str:
        return "log"

    def read(self, context: ReadContext) -> Iterator[RawDoc]:
        start = context.known["log"].value["offset"] if "log" in context.known else 0
        self._next = min(start + self.limit, len(self.entries))
        for offset in range(start, self._next):
            yield RawDoc(f"log:{offset}", f"log#{offset}", "text", self.entries[offset].encode())

    def states(self) -> list[SourceState]:
        return [SourceState("log", self.kind, {"offset": self._next})]


def committed_offset(db_path) -> int | None:
    rows = query(db_path, "SELECT value FROM source_state WHERE source_id = 'log'")[1]
    return json.loads(rows[0][0])["offset"] if rows else None


def test_a_sources_state_is_committed_with_its_rows_and_the_next_run_resumes_from_it(settings):
    log = ARTICLES[:3]
    run_source(LogSource(log), settings, "first")
    assert committed_offset(settings.store) == 2
    run_source(LogSource(log), settings, "second")
    assert committed_offset(settings.store) == 3
    assert query(settings.store, "SELECT count(*) FROM articles")[1] == [(3,)]
    assert query(settings.store, "SELECT run_id, count(*) FROM ingest_log GROUP BY ALL ORDER BY ALL")[1] == [
        ("first", 2), ("second", 1)]


def test_a_run_that_dies_before_its_load_leaves_the_state_and_the_next_run_reads_again_adding_nothing(settings):
    log = ARTICLES[:4]
    run_source(LogSource(log), settings, "first")
    plan = plan_source(LogSource(log), settings, "died")
    [process_batch(batch, settings) for batch in plan.batches]
    assert committed_offset(settings.store) == 2, "nothing committed without the load"
    summary = run_source(LogSource(log), settings, "again")
    assert (summary.n_inputs, summary.n_loaded) == (2, 2)
    assert committed_offset(settings.store) == 4
    plan = plan_source(LogSource(log), settings, "replayed-load")
    load(plan, [process_batch(batch, settings) for batch in plan.batches], settings)
    assert query(settings.store, "SELECT count(*), count(DISTINCT doc_key) FROM articles")[1] == [(4, 4)]


def test_every_kind_is_offered_by_the_cli_and_named_in_the_readme():
    ingest = build_parser()._subparsers._group_actions[0].choices["ingest"]
    [kind_option] = [action for action in ingest._actions if action.dest == "kind"]
    assert list(kind_option.choices) == list(SOURCE_KINDS) and kind_option.default == DEFAULT_KIND
    readme = (REPO / "README.md").read_text()
    for kind in SOURCE_KINDS:
        assert re.search(rf"\| `{kind}` \|", readme), f"README lists no source kind {kind!r}"


def test_an_unknown_kind_or_a_missing_path_is_a_one_line_error():
    with pytest.raises(ValueError, match="unknown source kind 'nope'; use one of files, warc"):
        source_for("nope", [])
    with pytest.raises(ValueError, match="no such file or folder: /no/such/inbox"):
        source_for("files", ["/no/such/inbox"])
