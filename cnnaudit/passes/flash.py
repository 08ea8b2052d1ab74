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
    weights_bytes: int  # kernels and other constant values
    bias_bytes: int
    quant_bytes: int  # scales and zero points
    overhead_bytes: int  # flatbuffer tables, names, metadata, alignment
    exact: bool = False  # True when measured from the file itself

    @property
    def stored_weight_bytes(self) -> int:
        return self.weights_bytes + self.bias_bytes + self.quant_bytes

    @property
    def total_bytes(self) -> int:
        return self.stored_weight_bytes + self.overhead_bytes

    def breakdown(self) -> dict[str, int]:
        return {"weights": self.weights_bytes, "biases": self.bias_bytes,
                "quantization": self.quant_bytes, "overhead": self.overhead_bytes}


def estimate_flash(graph: Graph, costs: dict[str, LayerCost], dtype: DType) -> FlashEstimate:
    """A .tflite file is its own flash size (the rest is overhead); else it is estimated."""
    weights = biases = quant = 0
    overhead = FILE_BASE_BYTES
    for node in graph.nodes:
        cost_class = ops.get(node.op).node_cost_class(node.attrs)
        if cost_class is CostClass.IDENTITY:
            continue
        layer = costs[node.name]
        for w in layer.weights:
            if w.role == "bias":
                biases += dtype.data_bytes(w)
            else:
                weights += dtype.data_bytes(w)
            quant += dtype.quant_bytes(w)
        overhead += TENSOR_BYTES * (len(node.outputs) + len(layer.weights))
        overhead += BUFFER_ALIGN * len(layer.weights)
        if cost_class is not CostClass.INPUT:
            overhead += OPERATOR_BYTES
    if graph.file_size is not None:
        stored = weights + biases + quant
        return FlashEstimate(weights, biases, quant, max(graph.file_size - stored, 0), True)
    return FlashEstimate(weights, biases, quant, overhead)
