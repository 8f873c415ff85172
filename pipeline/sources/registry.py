"""The source kinds: what `news ingest --kind` and the `news_ingest` DAG's `kind` Param offer, and the kinds of
web listings `news fetch --kind` and the `news_fetch` DAG take.

Kinds are names of `module:Class` paths, imported only when a source of that kind is built, so reading the
vocabulary (a DAG file being parsed, the CLI's help) loads no parser or network library. Adding a kind is a
module with a class implementing `pipeline.sources.base.Source` plus a `from_arguments` class method, and one
line here (DESIGN.md, "Adding a source").
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.sources.base import Source

SOURCE_KINDS: dict[str, str] = {
    "files": "pipeline.sources.files:FileSource",
    "warc": "pipeline.sources.warc:ArchiveSource",
    "stream": "pipeline.sources.stream:StreamSource",
}
"""Kind name → the class that reads it, built from command-line arguments (paths, names, addresses)."""

DEFAULT_KIND = "files"

LISTING_KINDS = ("feed", "sitemap", "urls")
"""What a web listing may be (`pipeline.sources.web`); the first is the default."""


def source_for(kind: str, arguments: list[str]) -> Source:
    """The source of `kind` over `arguments`; ValueError with a one-line message for an unknown kind or
    arguments the kind cannot read."""
    if kind not in SOURCE_KINDS:
        raise ValueError(f"unknown source kind {kind!r}; use one of {', '.join(SOURCE_KINDS)}")
    module, _, name = SOURCE_KINDS[kind].partition(":")
    return getattr(importlib.import_module(module), name).from_arguments(arguments)
