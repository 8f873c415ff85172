"""WARC/ARC replay: real archive files written with warcio, and the dev set's 43 samples when present."""

from __future__ import annotations

import gzip
import io
import json

import lz4.frame
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipeline.sources.files import read_inputs
from pipeline.sources.warc import read_archive
from pipeline.stages.run import run_pipeline
from pipeline.store import query

ARTICLE = ("<html><head><title>Ministers meet</title></head><body><article><p>"
           + "Russian Foreign Minister Sergei Lavrov met his Venezuelan counterpart in Moscow on Sunday. " * 6
           + "</p></article></body></html>")


def warc_bytes(records: list[tuple[str, str, str, bytes]], gzipped: bool = True) -> bytes:
    """records: (record type, target URI, content type, payload)."""
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=gzipped)
    for rec_type, uri, content_type, payload in records:
        headers = None
        if rec_type == "response":
            headers = StatusAndHeaders("200 OK", [("Content-Type", content_type)], protocol="HTTP/1.1")
        record = writer.create_warc_record(uri, rec_type, payload=io.BytesIO(payload), http_headers=headers,
                                           warc_content_type=None if headers else content_type)
        writer.write_record(record)
    return buffer.getvalue()


RECORDS = [
    ("response", "https://example.org/news/1?utm_source=rss", "text/html; charset=utf-8", ARTICLE.encode()),
    ("request", "https://example.org/news/1", "application/http; msgtype=request", b"GET /news/1 HTTP/1.1\r\n\r\n"),
    ("response", "https://example.org/app.js", "application/javascript", b"var x = 1;"),
    ("resource", "https://example.org/news/2", "text/html", ARTICLE.replace("Sunday", "Monday").encode()),
]


@pytest.mark.parametrize("suffix,encode", [
    (".warc.gz", lambda records: warc_bytes(records)),
    (".warc", lambda records: warc_bytes(records, gzipped=False)),
    (".warc.lz4", lambda records: lz4.frame.compress(warc_bytes(records, gzipped=False))),
])
def test_page_records_become_inputs_and_others_are_not(tmp_path, suffix, encode):
    path = tmp_path / f"crawl{suffix}"
    path.write_bytes(encode(RECORDS))
    docs = list(read_archive(path, max_bytes=100_000))
    assert [d.url for d in docs] == ["https://example.org/news/1?utm_source=rss", "https://example.org/app.js",
                                     "https://example.org/news/2"]
    assert docs[0].doc_key == "url:https://example.org/news/1"
    assert docs[0].problem is None and docs[0].content == ARTICLE.encode()
    assert docs[1].problem == "not an HTML page: content type 'application/javascript'"
    assert docs[2].problem is None


@pytest.mark.parametrize("gzipped", [True, False])
def test_a_truncated_archive_keeps_what_was_read_and_flags_the_cut_record(tmp_path, gzipped):
    whole = warc_bytes(RECORDS, gzipped=gzipped)
    path = tmp_path / ("cut.warc.gz" if gzipped else "cut.warc")
    path.write_bytes(whole[:-100])
    docs = list(read_archive(path, max_bytes=100_000))
    assert [d.problem for d in docs[:2]] == [None, "not an HTML page: content type 'application/javascript'"]
    assert docs[-1].problem.startswith("truncated record:")


def test_garbage_instead_of_an_archive_is_reported_not_raised(tmp_path):
    path = tmp_path / "junk.warc.gz"
    path.write_bytes(gzip.compress(b"<!doctype html><p>not a warc</p>"))
    docs = list(read_archive(path, max_bytes=100_000))
    assert len(docs) == 1 and docs[0].problem.startswith("corrupt archive after 0 records")


def test_warc_replay_loads_pages_with_their_urls(settings, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "crawl.warc.gz").write_bytes(warc_bytes(RECORDS))
    summary = run_pipeline([str(tmp_path / "in")], settings, "warc")
    assert (summary.n_inputs, summary.n_loaded, summary.n_rejected) == (3, 2, 1)
    _, rows = query(settings.store, "SELECT url, canonical_url, title FROM articles ORDER BY url")
    assert rows[0] == ("https://example.org/news/1?utm_source=rss", "https://example.org/news/1", "Ministers meet")


@pytest.fixture
def warc_samples(shared_dir):
    return shared_dir / "eval", [json.loads(line) for line in (shared_dir / "eval" / "warc.jsonl").open()]


def test_every_dev_sample_is_read_and_every_page_record_accounted(warc_samples):
    root, samples = warc_samples
    counts = {}
    for sample in samples:
        docs = list(read_archive(root / sample["file"], max_bytes=10 * 1024 * 1024))
        pages = [d for d in docs if d.format != "archive"]
        archive_rows = [d.problem for d in docs if d.format == "archive"]
        counts[sample["file"]] = len(pages)
        types = sample.get("record_types") or sample.get("record_types_before_error") or {}
        if sample["file"].endswith(".lz4"):
            continue
        assert len(pages) == types.get("response", 0) + types.get("resource", 0), sample["file"]
        broken = [problem for problem in archive_rows if problem.startswith("corrupt archive")]
        assert len(broken) == (0 if sample["warcio_readable"] else 1), sample["file"]
        assert archive_rows == broken or (not pages and len(archive_rows) == 1), "an archive without pages has a row"
    assert counts["warc/resiliparse-warcfile.warc.lz4"] == counts["warc/resiliparse-warcfile.warc"]


def test_replaying_the_dev_archives_accounts_every_input(warc_samples, settings):
    root, _ = warc_samples
    docs = list(read_inputs([root / "warc"], settings.max_input_bytes))
    summary = run_pipeline([str(root / "warc")], settings, "warc")
    assert summary.n_inputs == len(docs)
    assert summary.n_loaded + summary.n_duplicate + summary.n_rejected + summary.n_failed == summary.n_inputs
    assert summary.n_failed == 0 and summary.n_loaded > 0
