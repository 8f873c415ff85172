"""Replay web archives (WARC, ARC; plain, gzip or lz4) as RawDocs, one per captured page.

Response and resource records are inputs; request, revisit, warcinfo and metadata records describe a
crawl, not a page, and are not. A record that is not HTML is still an input, rejected with its content
type, so every captured response is accounted for; so is a record cut short by a truncated file. A file
that breaks mid-way keeps the records read before the break and adds one rejected input naming the
error: a corrupt archive never stops the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, ClassVar

import lz4.frame
from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord

from pipeline.records import RawDoc
from pipeline.sources.base import PathSource, ReadContext
from pipeline.sources.keys import HTML_TYPES, content_digest, not_html, printable_path, url_doc_key

ARCHIVE_SUFFIXES = {".warc", ".arc"}
PAGE_RECORD_TYPES = {"response", "resource"}


@dataclass(frozen=True)
class ArchiveSource(PathSource):
    """Web archive files named one by one (a folder holding archives is a `files` source, which reads them the
    same way)."""

    kind: ClassVar[str] = "warc"

    def read(self, context: ReadContext) -> Iterator[RawDoc]:
        for path in self.paths:
            yield from read_archive(Path(path), context.max_bytes)


def is_archive(path: Path) -> bool:
    """`x.warc`, `x.warc.gz`, `x.arc.gz`, `x.warc.lz4`, and also a renamed `x.warc.gz.bad`."""
    return any(suffix.lower() in ARCHIVE_SUFFIXES for suffix in path.suffixes)


def read_archive(path: Path, max_bytes: int) -> Iterator[RawDoc]:
    """One RawDoc per page record; an archive that yields none (empty, only crawl metadata) is one rejected
    input, and so is whatever follows a break, so every archive reached has at least one ledger row.

    warcio's reader cannot go on after a record it fails to parse (a response without `WARC-Target-URI` raises
    inside it), so any error ends the archive: the records before the break are kept, the break is reported.
    """
    name, source = printable_path(path.name), printable_path(path)
    count = pages = 0
    try:
        with _open(path) as stream:
            for count, record in enumerate(ArchiveIterator(stream, arc2warc=True), start=1):
                if record.rec_type in PAGE_RECORD_TYPES:
                    pages += 1
                    yield _record_doc(path, count, record, max_bytes)
    except Exception as error:  # noqa: BLE001 - a damaged archive is an input to reject, never a crashed run
        detail = " ".join(str(error).split()).encode("ascii", "backslashreplace").decode()[:160]
        digest = content_digest(f"{name}:{count}:{detail}".encode())[:16]
        yield RawDoc(f"file:{name}#broken#{digest}", f"{source}#after-record-{count}", "archive", b"",
                     problem=f"corrupt archive after {count} records: {type(error).__name__}: {detail}".rstrip(": "))
        return
    if pages == 0:
        digest = content_digest(f"{name}:{count}:no pages".encode())[:16]
        what = "empty archive" if count == 0 else f"archive without page records ({count} records)"
        yield RawDoc(f"file:{name}#empty#{digest}", source, "archive", b"", problem=what)


def _open(path: Path) -> BinaryIO:
    """lz4 frames are decompressed as a stream; warcio itself handles plain and gzip members."""
    if path.name.lower().endswith(".lz4"):
        return lz4.frame.open(path, "rb")
    return path.open("rb")


def _record_doc(path: Path, number: int, record: ArcWarcRecord, max_bytes: int) -> RawDoc:
    url = _target_uri(record)
    source_uri = f"{printable_path(path)}#record-{number}"
    content = record.content_stream().read(max_bytes + 1)
    name = printable_path(path.name)
    key = url_doc_key(url) if url else f"file:{name}#record-{number}#{content_digest(content)[:16]}"
    content_type = _content_type(record)
    problem = None
    missing = getattr(record.raw_stream, "limit", 0)
    if len(content) > max_bytes:
        content, problem = content[:max_bytes], f"too large: over {max_bytes} bytes"
    elif missing:
        problem = f"truncated record: {missing} of its {record.length} bytes missing"
    elif content_type not in HTML_TYPES and not _looks_like_html(content_type, content):
        problem = not_html(content_type)
    return RawDoc(key, source_uri, "html", content, url=url, problem=problem)


def _target_uri(record: ArcWarcRecord) -> str | None:
    uri = record.rec_headers.get_header("WARC-Target-URI")
    return uri.strip().strip("<>") if uri and uri.strip() else None


def _content_type(record: ArcWarcRecord) -> str:
    header = record.http_headers.get_header("Content-Type") if record.http_headers else None
    header = header or record.rec_headers.get_header("Content-Type") or ""
    return header.split(";")[0].strip().lower()


def _looks_like_html(content_type: str, content: bytes) -> bool:
    """Archives often lack a content type (old ARC files, some resource records): sniff the bytes then."""
    return not content_type and b"<html" in content[:1024].lower()
