"""A bounded memo for op rules: in a search loop the same layer (op, arguments, input
shapes) recurs across thousands of candidate networks, and its shape, weights, MACs and
lowering never change. Rules are pure functions of their arguments, so their results are
shared; results are tuples of frozen objects, so sharing cannot leak a mutation."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar

from ..ir import Shape

T = TypeVar("T")
MAX_ENTRIES = 8192  # about 1 KB each: a few MB at most, then start over

UNCACHED = frozenset({"tflite"})  # a .tflite operator's rules only read its attributes

_cache: dict[Hashable, Any] = {}


def rule(compute: Callable[[str, Mapping[str, Any], Sequence[Shape], Shape | None], T],
         op: str, attrs: Mapping[str, Any], inputs: Sequence[Shape],
         output: Shape | None = None) -> T:
    """`compute(op, attrs, inputs, output)`, or its earlier result for the same arguments."""
    if op in UNCACHED:
        return compute(op, attrs, inputs, output)
    try:
        # types are part of the key: 1, 1.0 and True are equal but not the same argument
        key = (compute, op, tuple((k, v.__class__, v) for k, v in attrs.items()),
               tuple(inputs), output)
        hit = _cache.get(key, _cache)
    except TypeError:  # an unhashable argument (e.g. a .tflite operator's options)
        return compute(op, attrs, inputs, output)
    if hit is not _cache:
        return hit  # type: ignore[no-any-return]
    value = compute(op, attrs, inputs, output)
    if len(_cache) >= MAX_ENTRIES:
        _cache.clear()
    _cache[key] = value
    return value


def clear() -> None:
    _cache.clear()
