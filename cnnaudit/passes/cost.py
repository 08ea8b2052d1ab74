"""Parameters, MACs and weight bytes per layer, asked of each op's own rules."""

from __future__ import annotations

from dataclasses import dataclass

from .. import ops
from ..dtypes import DType
from ..ir import Graph, Shape
from ..ops.base import Weight


@dataclass(frozen=True)
class LayerCost:
    params: int
    trainable_params: int
    macs: int
    weights: tuple[Weight, ...]

    def weight_bytes(self, dtype: DType) -> int:
        return sum(dtype.weight_storage(w) for w in self.weights)


def layer_costs(graph: Graph, shapes: dict[str, Shape]) -> dict[str, LayerCost]:
    """Cost of every node, keyed by node name."""
    out: dict[str, LayerCost] = {}
    for node in graph.nodes:
        op = ops.get(node.op)
        ins = [shapes[t] for t in node.inputs]
        result = shapes[node.outputs[0]]
        # A shared layer's later calls reuse the first call's weights: count them once.
        weights = () if node.shares_weights_of else tuple(op.weights(node.attrs, ins, result))
        params = sum(w.size for w in weights)
        trainable = sum(w.size for w in weights if w.trainable) if node.trainable else 0
        out[node.name] = LayerCost(params, trainable, op.macs(node.attrs, ins, result), weights)
    return out
