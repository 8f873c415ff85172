"""A drain keeps one store connection (`pipeline.store.kept_connection`) on a PostgreSQL catalog: it reads what
other connections commit, every `connect` block ends as a closed connection's would (its open transaction rolled
back), a nested `connect` gets a connection of its own, and a whole drain attaches the lake once, loading every
entry exactly once. Against the machine's PostgreSQL and Redis; skipped with the reason where they do not answer."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import replace

import pytest

from pipeline import store as store_module
from pipeline.sources.stream import stream_doc_key
from pipeline.stages.drain import drain_stream
from pipeline.store import Store, connect, kept_connection
from tests.support.cluster import POSTGRES_URL, _postgres_admin, libpq_dsn, services_reachable
from tests.support.streams import own_stream
from tests.test_crash_safety import assert_store_consistent
from tests.test_stream import ledger, mixed_messages, pending, publish, source_of


@pytest.fixture
def lake(tmp_path):
    """A store with a PostgreSQL catalog in a database of its own, dropped afterwards."""
    if problem := services_reachable():
        pytest.skip(problem)
    database = f"news_kept_{uuid.uuid4().hex[:8]}"
    _postgres_admin(f"CREATE DATABASE {database}")
    try:
        yield Store.at(f"postgres:{libpq_dsn(POSTGRES_URL, database)}", tmp_path / "lake")
    finally:
        _postgres_admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


@pytest.fixture
def table(lake):
    with connect(lake) as con:
        con.execute("CREATE TABLE numbers (n INTEGER)")
    return lake


def numbers(con) -> list[int]:
    return sorted(n for (n,) in con.execute("SELECT n FROM numbers").fetchall())


def test_a_kept_connection_reads_what_others_commit_and_they_read_its_commits(table):
    with kept_connection(table):
        with connect(table, read_only=True) as kept:
            assert numbers(kept) == []
        other = store_module._open(table)
        other.execute("INSERT INTO numbers VALUES (1)")
        with connect(table) as again:
            assert again is kept
            assert numbers(again) == [1]
            again.execute("BEGIN")
            again.execute("INSERT INTO numbers VALUES (2)")
            store_module.commit(again, "two")
        assert numbers(other) == [1, 2]
        other.close()


def test_a_block_ends_as_a_closed_connection_would(table):
    with kept_connection(table):
        with connect(table) as con:
            con.execute("BEGIN")
            con.execute("INSERT INTO numbers VALUES (1)")
        with pytest.raises(RuntimeError), connect(table) as failing:
            failing.execute("BEGIN")
            failing.execute("INSERT INTO numbers VALUES (2)")
            raise RuntimeError("a load failing half-way")
        with connect(table) as after:
            assert after is not failing, "the connection that failed is replaced"
            assert numbers(after) == []
            with connect(table, read_only=True) as nested:
                assert nested is not after
    with connect(table, read_only=True) as fresh:
        assert numbers(fresh) == []


def test_an_sqlite_catalog_is_not_kept(settings):
    with connect(settings.store) as con:
        con.execute("CREATE TABLE numbers (n INTEGER)")
    with kept_connection(settings.store), connect(settings.store) as first, connect(settings.store) as second:
        assert first is not second


@pytest.fixture
def stream():
    yield from own_stream()


def test_a_drain_over_a_postgresql_catalog_attaches_the_lake_once_and_loads_every_entry_once(
        lake, settings, stream, monkeypatch):
    opened = []
    real_open = store_module._open

    def counted_open(*args, **kwargs):
        opened.append(args)
        return real_open(*args, **kwargs)

    stream_settings = replace(settings, store=lake, max_input_bytes=4096, batch_size=40)
    with connect(lake):
        pass  # the first read-write attach creates the DuckLake catalog, before the counting starts
    monkeypatch.setattr(store_module, "_open", counted_open)
    ids = publish(stream, mixed_messages())

    drained = drain_stream(source_of(stream, max_entries=12), stream_settings, "drain", max_run_seconds=120,
                           idle_seconds=0)

    assert [done.taken.consumed for done in drained.runs] == [12, 12, 6]
    assert len(opened) == 1, "one attach for the three micro-batches and the empty look after them"
    rows = ledger(stream_settings, stream)
    assert [uri for uri, *_ in rows] == sorted(stream_doc_key(stream, entry) for entry in ids), "0 lost, 0 doubled"
    assert Counter(state for _, _, state, _ in rows) == {"loaded": 22, "duplicate": 4, "rejected": 4}
    assert pending(stream) == 0
    assert_store_consistent(lake)
