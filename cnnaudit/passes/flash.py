"""Flash: the .tflite file the converter would write = stored weights + flatbuffer tables.

The weight part is exact for the storage conventions in dtypes.py (on the lowered graph:
batch norm folded, biases added). The table overhead is a fitted estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import ops
from ..dtypes import DType
from ..ir import Graph
from ..ops.base import CostClass
from .cost import LayerCost

# Flatbuffer tables of a converted model, fitted on the converter's output for the accuracy
# corpus (tests/accuracy_corpus.py, TF 2.21): a fixed part (header, operator codes,
# subgraph, signature and metadata tables), a table entry per tensor (shape vector, type,
# buffer index, quantization table) and per operator (opcode, input/output vectors,
# options), an extra quantization table per int8 tensor, and the tensor names.
FILE_BASE_BYTES = 705
TENSOR_BYTES = 94
OPERATOR_BYTES = 20
QUANTIZED_TENSOR_BYTES = 30
# Converter tensor names are "model/layer/TfOp" joined by ";" for every TensorFlow op folded
# into an operator: the layer's name plus about NAME_EXTRA_BYTES, and NAME_MERGED_BYTES
# more for each further layer folded in (batch norm, activation). A folded operator's
# weights carry the long name too.
NAME_EXTRA_BYTES = 16
NAME_MERGED_BYTES = 70


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
    """A .tflite file is its own flash size (the rest is overhead); a lowered graph's file is
    estimated from its tensors, operators and names."""
    weights = biases = quant = 0
    tensors = operators = quantized = names = 0
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
        merged = node.attrs.get("merged", 1) if node.op == "tflite" else 1
        name = len(node.name) + NAME_EXTRA_BYTES + (merged - 1) * NAME_MERGED_BYTES
        constants = len(node.attrs.get("constants", ())) if node.op == "tflite" else 0
        tensors += len(node.outputs) + constants
        names += name + len(layer.weights) * name + (constants - len(layer.weights)) * (
            len(node.name) + NAME_EXTRA_BYTES)
        if cost_class is not CostClass.INPUT:
            operators += 1
    if dtype.quantized:
        quantized = tensors
    if graph.file_size is not None:
        stored = weights + biases + quant
        return FlashEstimate(weights, biases, quant, max(graph.file_size - stored, 0), True)
    overhead = (FILE_BASE_BYTES + TENSOR_BYTES * tensors + OPERATOR_BYTES * operators
                + QUANTIZED_TENSOR_BYTES * quantized + names)
    return FlashEstimate(weights, biases, quant, overhead)
