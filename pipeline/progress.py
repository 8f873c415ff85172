"""How far long work has got, for whoever shows it. The engine says so (`start`, `advance`); the CLI listens and
draws a bar on a terminal or writes a line now and then elsewhere (`pipeline.cli`); a DAG task's log has the
engine's own log lines instead. With no listener, an advance costs a look at an empty list."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

Listener = Callable[[str, int, int | None], None]
"""Called with a stage's name, the units just done (0 when the stage starts) and its total when known."""
_listeners: list[Listener] = []
_Item = TypeVar("_Item")


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def start(stage: str, total: int | None = None) -> None:
    """A stage begins, with how many units it will do when that is known."""
    for listener in _listeners:
        listener(stage, 0, total)


def advance(stage: str, done: int = 1) -> None:
    for listener in _listeners:
        listener(stage, done, None)


def counted(stage: str, items: Iterable[_Item], total: int | None = None) -> Iterator[_Item]:
    """The items, advancing `stage` by one as each is handed on."""
    start(stage, total)
    for item in items:
        yield item
        advance(stage)
