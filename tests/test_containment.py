"""One bad input never costs a run: a hostile inbox beside the seeds, replayed by `news ingest` as a user would.

Each hostile input below is one of the classes that used to crash or hang a whole run, vanish without a row,
or lie in the ledger. The run must end with no traceback, every input in exactly one ledger state, and the
seeds loaded beside them.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipeline.store import query
from tests.conftest import SEEDS

NEWS = Path(sys.executable).with_name("news")
MAX_INPUT_BYTES = 300_000
MAX_BODY_CHARS = 150_000
ARTICLE = sorted(SEEDS.glob("*.txt"))[0].read_text()
PAGE = (f"<html><head><title>Talks in Moscow</title></head><body><article><p>{ARTICLE[:1500]}</p>"
        "</article></body></html>")


def warc(records: list[tuple[str | None, bytes]], gzipped: bool = True) -> bytes:
    """Response records (target URI or None for none, HTML payload) written by warcio."""
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=gzipped)
    for uri, payload in records:
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        record = writer.create_warc_record(uri or "http://placeholder.example/", "response",
                                           payload=io.BytesIO(payload), http_headers=headers)
        if uri is None:
            record.rec_headers.remove_header("WARC-Target-URI")
        writer.write_record(record)
    return buffer.getvalue()


def long_prose(paragraphs: int, start: int = 0) -> str:
    """Distinct paragraphs of plain prose (repeating one article would be cut to one copy by the cleaner)."""
    words = "council budget harbour delegates district railway minister school hospital river market".split()
    return "\n\n".join(
        f"On day {n} the {words[n % 11]} committee met again and argued about the {words[n * 3 % 11]} plan, which "
        f"{words[n * 7 % 11]} officials said would cost {n * 17} million over {n % 9 + 2} years."
        for n in range(start, start + paragraphs))


SENTENCES = [s.strip() + "." for seed in sorted(SEEDS.glob("*.txt")) for s in seed.read_text().split(". ")
             if len(s.split()) > 6]


def distinct_text(n: int) -> str:
    """Eight seed sentences no other call gets, each read backwards: a body that is nobody's near-duplicate,
    not even the seed it came from."""
    return " ".join(" ".join(reversed(sentence.split())) for sentence in SENTENCES[8 * n: 8 * n + 8])


def jsonl_line(n: int, slug: str, **fields) -> str:
    return json.dumps({"url": f"https://news.example/{slug}", "title": "Talks in Moscow", "text": distinct_text(n),
                       **fields})


@pytest.fixture(scope="module")
def hostile_inbox(tmp_path_factory) -> Path:
    """The seeds beside one input of every hostile class; returns the inbox folder."""
    tmp_path = tmp_path_factory.mktemp("hostile")
    inbox = tmp_path / "inbox"
    shutil.copytree(SEEDS, inbox)
    hostile = inbox / "hostile"
    hostile.mkdir()
    (hostile / "huge-body.txt").write_text("Talks in Moscow\n\n" + long_prose(1400))
    (hostile / "parentheses.txt").write_text(
        f"Talks in Moscow\n\n{long_prose(20)}\n{'(' * 120_000}\n{long_prose(3, start=20)}\n")
    (hostile / "fields.jsonl").write_text("\n".join([
        jsonl_line(1, "byline-number", byline=123),
        jsonl_line(2, "title-list", title=["a", "b"]),
        jsonl_line(3, "year-one", published="0001-01-01"),
        jsonl_line(4, "published-number", published=20190924),
        json.dumps({"url": "https://news.example/surrogate", "title": "Talks \ud800 in Moscow",
                    "text": distinct_text(0)}),
        "[" * 100_000 + "]" * 100_000,
        "{not json",
        json.dumps({"url": "https://news.example/nul\u0000byte", "title": "Talks in Moscow",
                    "text": long_prose(8, start=700)}),
    ]) + "\n")
    os.mkdir(hostile.as_posix().encode() + b"/latin1-\xe9t\xe9")  # noqa: PTH102 - Path takes no bytes name
    (Path(os.fsdecode(hostile.as_posix().encode() + b"/latin1-\xe9t\xe9")) / "article.txt").write_text(
        "Talks in Moscow\n\n" + long_prose(12, start=100))
    bad_byte_page = f"<html><head><meta charset='utf-8'><title>Talks</title></head><body><article><p>Here’s " \
                    f"what happened. {long_prose(8, start=300)}</p></article></body></html>".encode()
    (hostile / "one-bad-byte.html").write_bytes(bad_byte_page.replace(b"what happened", b"what \xff happened"))
    (hostile / "utf16.txt").write_bytes(f"Talks in Moscow\n\n{long_prose(8, start=400)}".encode("utf-16"))
    with_nul = f"Talks in Moscow\n\n{long_prose(8, start=500)}".encode().replace(b"committee", b"com\x00mittee", 1)
    (hostile / "nul-byte.txt").write_bytes(with_nul)
    (hostile / "archives").mkdir()
    (hostile / "archives" / "no-target-uri.warc.gz").write_bytes(warc([(None, PAGE.encode())]))
    (hostile / "archives" / "bad-ipv6.warc.gz").write_bytes(warc([("http://[::1/news/1", PAGE.encode())]))
    (hostile / "archives" / "nul-uri.warc.gz").write_bytes(warc([("http://[::1/nul\x00byte", PAGE.encode())]))
    (hostile / "archives" / "empty.warc").write_bytes(b"")
    (hostile / "archives" / "empty.warc.gz").write_bytes(gzip.compress(b""))
    flipped = bytearray(warc([("https://news.example/flip", PAGE.encode())]))
    flipped[len(flipped) // 2] ^= 0xFF
    (hostile / "archives" / "bit-flipped.warc.gz").write_bytes(bytes(flipped))
    (hostile / "loop").symlink_to(hostile / "loop")
    (hostile / "dangling.txt").symlink_to(hostile / "nowhere.txt")
    outside = tmp_path / "secret.txt"
    outside.write_text("root:x:0:0:root:/root:/bin/bash\n")
    (hostile / "escape.txt").symlink_to(outside)
    os.mkfifo(hostile / "pipe.txt")
    big_jsonl = "\n".join(jsonl_line(5, f"many-{n}", text=long_prose(6, start=1000 + 6 * n)) for n in range(400))
    assert len(big_jsonl) > MAX_INPUT_BYTES
    (hostile / "many-lines.jsonl").write_text(big_jsonl + "\n")
    (hostile / "copy-a").mkdir()
    (hostile / "copy-b").mkdir()
    for folder in ("copy-a", "copy-b"):
        (hostile / folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    return inbox


def ingest(db: Path, *paths: Path | str, run_id: str = "hostile") -> subprocess.CompletedProcess:
    env = {**os.environ, "NEWS_DATA_DIR": str(db.parent), "NEWS_MAX_INPUT_BYTES": str(MAX_INPUT_BYTES),
           "NEWS_MAX_BODY_CHARS": str(MAX_BODY_CHARS)}
    return subprocess.run([str(NEWS), "ingest", *map(str, paths), "--store", str(db), "--run-id", run_id],
                          capture_output=True, text=True, env=env, timeout=900)


def ledger(db: Path, run_id: str = "hostile") -> dict[str, tuple[str, str | None, str | None]]:
    rows = query(db, "SELECT source_uri, state, reason, article_id FROM ingest_log WHERE run_id = ?", [run_id])[1]
    return {uri.split("/inbox/", 1)[-1]: (state, reason, article) for uri, state, reason, article in rows}


@pytest.fixture(scope="module")
def hostile_run(hostile_inbox):
    """One run over the inbox, with a file and the FIFO also named on their own (reached twice)."""
    db = hostile_inbox.parent / "store" / "news.ducklake"
    hostile = hostile_inbox / "hostile"
    done = ingest(db, hostile_inbox, hostile / "parentheses.txt", hostile / "pipe.txt")
    return db, done


def test_a_hostile_inbox_runs_to_the_end_without_a_traceback(hostile_run):
    _, done = hostile_run
    assert "Traceback" not in done.stdout + done.stderr, done.stderr[-3000:]
    assert done.returncode in (0, 1), done.stderr[-3000:]


def test_every_input_ends_in_exactly_one_state_and_the_run_balances(hostile_run):
    db, _ = hostile_run
    (n_inputs, n_sum), = query(db, "SELECT n_inputs, n_loaded + n_duplicate + n_rejected + n_failed "
                                   "FROM ingest_runs WHERE run_id = 'hostile'")[1]
    (rows, distinct), = query(db, "SELECT count(*), count(DISTINCT source_uri) FROM ingest_log "
                                  "WHERE run_id = 'hostile'")[1]
    assert n_inputs == n_sum == rows == distinct
    assert n_inputs > 400


def test_the_seeds_load_beside_the_hostile_inputs(hostile_run):
    db, _ = hostile_run
    fates = ledger(db)
    assert [fates[seed.name][0] for seed in sorted(SEEDS.glob("*.txt"))] == ["loaded"] * 5


def test_every_hostile_class_has_the_fate_it_deserves(hostile_run):
    fates = ledger(hostile_run[0])
    state = {uri: fate[0] for uri, fate in fates.items()}
    reason = {uri: fate[1] or "" for uri, fate in fates.items()}
    assert state["hostile/huge-body.txt"] == "rejected" and reason["hostile/huge-body.txt"].startswith("body too long")
    assert state["hostile/parentheses.txt"] == "loaded"
    for line in range(1, 6):
        assert state[f"hostile/fields.jsonl#L{line}"] == "loaded", (line, reason[f"hostile/fields.jsonl#L{line}"])
    assert state["hostile/fields.jsonl#L6"] == "rejected" and "JSON" in reason["hostile/fields.jsonl#L6"]
    assert state["hostile/fields.jsonl#L7"] == "rejected"
    assert state["hostile/fields.jsonl#L8"] == "loaded", reason["hostile/fields.jsonl#L8"]
    assert state["hostile/latin1-\\xe9t\\xe9/article.txt"] == "loaded"
    assert reason["hostile/archives/no-target-uri.warc.gz#after-record-0"].startswith("corrupt archive")
    assert state["hostile/archives/bad-ipv6.warc.gz#record-1"] in ("loaded", "rejected")
    assert reason["hostile/archives/empty.warc"] == "empty archive"
    assert reason["hostile/archives/empty.warc.gz"] == "empty archive"
    assert any(uri.startswith("hostile/archives/bit-flipped.warc.gz") for uri in state)
    assert reason["hostile/loop"] == "symlink loop"
    assert reason["hostile/dangling.txt"] == "dangling symlink"
    assert reason["hostile/escape.txt"].startswith("symlink to outside")
    assert reason["hostile/pipe.txt"] == "not a regular file: a FIFO"
    assert {state[f"hostile/many-lines.jsonl#L{n}"] for n in range(1, 401)} == {"loaded"}


def test_text_with_a_bad_byte_a_nul_or_utf16_loads_unmangled_and_says_what_was_repaired(hostile_run):
    db, _ = hostile_run
    rows = dict(query(db, "SELECT regexp_extract(source_uri, '[^/]+$'), struct_pack(body, warnings) FROM articles "
                          "WHERE source_uri LIKE '%one-bad-byte.html' OR source_uri LIKE '%utf16.txt' "
                          "OR source_uri LIKE '%nul-byte.txt'")[1])
    assert set(rows) == {"one-bad-byte.html", "utf16.txt", "nul-byte.txt"}
    assert "Here’s" in rows["one-bad-byte.html"]["body"] and "Ã" not in rows["one-bad-byte.html"]["body"]
    assert rows["one-bad-byte.html"]["warnings"] and rows["nul-byte.txt"]["warnings"]
    assert "committee met again" in rows["utf16.txt"]["body"]


def test_a_file_reached_twice_has_one_row_and_a_repeated_reject_points_at_no_article(hostile_run):
    db, _ = hostile_run
    fates = ledger(db)
    assert fates["hostile/parentheses.txt"][0] == "loaded"
    assert fates["hostile/copy-a/image.png"][:2] == ("rejected", "unsupported file type '.png'")
    assert fates["hostile/copy-b/image.png"][:2] == ("rejected", "unsupported file type '.png'")
    orphans = query(db, "SELECT count(*) FROM ingest_log WHERE article_id IS NOT NULL "
                        "AND article_id NOT IN (SELECT article_id FROM articles)")[1]
    assert orphans == [(0,)]


def test_bad_values_are_null_with_a_warning_never_invented(hostile_run):
    db, _ = hostile_run
    rows = dict(query(db, "SELECT url, struct_pack(byline, title, published_at, warnings) FROM articles "
                          "WHERE url LIKE 'https://news.example/%'")[1])
    assert rows["https://news.example/byline-number"]["byline"] is None
    assert rows["https://news.example/byline-number"]["warnings"]
    assert rows["https://news.example/year-one"]["published_at"] is None
    assert "\ud800" not in rows["https://news.example/surrogate"]["title"]


def test_a_control_character_in_a_url_is_escaped_in_its_keys(hostile_run):
    """A NUL in a key cut DuckLake's own pruning SQL short and failed the load (seen with a bit-flipped WARC)."""
    db, _ = hostile_run
    rows = query(db, "SELECT doc_key, state FROM ingest_log WHERE contains(doc_key, 'nul%00byte')")[1]
    assert sorted(key.split("#")[0] for key, _ in rows) == ["url:http://[::1/nul%00byte",
                                                             "url:https://news.example/nul%00byte"]
    assert query(db, "SELECT count(*) FROM ingest_log WHERE contains(doc_key, chr(0)) "
                     "OR contains(source_uri, chr(0))")[1] == [(0,)]


def test_replaying_the_hostile_inbox_adds_nothing(hostile_run, hostile_inbox):
    db, _ = hostile_run
    before = query(db, "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM rejects), "
                       "(SELECT count(*) FROM entity_mentions)")[1]
    again = ingest(db, hostile_inbox, run_id="again")
    assert "Traceback" not in again.stdout + again.stderr
    assert query(db, "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM rejects), "
                     "(SELECT count(*) FROM entity_mentions)")[1] == before
    states = {state for state, _, _ in ledger(db, "again").values()}
    assert "loaded" not in states
