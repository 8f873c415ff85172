"""What a source is: something that yields raw documents and may carry state it resumes from.

Every input kind (folders of files, web archives, web listings, a stream) implements `Source`. A run reads a
source through `plan`, which streams its documents into bounded batches; what the source must remember for
next time (a listing's validators, a stream's offsets) comes back from `states()` once reading is done, travels
with the plan, and is committed by the load in the same transaction as the rows it produced, so a crash can
never separate "consumed" from "stored". See DESIGN.md, "Adding a source".
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, Self

from pipeline.records import RawDoc
from pipeline.sources.keys import printable_path


@dataclass(frozen=True)
class SourceState:
    """What one source (`source_id`: a listing URL, a stream and consumer group) resumes from next run."""

    source_id: str
    kind: str
    value: dict[str, Any]
    """JSON-serialisable."""


def nothing_settled(keys: set[str]) -> set[str]:
    return set()


@dataclass(frozen=True)
class ReadContext:
    """What a source may know of the store while it reads: it never opens the store itself."""

    max_bytes: int
    known: Mapping[str, SourceState] = field(default_factory=dict)
    """The states committed by earlier runs, by `source_id`."""
    settled: Callable[[set[str]], set[str]] = nothing_settled
    """Of the given page keys (`url:<canonical URL>`), those already settled: a source that can avoid reading
    what is known (a fetcher) asks before it reads."""


class Source(Protocol):
    """An input kind. `kind` is its name in the registry (`pipeline.sources.registry`)."""

    kind: ClassVar[str]

    @property
    def label(self) -> str:
        """What was read, for the run's `source` column and its messages."""
        ...

    def read(self, context: ReadContext) -> Iterator[RawDoc]:
        """Every input, in a stable order, each exactly once; a problem is an input with `problem` set, never an
        exception and never a silent skip."""
        ...

    def states(self) -> list[SourceState]:
        """After `read` is exhausted: what to commit with the load. Empty for stateless sources."""
        ...


@dataclass(frozen=True)
class PathSource:
    """What every source read from named paths shares: built from existing paths, labelled by them, stateless
    (an input's key carries the digest of its bytes, so a replay of the same bytes is settled before extraction).
    A subclass gives its `kind` and `read`."""

    paths: tuple[str, ...]

    @classmethod
    def from_arguments(cls, arguments: list[str]) -> Self:
        missing = [argument for argument in arguments if not os.path.lexists(argument)]
        if missing:
            raise ValueError(f"no such file or folder: {', '.join(missing)}")
        return cls(tuple(arguments))

    @property
    def label(self) -> str:
        return ",".join(printable_path(path) for path in self.paths)

    def states(self) -> list[SourceState]:
        return []
