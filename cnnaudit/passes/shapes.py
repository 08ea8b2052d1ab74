"""Shape inference: every tensor's shape, in execution order, with errors that say where."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .. import ops
from ..errors import ShapeError
from ..ir import Graph, Node, Shape
from ..ops import memo

MAX_ELEMENTS = 2**31 - 1  # TFLite indexes tensors with int32; anything bigger is a typo


def _fail(node: Node, message: str) -> ShapeError:
    return ShapeError(f"layer {node.name!r} ({node.op}): {message}",
                      file=node.where.file, line=node.where.line)


def _output_shapes(op: str, attrs: Mapping[str, Any], inputs: Sequence[Shape],
                   _: Shape | None) -> tuple[tuple[Shape, ...], str | None]:
    """The op's output shapes, and what is wrong with the first bad one (None: nothing);
    checked here, so a memoised layer is not checked again."""
    outs = tuple(tuple(s) for s in ops.get(op).output_shapes(attrs, inputs))
    for out in outs:
        if out and min(out) <= 0:
            return outs, f"output shape {list(out)} has an empty dimension"
        if math.prod(out) > MAX_ELEMENTS:
            return outs, (f"output shape {list(out)} has {math.prod(out):,} elements, more "
                          "than any microcontroller tensor can hold")
    return outs, None


def infer_shapes(graph: Graph) -> dict[str, Shape]:
    """Map every tensor name to its shape (batch omitted)."""
    shapes: dict[str, Shape] = {}
    for node in graph.nodes:
        inputs = list(map(shapes.__getitem__, node.inputs))  # map: no frame per node (3.11)
        try:
            outs, problem = memo.node_rule(_output_shapes, node, inputs)
        except ops.OpError as exc:
            raise _fail(node, str(exc)) from None
        if len(outs) != len(node.outputs):
            raise _fail(node, f"{len(outs)} output shapes for {len(node.outputs)} outputs")
        if problem:
            raise _fail(node, problem)
        if len(outs) == 1:  # the usual case, without a zip (its keyword costs more)
            shapes[node.outputs[0]] = outs[0]
        else:
            shapes.update(zip(node.outputs, outs, strict=True))
    return shapes


class LazyShapes(Mapping[str, Shape]):
    """The shapes of a lowered graph, worked out when asked for: the passes that read them
    keep their answers on its (shared) nodes, and ask only on a miss. A lowered operator
    states its output shapes, so one tensor's shape is read from its producer; iterating
    runs `infer_shapes` on the whole graph."""

    def __init__(self, graph: Graph) -> None:
        self._graph = graph
        self._shapes: dict[str, Shape] | None = None
        self._producers: dict[str, tuple[Node, int]] | None = None

    def _all(self) -> dict[str, Shape]:
        if self._shapes is None:
            self._shapes = infer_shapes(self._graph)
        return self._shapes

    def __getitem__(self, tensor: str) -> Shape:
        if self._shapes is None:
            if self._producers is None:
                self._producers = {t: (n, i) for n in self._graph.nodes
                                   for i, t in enumerate(n.outputs)}
            node, i = self._producers[tensor]
            if node.op == "tflite":  # its shape rule reads its attributes, not its inputs
                return ops.get(node.op).output_shapes(node.attrs, ())[i]
        return self._all()[tensor]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())
