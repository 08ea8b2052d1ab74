"""Arena planners over plain (size, first_use, last_use) records.

`greedy_plan` follows TensorFlow Lite Micro's GreedyMemoryPlanner: buffers are placed
largest first (by 16-byte aligned size; equal sizes in reverse order of addition, because
TFLM fills its sort array from the tail and sorts it stably), each at the lowest offset
where it overlaps no already-placed buffer whose lifetime intersects its own.
`linear_plan` stacks every buffer end to end: the baseline a planner must beat.
`verify_plan` checks no two live buffers overlap.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from collections.abc import Sequence
from typing import NamedTuple

ALIGNMENT = 16  # TFLM's kBufferAlignment (micro/memory_helpers.h)


def align(n: int, alignment: int = ALIGNMENT) -> int:
    return (n + alignment - 1) // alignment * alignment


class Buffer(NamedTuple):
    """One activation buffer: `first` and `last` are the steps it must be valid in. (A
    tuple: every audit makes one per tensor, and a tuple is made in a fifth of the time of
    a frozen dataclass.)"""

    name: str
    size: int
    first: int
    last: int

    def overlaps_in_time(self, other: Buffer) -> bool:
        return self.first <= other.last and other.first <= self.last


def greedy_plan(buffers: Sequence[Buffer], alignment: int = ALIGNMENT) -> dict[str, int]:
    """Offsets for every buffer, largest first, lowest gap that fits.

    >>> greedy_plan([Buffer("a", 32, 0, 1), Buffer("b", 16, 1, 2), Buffer("c", 32, 2, 3)])
    {'c': 0, 'a': 0, 'b': 32}
    """
    return greedy_placement(buffers, alignment)[0]


def greedy_placement(buffers: Sequence[tuple[str, int, int, int]],
                     alignment: int = ALIGNMENT) -> tuple[dict[str, int], int]:
    """`greedy_plan`'s offsets and the size of its plan (what `plan_size` would find).
    `buffers` may be plain tuples of a Buffer's fields (the arena pass makes those)."""
    sizes = [(b[1] + alignment - 1) // alignment * alignment for b in buffers]  # align()
    placed: list[tuple[int, int, int, int]] = []  # (offset, end, first, last), by offset
    offsets: dict[str, int] = {}
    # largest first, equal sizes in reverse order of addition: (size, index) descending
    for size, i in sorted(zip(sizes, itertools.count()), reverse=True):
        name, _, first, last = buffers[i]
        candidate = 0
        for start, end, other_first, other_last in placed:
            if other_first > last or first > other_last:
                continue  # never live at the same time
            if start >= candidate + size:
                break  # the gap before `other` is big enough
            if end > candidate:
                candidate = end
        offsets[name] = candidate
        bisect.insort(placed, (candidate, candidate + size, first, last))
    return offsets, max(map(operator.itemgetter(1), placed), default=0)


def linear_plan(buffers: Sequence[Buffer], alignment: int = ALIGNMENT) -> dict[str, int]:
    """Every buffer after the previous one: no reuse at all."""
    offsets, top = {}, 0
    for buf in buffers:
        offsets[buf.name] = top
        top += align(buf.size, alignment)
    return offsets


def plan_size(buffers: Sequence[Buffer], offsets: dict[str, int],
              alignment: int = ALIGNMENT) -> int:
    return max((offsets[b.name] + align(b.size, alignment) for b in buffers), default=0)


def verify_plan(buffers: Sequence[Buffer], offsets: dict[str, int],
                alignment: int = ALIGNMENT) -> None:
    """Raise AssertionError if two buffers live at the same time share bytes."""
    for i, a in enumerate(buffers):
        a0, a1 = offsets[a.name], offsets[a.name] + align(a.size, alignment)
        for b in buffers[i + 1:]:
            b0, b1 = offsets[b.name], offsets[b.name] + align(b.size, alignment)
            if a.overlaps_in_time(b) and a0 < b1 and b0 < a1:
                raise AssertionError(f"buffers {a.name} and {b.name} overlap")


def live_bytes(buffers: Sequence[tuple[str, int, int, int]], steps: int) -> list[int]:
    """Bytes that must be live at each step: a lower bound for any planner."""
    change = [0] * (steps + 1)  # what starts (+) and stops (-) being live at each step
    for _, size, first, last in buffers:
        change[first] += size
        change[last + 1] -= size
    return list(itertools.accumulate(change[:steps]))
