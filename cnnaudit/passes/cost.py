"""Parameters, MACs and weight bytes per layer, asked of each op's own rules."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .. import ops
from ..dtypes import DType
from ..ir import Graph, Node, Shape
from ..ops import memo
from ..ops.base import Weight


@dataclass(frozen=True)
class LayerCost:
    params: int
    trainable_params: int
    macs: int
    weights: tuple[Weight, ...]

    def weight_bytes(self, dtype: DType) -> int:
        """Bytes of its weights at `dtype`. A layer's cost is shared by every audit that
        meets the layer again (ops/memo.py), so the answer is kept on it per dtype."""
        return memo.kept(self, ("bytes", dtype.name), _weight_bytes, dtype)


def _weight_bytes(cost: LayerCost, dtype: DType) -> int:
    return sum(dtype.weight_storage(w) for w in cost.weights)


def layer_costs(graph: Graph, shapes: dict[str, Shape]) -> dict[str, LayerCost]:
    """Cost of every node, keyed by node name."""
    return {node.name: node_cost(node, shapes) for node in graph.nodes}


class LazyCosts(Mapping[str, LayerCost]):
    """`layer_costs`, each node's worked out when first asked for: the passes that read a
    lowered graph's costs keep their answers on its (shared) nodes, and ask only on a miss."""

    def __init__(self, graph: Graph, shapes: Mapping[str, Shape]) -> None:
        self._graph, self._shapes = graph, shapes
        self._nodes: dict[str, Node] | None = None
        self._done: dict[str, LayerCost] = {}

    def __getitem__(self, name: str) -> LayerCost:
        got = self._done.get(name)
        if got is None:
            if self._nodes is None:
                self._nodes = {n.name: n for n in self._graph.nodes}
            got = self._done[name] = node_cost(self._nodes[name], self._shapes)
        return got

    def __iter__(self) -> Iterator[str]:
        return (n.name for n in self._graph.nodes)

    def __len__(self) -> int:
        return len(self._graph.nodes)


def node_cost(node: Node, shapes: Mapping[str, Shape]) -> LayerCost:
    """The cost of one node, its tensors' shapes known."""
    ins = list(map(shapes.__getitem__, node.inputs))  # map: no frame per node (3.11)
    cost = memo.node_rule(_cost, node, ins, shapes[node.outputs[0]])
    # A shared layer's later calls reuse the first call's weights: count them once.
    if node.shares_weights_of:
        return LayerCost(0, 0, cost.macs, ())
    if not node.trainable and cost.trainable_params:
        return replace(cost, trainable_params=0)
    return cost


def _cost(name: str, attrs: Mapping[str, Any], ins: Sequence[Shape],
          result: Shape | None) -> LayerCost:
    op = ops.get(name)
    assert result is not None
    weights = tuple(op.weights(attrs, ins, result))
    return LayerCost(sum(w.size for w in weights), sum(w.size for w in weights if w.trainable),
                     op.macs(attrs, ins, result), weights)
