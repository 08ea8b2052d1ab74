"""Flash: the .tflite file the converter would write = stored weights + flatbuffer tables.

The weight part is exact for the storage conventions in dtypes.py. The table overhead
is an estimate per tensor and per operator until the converter-calibrated model
(lowering to TFLite ops) replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import ops
from ..dtypes import DType
from ..ir import Graph
from ..ops.base import CostClass
from .cost import LayerCost

FILE_BASE_BYTES = 1_200  # header, operator codes, subgraph, signature and metadata tables
TENSOR_BYTES = 96  # tensor table entry: shape vector, type, buffer index, name, quantization
OPERATOR_BYTES = 48  # operator table entry: opcode index, input/output vectors, options
BUFFER_ALIGN = 16  # constant buffers are aligned in the file


@dataclass(frozen=True)
class FlashEstimate:
    weights_bytes: int
    overhead_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.overhead_bytes


def estimate_flash(graph: Graph, costs: dict[str, LayerCost], dtype: DType) -> FlashEstimate:
    weights = 0
    overhead = FILE_BASE_BYTES
    for node in graph.nodes:
        cost_class = ops.get(node.op).cost_class
        if cost_class is CostClass.IDENTITY:
            continue
        layer = costs[node.name]
        weights += layer.weight_bytes(dtype)
        overhead += TENSOR_BYTES * (len(node.outputs) + len(layer.weights))
        overhead += BUFFER_ALIGN * len(layer.weights)
        if cost_class is not CostClass.INPUT:
            overhead += OPERATOR_BYTES
    return FlashEstimate(weights, overhead)
