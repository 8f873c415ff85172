"""Replay archived inputs: folders and files of .txt, .html/.htm, .jsonl and web archives (.warc/.arc).

Every file found becomes at least one RawDoc, including files we cannot read
(they carry a `problem` and end up rejected), so the ledger accounts for all of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from pipeline.records import RawDoc
from pipeline.sources.keys import content_digest, file_doc_key, url_doc_key
from pipeline.sources.warc import is_archive, read_archive

KIND_BY_SUFFIX = {".txt": "text", ".text": "text", ".html": "html", ".htm": "html", ".jsonl": "jsonl"}


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files under the given paths in a stable order; hidden files are skipped."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                relative = child.relative_to(path)
                if child.is_file() and not any(part.startswith(".") for part in relative.parts):
                    yield child
        else:
            yield path


def read_inputs(paths: Iterable[str | Path], max_bytes: int) -> Iterator[RawDoc]:
    for path in iter_files(paths):
        yield from read_file(path, max_bytes)


def read_file(path: Path, max_bytes: int) -> Iterator[RawDoc]:
    if is_archive(path):
        yield from read_archive(path, max_bytes)
        return
    source_uri = str(path)
    try:
        with path.open("rb") as handle:
            content = handle.read(max_bytes + 1)
    except OSError as error:
        yield RawDoc(f"file:{path.name}#unreadable", source_uri, "unknown", b"", problem=f"unreadable: {error}")
        return
    kind = KIND_BY_SUFFIX.get(path.suffix.lower())
    if len(content) > max_bytes:
        yield RawDoc(
            file_doc_key(path, content), source_uri, kind or "unknown", content[:max_bytes],
            problem=f"too large: over {max_bytes} bytes",
        )
    elif kind is None:
        yield RawDoc(
            file_doc_key(path, content), source_uri, "unknown", content,
            problem=f"unsupported file type {path.suffix or '(none)'!r}",
        )
    elif kind == "jsonl":
        yield from split_jsonl(path, content)
    else:
        yield RawDoc(file_doc_key(path, content), source_uri, kind, content)


def split_jsonl(path: Path, content: bytes) -> Iterator[RawDoc]:
    """One RawDoc per non-blank line; the URL (when the line parses) becomes the key."""
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        source_uri = f"{path}#L{number}"
        url = _url_of(line)
        key = url_doc_key(url) if url else f"file:{path.name}#L{number}#{content_digest(line)[:16]}"
        yield RawDoc(key, source_uri, "json", line, url=url)


def _url_of(line: bytes) -> str | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    url = record.get("url") if isinstance(record, dict) else None
    return url.strip() if isinstance(url, str) and url.strip() else None
