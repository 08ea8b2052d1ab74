"""A bounded memo for op rules: in a search loop the same layer (op, arguments, input
shapes) recurs across thousands of candidate networks, and its shape, weights, MACs and
lowering never change. Rules are pure functions of their arguments, so their results are
shared; results are tuples of frozen objects, so sharing cannot leak a mutation.

`ENABLED` switches this memo and every other fast path of the pipeline (they all ask
`fast()`) off, so a test can compare a report built the slow, obvious way with the fast
one; the environment variable CNNAUDIT_NO_FASTPATHS=1 starts with them off."""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar

from ..ir import Node, Shape
from .base import get

T = TypeVar("T")
MAX_ENTRIES = 8192  # about 1 KB each: a few MB at most, then start over

ENABLED = not os.environ.get("CNNAUDIT_NO_FASTPATHS")

_cache: dict[Hashable, Any] = {}
_ids: dict[Hashable, int] = {}  # (op, attrs_key) -> its number (node_key)
_generation = 0
_MISSING = object()


def fast() -> bool:
    """Whether memos and fast paths may be used (tests switch them off for a reference)."""
    return ENABLED


def attrs_key(op: str, attrs: Mapping[str, Any]) -> Hashable | None:
    """The op's own memo key for these attributes (None: do not memoise), see Op.rule_key."""
    try:
        key = get(op).rule_key(attrs)
        hash(key)
    except TypeError:  # an unhashable argument
        return None
    return key


def node_key(node: Node) -> Hashable | None:
    """`attrs_key` of a node's op and attributes as a small number, computed once per node:
    three passes memoise on it, and hashing a number is cheaper than hashing every
    attribute three times. A Node never changes, so the number is kept on the node itself,
    with the memo's generation: a number is only valid until the memo starts over."""
    got = node.__dict__.get("_rule_key")
    if got is not None and got[0] == _generation:
        return got[1]  # type: ignore[no-any-return]
    key = attrs_key(node.op, node.attrs)
    number = None if key is None else _ids.setdefault((node.op, key), len(_ids))
    object.__setattr__(node, "_rule_key", (_generation, number))
    return number


def rule(compute: Callable[[str, Mapping[str, Any], Sequence[Shape], Shape | None], T],
         op: str, attrs: Mapping[str, Any], inputs: Sequence[Shape],
         output: Shape | None = None, key: object = _MISSING) -> T:
    """`compute(op, attrs, inputs, output)`, or its earlier result for the same arguments.
    `key` is `attrs_key(op, attrs)` when the caller already has it (None: not memoised)."""
    if not ENABLED:
        return compute(op, attrs, inputs, output)
    if key is _MISSING:
        key = attrs_key(op, attrs)
    if key is None:
        return compute(op, attrs, inputs, output)
    full = (compute, op, key, tuple(inputs), output)
    try:
        hit = _cache.get(full, _cache)
    except TypeError:  # an unhashable argument
        return compute(op, attrs, inputs, output)
    if hit is not _cache:
        return hit  # type: ignore[no-any-return]
    value = compute(op, attrs, inputs, output)
    if len(_cache) >= MAX_ENTRIES or len(_ids) >= MAX_ENTRIES:
        clear()  # and do not keep this one: its key may hold a number of the old generation
        return value
    _cache[full] = value
    return value


def shared(key: tuple[Hashable, ...], anchors: tuple[object, ...], make: Callable[..., T],
           *args: Any) -> T:
    """`make(*args)`, or its earlier result for the same key. A key may name objects by
    `id()` (hashing an id is cheap, hashing a lowered operator is not); those objects are
    the `anchors`, kept with the result, so their ids cannot be reused by other objects
    while the result can still be found. (Anchors compare by identity first, then by
    value: an equal object gives the same result.)"""
    if not ENABLED:
        return make(*args)
    hit = _shared.get(key)
    if hit is not None and hit[0] == anchors:
        return hit[1]  # type: ignore[no-any-return]
    value = make(*args)
    if len(_shared) >= MAX_ENTRIES:
        _shared.clear()
    _shared[key] = (anchors, value)
    return value


_shared: dict[tuple[Hashable, ...], tuple[tuple[object, ...], Any]] = {}


def kept(obj: object, key: Hashable, compute: Callable[..., T], *args: Any) -> T:
    """`compute(obj, *args)`, kept on `obj` under `key` (which names everything else the
    answer depends on). `obj` is immutable and, in a search loop, shared between
    candidates: a node (`shared`), a layer's cost or an operator's work (rule results), so
    its answer is worked out once. A pass may read a node's graph here only where every
    graph holding the node agrees: lowered nodes are shared between graphs of one dtype,
    whose tensors all have that dtype's types."""
    if not ENABLED:
        return compute(obj, *args)
    try:  # the hit, asked a few hundred times per audit: an attribute read, a subscript
        return obj._facts[key]  # type: ignore[attr-defined, no-any-return]
    except AttributeError:
        facts: dict[Hashable, Any] = {}
        object.__setattr__(obj, "_facts", facts)  # frozen dataclasses: no plain setattr
    except KeyError:
        facts = obj._facts  # type: ignore[attr-defined]
    hit = facts[key] = compute(obj, *args)
    return hit


def node_rule(compute: Callable[[str, Mapping[str, Any], Sequence[Shape], Shape | None], T],
              node: Node, inputs: Sequence[Shape], output: Shape | None = None) -> T:
    """`rule` for a node: the answer is kept on the node itself too (nodes are shared
    between candidates), under the input shapes when the op's rules read them."""
    if not ENABLED:
        return compute(node.op, node.attrs, inputs, output)
    # the node and its input shapes decide its output shape: `output` adds nothing here
    try:  # `kept`, its hit without a call: every pass asks
        facts = node._facts  # type: ignore[attr-defined]
    except AttributeError:
        facts = None
    if facts is not None:
        # The answer is kept under (compute, *inputs) when the op's rules read the input
        # shapes, else under compute; a node's op never changes, so only one of the two
        # can be there, and the hit needs no look-up of the op.
        hit = facts.get((compute, *inputs), _MISSING)
        if hit is _MISSING:
            hit = facts.get(compute, _MISSING)
        if hit is not _MISSING:
            return hit  # type: ignore[no-any-return]
    local = (compute, *inputs) if get(node.op).rules_read_inputs else compute
    return kept(node, local, _node_rule, compute, inputs, output)


def _node_rule(node: Node, compute: Callable[[str, Mapping[str, Any], Sequence[Shape],
                                              Shape | None], T],
               inputs: Sequence[Shape], output: Shape | None) -> T:
    return rule(compute, node.op, node.attrs, inputs, output, key=node_key(node))


_CLEAR_ALSO: list[Callable[[], None]] = []


def also_clear(other: Callable[[], None]) -> None:
    """Have `clear` empty another module's memo too (the spec frontend's)."""
    _CLEAR_ALSO.append(other)


def clear() -> None:
    """Start over (numbers handed out by `node_key` become invalid); nodes made after this
    are new objects, with nothing kept on them."""
    global _generation
    _cache.clear()
    _ids.clear()
    _shared.clear()
    for other in _CLEAR_ALSO:
        other()
    _generation += 1
