"""Consecutive items in bounded groups: the plan settles inputs a group at a time, the load reads processed batches
a chunk at a time."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

_Item = TypeVar("_Item")


def bounded_groups(items: Iterable[_Item], weight: Callable[[_Item], int], max_weight: int,
                   max_count: int | None = None) -> Iterator[list[_Item]]:
    """The items in order, a group closed by the item that brings it to `max_weight` in all or to `max_count`
    items; so an item heavier than the limit closes its group at once."""
    group: list[_Item] = []
    held = 0
    for item in items:
        group.append(item)
        held += weight(item)
        if held >= max_weight or (max_count is not None and len(group) >= max_count):
            yield group
            group, held = [], 0
    if group:
        yield group
