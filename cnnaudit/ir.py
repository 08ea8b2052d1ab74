"""The one graph IR every frontend produces and every pass reads.

Nodes are ops with attributes; edges are named tensors. Nodes are stored in execution
(topological) order. The IR is immutable: passes return new results instead of writing
onto it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

Shape = tuple[int, ...]
"""A tensor shape without the batch dimension, channels last."""


class Location(NamedTuple):
    """Where a node came from, for error messages (a YAML line, a layer in a file)."""

    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return self.file or ""


NOWHERE = Location()


@dataclass(frozen=True)
class Node:
    name: str
    op: str
    attrs: Mapping[str, Any]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    where: Location = NOWHERE
    trainable: bool = True
    shares_weights_of: str | None = None  # a later call of a shared layer: weights counted once

    def __post_init__(self) -> None:
        object.__setattr__(self, "attrs", MappingProxyType(dict(self.attrs)))


@dataclass(frozen=True)
class Graph:
    """A model: nodes in execution order, graph input and output tensor names."""

    name: str
    nodes: tuple[Node, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    source: str = "<memory>"
    format: str = "spec"
    warnings: tuple[str, ...] = ()  # what the frontend noticed but could audit anyway
    tensor_dtypes: Mapping[str, str] = field(default_factory=dict)  # when the file says
    file_size: int | None = None  # bytes of the model file, when it is what gets flashed
    dtype: str | None = None  # the deployment dtype, when the file fixes it (.tflite)
    tensor_count: int | None = None  # tensors in the file (constants too), when known


def toposort(nodes: list[Node], available: set[str]) -> list[Node]:
    """Nodes in an order where every input is produced first (stable: keeps the given order
    where it can). `available` are tensors that exist before any node runs.

    Raises ValueError naming a node whose inputs never become available (a cycle or a
    dangling reference).
    """
    ready = set(available)
    pending = list(nodes)
    order: list[Node] = []
    while pending:
        progress = False
        rest: list[Node] = []
        for node in pending:
            if all(t in ready for t in node.inputs):
                order.append(node)
                ready.update(node.outputs)
                progress = True
            else:
                rest.append(node)
        if not progress:
            stuck = rest[0]
            missing = [t for t in stuck.inputs if t not in ready]
            raise ValueError(f"layer {stuck.name!r} waits for {missing[0]!r}, which no layer "
                             "produces before it (a cycle or a missing layer)")
        pending = rest
    return order


def verify(graph: Graph) -> None:
    """Check the invariants passes rely on; a failure here is a frontend bug, not user error."""
    seen: set[str] = set()
    names: set[str] = set()
    for node in graph.nodes:
        if node.name in names:
            raise AssertionError(f"duplicate node name {node.name!r}")
        names.add(node.name)
        for t in node.inputs:
            if t not in seen:
                raise AssertionError(f"node {node.name!r} reads {t!r} before it is produced")
        for t in node.outputs:
            if t in seen:
                raise AssertionError(f"tensor {t!r} produced twice")
            seen.add(t)
    for t in (*graph.inputs, *graph.outputs):
        if t not in seen:
            raise AssertionError(f"graph tensor {t!r} is never produced")
