"""Flash: the .tflite file the converter would write = stored weights + flatbuffer tables.

The weight part is exact for the storage conventions in dtypes.py (on the lowered graph:
batch norm folded, biases added). The rest is the flatbuffer the TF 2.21 converter writes,
piece by piece: a table per tensor (shape vector, name string, quantization table with its
scale and zero-point vectors, buffer), per operator (input/output vectors, options table)
and per operator code, the signature and metadata tables, string and data padding. The
tensor names follow the converter's rules: "<model>_1/<layer scope>/<TensorFlow op>" joined
by ";" for every op folded into an operator, layer scopes uniquified the way TensorFlow
does when Keras traces the model. Sizes of fixed-layout tables are the converter's; the
few averaged constants are marked.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from .. import ops
from ..dtypes import DType
from ..ir import Graph, Node
from ..ops import memo
from ..ops.base import CostClass
from ..ops.tflite import BIAS_INPUT, KERNEL_INPUT, OPTIONS_BYTES
from .cost import LayerCost

Names = tuple[tuple[str, str], ...]  # (Keras layer, TensorFlow op) pairs

# Fixed part: file identifier and root offset 8, model table 52, "MLIR Converted." 20,
# subgraph table and vector 46, its name "main" 12, the empty buffer 0 with its slot 8,
# the tensor vtable 22, the lengths of the tensor, buffer, operator, operator code and
# subgraph input/output vectors 24, the metadata (two entries naming
# min_runtime_version and CONVERSION_METADATA, with their 16- and 96-byte buffers) 236, and
# the signature def "serving_default" 62 (less 4: the tensor map of tensor 0 leaves its
# index out, a default).
FILE_BASE_BYTES = 8 + 52 + 20 + 46 + 12 + 8 + 22 + 24 + 236 + 62 - 4
TENSOR_TABLE_BYTES = {False: 24, True: 28}  # a tensor's table: float model, int8 model
TENSOR_FIXED_BYTES = 4 + 4 + 4 + 4  # vector slot, shape vector length, buffer slot and table
QUANT_TABLE_BYTES = 4  # an empty quantization table (float tensors, int32 operands)
QUANTIZED_BYTES = 8 + 8  # scale and zero-point fields, their vector lengths
QUANT_VTABLE_BYTES = {False: 4, True: 12}
CONSTANT_BYTES = 4 + 4  # a buffer with data: its data field, the data length
SIGNATURE_ENTRY_BYTES = 12 + 4  # a tensor map table and its vector slot
# Operator: its vector slot, input and output vector lengths, and its table (fields at
# 4-byte alignment, averaged over the corpus: 14 without an options table, 23 with one).
OPERATOR_BYTES = 4 + 8
OPERATOR_TABLE_BYTES = {False: 14, True: 23}
# An operator code: its vector slot and table (with a version field when the version is
# above 1, as int8 kernels' are: 16 bytes, else 12; a vtable per layout). Options tables
# share vtables by layout: a few, 16 bytes in all on average.
OPCODE_BYTES = {False: 4 + 12, True: 4 + 16}
OPCODE_VTABLE_BYTES = {False: 12, True: 24}
OPTIONS_VTABLE_BYTES = 16
OPERATOR_VTABLE_BYTES = 56  # operator vtables, about four distinct layouts
# Fitted on the accuracy corpus: padding the converter inserts (int64 zero-point vectors
# are 8-byte aligned; strings and tables before data), and the name of a constant operand
# (axes, shapes, paddings) in its layer's scope ("Mean/reduction_indices",
# "convolution/ExpandDims", "strided_slice/stack", "Const"), on average.
PADDING_BYTES = 50
QUANTIZED_PADDING_BYTES = 2
OPERAND_NAME_BYTES = 18
# Names the converter gives constants it creates itself ("arith.constant", numbered) and
# model outputs; inputs are "serving_default_<input>:0".
CREATED_NAME_BYTES = len("arith.constant")
OUTPUT_NAME_BYTES = len("StatefulPartitionedCall_1:0")
# Fallback for an operator without names (a float16 DEQUANTIZE, a .tflite graph).
NAME_EXTRA_BYTES = 16


class FlashEstimate(NamedTuple):
    """The file's bytes by part (a named tuple: made once per audit, in a fraction of a
    frozen dataclass's time)."""

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


def _string(n: int) -> int:
    """A flatbuffer string: length, bytes, NUL, padded to 4."""
    return 4 + (n + 1 + 3) // 4 * 4


def _unique(name: str, used: dict[str, int]) -> str:
    """TensorFlow's Graph.unique_name: a name already in use gets the next free _N."""
    key = name.lower()
    i = used.get(key, 0)
    used[key] = i + 1
    if i == 0:
        return name
    base = key
    while key in used:
        key = f"{base}_{i}"
        i += 1
    used[key] = 1
    return f"{name}_{i - 1}"


def _scopes(layers: Iterable[str]) -> dict[str, str]:
    """Each layer's name scope in the traced model: Keras 3 enters a layer's scope twice
    (the symbolic call, then the traced one), so `dense` is `dense_1`, `dense_1` is
    `dense_1_2`."""
    used: dict[str, int] = {}
    scopes: dict[str, str] = {}
    for layer in layers:
        if layer not in scopes:
            _unique(layer, used)
            scopes[layer] = _unique(layer, used)
    return scopes


class _Names:
    def __init__(self, graph: Graph) -> None:
        self.model = len(graph.name) + len("_1/")
        unique: dict[str, None] = {}  # the layers, in order of first mention
        for node in graph.nodes:
            for layer, _ in node.attrs.get("names", ()):
                if layer:
                    unique[layer] = None
        layers = tuple(unique)
        # candidates of one search share their layer names: so do their scopes
        self.scopes, self.version = memo.shared(("scopes", layers), (), _versioned_scopes,
                                                layers)

    def length(self, pairs: Iterable[tuple[str, str]]) -> int:
        """Length of the ";"-joined name of these (layer, op) pairs; an empty pair is an
        empty part."""
        parts = [self.model + len(self.scopes[layer]) + 1 + len(op) if layer else 0
                 for layer, op in pairs]
        return sum(parts) + max(len(parts) - 1, 0)

    def prefix(self, layer: str) -> int:
        return self.model + len(self.scopes[layer]) + 1


_versions = itertools.count()


def _versioned_scopes(layers: tuple[str, ...]) -> tuple[dict[str, str], int]:
    """The scopes, with a number no other scopes ever get: a key for what depends on them."""
    return _scopes(layers), next(_versions)


def _operand_key(node: Node, position: int, in_shape: tuple[int, ...] | None) -> object:
    """Equal constant operands are stored once: what an integer operand holds."""
    builtin = node.attrs["builtin"]
    out = tuple(node.attrs["output_shapes"][0])
    if builtin == "RESHAPE":
        return ("shape", out)
    if builtin in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD") and in_shape:
        return ("axes", len(in_shape))
    if builtin == "TILE" and in_shape and len(in_shape) == len(out):
        return ("multiples", tuple(o // max(i, 1) for o, i in zip(out, in_shape, strict=True)))
    return (builtin, position, in_shape, out)


def _constant_names(builtin: str, pairs: Names) -> tuple[Names, Names]:
    """The (layer, op) pairs naming an operator's kernel and bias. The kernel is named after
    the convolution or matmul; a batch norm folded into a depthwise kernel scales it, so its
    muls (and the convolution's other ops) join. The bias holds the whole fused name (a
    dense layer's: without the MatMul); a bias the converter made up (zeros for a layer with
    none and nothing folded) is an "arith.constant" (empty here)."""
    if not pairs:
        return (), ()
    kernel: Names = pairs[:1]
    if builtin == "DEPTHWISE_CONV_2D" and any(p[1] == "batchnorm/mul" for p in pairs):
        kernel = tuple(p for p in pairs if p[0] == pairs[0][0] and p[1] not in (
            "Relu", "Relu6")) + tuple(p for p in pairs if p[1] in (
                "batchnorm/mul_1", "batchnorm/mul"))
    made = not any(p[1] in ("BiasAdd", "batchnorm/sub") for p in pairs)
    bias = () if made else pairs[1:] if builtin == "FULLY_CONNECTED" else pairs
    return kernel, bias


def estimate_flash(graph: Graph, costs: Mapping[str, LayerCost],
                   dtype: DType) -> FlashEstimate:
    """A .tflite file is its own flash size (the rest is overhead); a lowered graph's file is
    estimated from its tensors, operators and names."""
    key = ("stored", dtype.name)
    per_node = [memo.kept(node, key, _stored, costs, dtype) for node in graph.nodes]
    # column sums (the zeros: a graph without nodes stores nothing)
    weights, biases, quant = map(sum, zip((0, 0, 0), *per_node, strict=True))
    if graph.file_size is not None:
        stored = weights + biases + quant
        return FlashEstimate(weights, biases, quant, max(graph.file_size - stored, 0), True)
    total = _file_bytes(graph, dtype)
    return FlashEstimate(weights, biases, quant, max(total - weights - biases - quant, 0))


def _tensor(q: bool, rank: int, name: int, channels: int, data: int | None) -> int:
    """One tensor: table, shape, name, quantization (`channels` scales; 0: none), buffer
    (`data` bytes, None: no data)."""
    b = TENSOR_TABLE_BYTES[q] + TENSOR_FIXED_BYTES + 4 * rank + _string(name)
    b += QUANT_TABLE_BYTES
    if channels:
        b += QUANTIZED_BYTES + 12 * channels + QUANTIZED_PADDING_BYTES
    if data is not None:
        b += CONSTANT_BYTES + (data + 3) // 4 * 4
    return b


def _stored(node: Node, costs: Mapping[str, LayerCost], dtype: DType) -> tuple[int, int, int]:
    """Bytes of the node's weights, biases and quantization parameters in the file."""
    if ops.get(node.op).node_cost_class(node.attrs) is CostClass.IDENTITY:
        return 0, 0, 0
    weights = biases = quant = 0
    for w in costs[node.name].weights:
        if w.role == "bias":
            biases += dtype.data_bytes(w)
        else:
            weights += dtype.data_bytes(w)
        quant += dtype.quant_bytes(w)
    return weights, biases, quant


def _file_bytes(graph: Graph, dtype: DType) -> int:
    q = dtype.quantized
    names = _Names(graph)
    shapes: dict[str, tuple[int, ...]] = {}
    size = (FILE_BASE_BYTES + QUANT_VTABLE_BYTES[q] + OPERATOR_VTABLE_BYTES + PADDING_BYTES
            + OPCODE_VTABLE_BYTES[q] + OPTIONS_VTABLE_BYTES)
    outputs = {t: k for k, t in enumerate(graph.outputs)}
    builtins: set[str] = set()
    operands: set[object] = set()
    key = ("flash", q, names.model, names.version)
    for node in graph.nodes:
        if node.op == "tflite":
            own, output, shared_operands, builtin, shape = memo.kept(
                node, key, _operator_bytes, q, names, shapes)
            shapes[node.outputs[0]] = shape
            size += own
            builtins.add(builtin)
            for operand, nbytes in shared_operands:
                if operand not in operands:
                    operands.add(operand)
                    size += nbytes
            if node.outputs[0] in outputs:
                size += SIGNATURE_ENTRY_BYTES + _string(len(f"output_{outputs[node.outputs[0]]}"))
                size += 4  # subgraph output slot
                size += _tensor(q, len(shape) + 1, OUTPUT_NAME_BYTES, int(q), None)
            else:
                size += output
        elif node.op == "input":
            shape = tuple(node.attrs["shape"])
            shapes[node.outputs[0]] = shape
            layer = node.name.replace("/", "_")
            size += _tensor(q, len(shape) + 1, len(f"serving_default_{layer}:0"), int(q), None)
            size += SIGNATURE_ENTRY_BYTES + _string(len(layer)) + 4  # subgraph input slot
    return size + OPCODE_BYTES[q] * len(builtins)


class _OperatorBytes(NamedTuple):
    """An operator's part of the file, kept on its node."""

    own: int  # the operator and its own constants
    output: int  # its output tensor, unless it is a model output
    shared: tuple[tuple[object, int], ...]  # the integer operands equal ones share
    builtin: str  # its operator code
    shape: tuple[int, ...]  # its output's shape


def _operator_bytes(node: Node, q: bool, names: _Names,
                    shapes: Mapping[str, tuple[int, ...]]) -> _OperatorBytes:
    """An operator's bytes in the file. `shapes` holds the shapes of the tensors made
    before it (a lowered operator's inputs are the same wherever it is shared)."""
    attrs = node.attrs
    builtin = attrs["builtin"]
    out_shape = tuple(attrs["output_shapes"][0])
    in_shape = shapes.get(node.inputs[0]) if node.inputs else None
    pairs = tuple(attrs.get("names", ()))
    constants = attrs.get("constants", ())
    # the operator, its code and options
    options = OPTIONS_BYTES.get(builtin, 8)
    size = (OPERATOR_BYTES + OPERATOR_TABLE_BYTES[options > 0] + options
            + 4 * (len(node.inputs) + len(constants) + len(node.outputs)))
    # its constants, named after the ops that made them
    bias = BIAS_INPUT.get(builtin)
    named = _constant_names(builtin, pairs)
    shared: list[tuple[object, int]] = []
    for position, shape, kind, data, _quant, channels in constants:
        integer = kind not in ("int8", "float32", "float16") and position != bias
        if not pairs:
            name = len(node.name) + NAME_EXTRA_BYTES
        elif position in (KERNEL_INPUT.get(builtin), bias):
            got = named[position == bias]
            name = names.length(got) if got else CREATED_NAME_BYTES
        elif integer:
            name = names.prefix(pairs[0][0]) + OPERAND_NAME_BYTES if pairs[0][0] \
                else OPERAND_NAME_BYTES
        else:
            name = CREATED_NAME_BYTES
        nbytes = _tensor(q, len(shape), name, channels if q and not integer else 0, data)
        if integer:
            shared.append((_operand_key(node, position, in_shape), nbytes))
        else:
            size += nbytes
    # its output
    if pairs:
        # a name a constant already holds gets a "1" after it
        name = names.length(pairs) + (pairs in named and any(
            c[0] in (KERNEL_INPUT.get(builtin), bias) for c in constants))
    else:
        name = len(node.name) + NAME_EXTRA_BYTES
    return _OperatorBytes(size, _tensor(q, len(out_shape) + 1, name, int(q), None),
                          tuple(shared), builtin, out_shape)
