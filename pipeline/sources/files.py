"""The `files` source: folders and files of .txt, .html/.htm, .jsonl, and web archives (.warc/.arc) in them.

Every entry reached becomes at least one RawDoc, including entries we cannot or must not read (they carry a
`problem` and end up rejected), so the ledger accounts for all of them: an unreadable file, a FIFO or device,
a dangling link, a link loop, a link out of the folder being replayed. Each real file is read once per run,
however many given paths reach it. Hidden entries (a name starting with '.') are not inputs, as for git or rsync.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, ClassVar

from pipeline.records import RawDoc
from pipeline.sources.base import PathSource, ReadContext
from pipeline.sources.keys import content_digest, file_doc_key, printable_path, url_doc_key
from pipeline.sources.warc import is_archive, read_archive
from pipeline.textnorm import without_surrogates

FORMAT_BY_SUFFIX = {".txt": "text", ".text": "text", ".html": "html", ".htm": "html", ".jsonl": "jsonl"}
_FILE_TYPES = {stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a character device",
               stat.S_IFBLK: "a block device", stat.S_IFDIR: "a folder"}


@dataclass(frozen=True)
class FileSource(PathSource):
    """Files and folders replayed as they are."""

    kind: ClassVar[str] = "files"

    def read(self, context: ReadContext) -> Iterator[RawDoc]:
        return read_inputs(self.paths, context.max_bytes)


@dataclass(frozen=True)
class Entry:
    """A path reached while walking the given paths; `problem` says why it is not read."""

    path: Path
    problem: str | None = None


def iter_entries(paths: Iterable[str | Path]) -> Iterator[Entry]:
    """Files under the given paths in a stable order, each real file once.

    A path given by name is followed wherever it points (the caller chose it). Inside a folder, a symlink is
    followed only when its target stays inside that folder: an inbox must not hand out `/etc/passwd`.
    """
    seen: set = set()
    for raw in paths:
        path = Path(raw)
        problem = _not_readable(path)
        if problem is None and path.is_dir():
            root = path.resolve()
            for child in _walk(path):
                yield from _once(_inside(child, root), seen)
        else:
            yield from _once(Entry(path, problem), seen)


def _walk(folder: Path) -> Iterator[Path]:
    """Every non-hidden entry below `folder`, sorted, without descending into symlinked folders."""
    for current, folders, files in os.walk(folder, followlinks=False):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        base = Path(current)
        links_to_folders = [name for name in folders if (base / name).is_symlink()]
        for name in sorted([*files, *links_to_folders]):
            if not name.startswith("."):
                yield base / name


def _inside(path: Path, root: Path) -> Entry:
    problem = _not_readable(path)
    if problem is None and path.is_symlink():
        target = path.resolve()
        if target != root and root not in target.parents:
            problem = "symlink to outside the replayed folder: not followed"
        elif target.is_dir():
            problem = "symlink to a folder: not followed"
    return Entry(path, problem)


def _not_readable(path: Path) -> str | None:
    """Why a path is not a regular file we can read, without opening it (opening a FIFO blocks)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return "dangling symlink" if path.is_symlink() else "no such file"
    except OSError as error:
        if error.errno == 40:
            return "symlink loop"
        return f"unreadable: {error.strerror or error}"
    file_type = stat.S_IFMT(info.st_mode)
    if file_type in (stat.S_IFREG, stat.S_IFDIR):
        return None
    return f"not a regular file: {_FILE_TYPES.get(file_type, 'a special file')}"


def _once(entry: Entry, seen: set[tuple[int, int] | str]) -> Iterator[Entry]:
    """Each file once, by device and inode (`a.txt a.txt`, overlapping folders); by absolute path when the
    entry cannot be looked at (a dangling link, a loop)."""
    identity: tuple[int, int] | str
    try:
        info = entry.path.stat()
        identity = (info.st_dev, info.st_ino)
    except OSError:
        identity = os.path.abspath(entry.path)  # noqa: PTH100 - resolve() would follow the broken link
    if identity not in seen:
        seen.add(identity)
        yield entry


def read_inputs(paths: Iterable[str | Path], max_bytes: int) -> Iterator[RawDoc]:
    for entry in iter_entries(paths):
        if entry.problem:
            yield _refused(entry.path, entry.problem)
        else:
            yield from read_file(entry.path, max_bytes)


def _refused(path: Path, problem: str) -> RawDoc:
    name = printable_path(path.name)
    return RawDoc(f"file:{name}#{content_digest(printable_path(path).encode())[:16]}", printable_path(path),
                  "unknown", b"", problem=problem)


def read_file(path: Path, max_bytes: int) -> Iterator[RawDoc]:
    if is_archive(path):
        yield from read_archive(path, max_bytes)
        return
    content_format = FORMAT_BY_SUFFIX.get(path.suffix.lower())
    if content_format == "jsonl":
        yield from split_jsonl(path, max_bytes)
        return
    source_uri = printable_path(path)
    try:
        with path.open("rb") as handle:
            content = handle.read(max_bytes + 1)
    except OSError as error:
        yield _refused(path, f"unreadable: {error.strerror or error}")
        return
    if len(content) > max_bytes:
        yield RawDoc(file_doc_key(path, content), source_uri, content_format or "unknown", content[:max_bytes],
                     problem=f"too large: over {max_bytes} bytes")
    elif content_format is None:
        yield RawDoc(file_doc_key(path, content), source_uri, "unknown", content,
                     problem=f"unsupported file type {printable_path(path.suffix) or '(none)'!r}")
    else:
        yield RawDoc(file_doc_key(path, content), source_uri, content_format, content)


def split_jsonl(path: Path, max_bytes: int) -> Iterator[RawDoc]:
    """One RawDoc per non-blank line, read line by line: a JSONL file has no size cap, a line has `max_bytes`.

    The URL (when the line parses) becomes the key. A file with no line at all is one rejected input.
    """
    name, source = printable_path(path.name), printable_path(path)
    lines = 0
    try:
        with path.open("rb") as handle:
            for number, line in enumerate(_capped_lines(handle, max_bytes), start=1):
                if not line.strip():
                    continue
                lines += 1
                source_uri = f"{source}#L{number}"
                if len(line) > max_bytes:
                    yield RawDoc(f"file:{name}#L{number}#{content_digest(line)[:16]}", source_uri, "json",
                                 line[:max_bytes], problem=f"too large: line over {max_bytes} bytes")
                    continue
                url = _url_of(line)
                key = url_doc_key(url) if url else f"file:{name}#L{number}#{content_digest(line)[:16]}"
                yield RawDoc(key, source_uri, "json", line, url=url)
    except OSError as error:
        yield RawDoc(f"file:{name}#after-line-{lines}", f"{source}#after-line-{lines}", "json", b"",
                     problem=f"unreadable after {lines} lines: {error.strerror or error}")
        return
    if lines == 0:
        yield RawDoc(f"file:{name}#{content_digest(b'')[:16]}", source, "json", b"", problem="empty input")


def _capped_lines(handle: BinaryIO, max_bytes: int) -> Iterator[bytes]:
    """Lines of a binary file; a line longer than `max_bytes` is cut there and the rest of it skipped, so one
    enormous line costs at most `max_bytes` of memory."""
    while True:
        line = handle.readline(max_bytes + 1)
        if not line:
            return
        if len(line) > max_bytes and not line.endswith(b"\n"):
            while (rest := handle.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
        yield line.rstrip(b"\r\n")


def _url_of(line: bytes) -> str | None:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    url = record.get("url") if isinstance(record, dict) else None
    return without_surrogates(url.strip()) if isinstance(url, str) and url.strip() else None
