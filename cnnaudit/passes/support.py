"""Will it run on TensorFlow Lite Micro? Rules over the TFLite-level operators.

Each rule is a function whose docstring is the rule; it yields findings that name the
operator and say what to do. An `error` finding makes every microcontroller board FAIL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import compress
from typing import NamedTuple

from ..ir import Graph, Node
from ..ops import memo
from .tflm_ops import KNOWN_CUSTOM, RESOLVER_METHOD

COMPUTE_WITH_WEIGHTS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")
EDGE_OPS = ("QUANTIZE", "DEQUANTIZE")


@dataclass(frozen=True)
class Finding:
    severity: str  # "error" (will not run) | "warning" (runs, but not as intended)
    rule: str
    node: str
    message: str

    def __str__(self) -> str:
        return f"{self.node}: {self.message}"


class _Operators(NamedTuple):
    """What the rules read of a graph's operators, gathered in one loop and kept on the
    graph: most rules are about a few builtins, or about operators few graphs have."""

    nodes: list[Node]  # the operators, in graph order
    builtins: list[str]  # each one's builtin
    distinct: dict[str, None]  # the builtins, in first-use order
    dynamic: bool  # whether an operator has an output of dynamic shape
    float_outputs: bool  # whether an operator has a float32 output


def _operators(graph: Graph) -> _Operators:
    return memo.kept(graph, "operators", _survey)


def _survey(graph: Graph) -> _Operators:
    nodes: list[Node] = []
    builtins: list[str] = []
    dynamic = float_outputs = False
    for node in graph.nodes:
        if node.op == "tflite":
            attrs = node.attrs
            nodes.append(node)
            builtins.append(attrs["builtin"])
            if attrs["dynamic"]:
                dynamic = True
            if "float32" in attrs["output_dtypes"]:
                float_outputs = True
    return _Operators(nodes, builtins, dict.fromkeys(builtins), dynamic, float_outputs)


def _operators_of(graph: Graph, wanted: Callable[[str], bool]) -> list[Node]:
    """The operators whose builtin is `wanted`, in graph order (asked once per builtin)."""
    operators = _operators(graph)
    chosen = {builtin for builtin in operators.distinct if wanted(builtin)}
    if not chosen:  # the usual case: no operator of the builtins a rule is about
        return []
    return list(compress(operators.nodes, map(chosen.__contains__, operators.builtins)))


def builtin_supported(graph: Graph) -> Iterator[Finding]:
    """Every builtin operator must be one TFLite Micro's op resolver can register."""
    for node in _operators_of(graph, lambda b: b.startswith("UNKNOWN:") or (
            not b.startswith("CUSTOM:") and b not in RESOLVER_METHOD)):
        builtin = node.attrs["builtin"]
        if builtin.startswith("UNKNOWN:"):
            yield Finding("warning", "builtin_supported", node.name,
                          f"what the converter makes of this {builtin.split(':')[1]} layer is "
                          "unknown (its code is not read); audit the converted .tflite to "
                          "know whether it runs")
        else:  # not one the resolver can register
            yield Finding("error", "builtin_supported", node.name,
                          f"{builtin} has no TFLite Micro kernel; change the layer that "
                          "produces it to one that lowers to supported ops")


def custom_ops(graph: Graph) -> Iterator[Finding]:
    """A custom operator runs only if its kernel is registered by hand; only a few ship with
    TFLite Micro."""
    for node in _operators_of(graph, lambda b: b.startswith("CUSTOM:")):
        name = node.attrs["builtin"].removeprefix("CUSTOM:")
        if name in KNOWN_CUSTOM:
            yield Finding("warning", "custom_ops", node.name,
                          f"custom op {name!r} needs resolver.{KNOWN_CUSTOM[name]}() "
                          "(and its library) in the firmware")
        else:
            yield Finding("error", "custom_ops", node.name,
                          f"custom op {name!r} has no TFLite Micro kernel; write and "
                          "register one (AddCustom) or convert without it "
                          "(avoid SELECT_TF_OPS / custom layers)")


def static_shapes(graph: Graph) -> Iterator[Finding]:
    """TFLite Micro needs static shapes: every dimension except the batch must be known."""
    operators = _operators(graph)
    if not operators.dynamic:
        return
    for node in operators.nodes:
        if node.attrs["dynamic"]:
            yield Finding("error", "static_shapes", node.name,
                          f"{node.attrs['builtin']} has an output of dynamic shape; give "
                          "the model a fixed input shape before converting")


def no_hybrid_kernels(graph: Graph) -> Iterator[Finding]:
    """TFLite Micro has no hybrid kernels: an operator with int8 weights must take int8
    inputs, so dynamic-range quantized models do not run."""
    if "float32" not in graph.tensor_dtypes.values():
        return  # no operator takes a float32 input
    for node in _operators_of(graph, COMPUTE_WITH_WEIGHTS.__contains__):
        if _hybrid(node, graph):
            yield Finding("error", "no_hybrid_kernels", node.name,
                          f"{node.attrs['builtin']} has int8 weights but float32 input "
                          "(dynamic-range quantization); convert with full integer "
                          "quantization (a representative dataset, TFLITE_BUILTINS_INT8)")


def _hybrid(node: Node, graph: Graph) -> bool:
    kernel = next((c for c in node.attrs["constants"] if c[0] == 1), None)
    return kernel is not None and kernel[2] == "int8" and \
        "float32" in map(graph.tensor_dtypes.get, node.inputs)


def float16_weights(graph: Graph) -> Iterator[Finding]:
    """TFLite Micro's DEQUANTIZE reads int8, int16 and uint8 only: float16-quantized
    weights cannot be expanded on a microcontroller."""
    for node in _operators_of(graph, "DEQUANTIZE".__eq__):
        if any(c[2] == "float16" for c in node.attrs["constants"]):
            yield Finding("error", "float16_weights", node.name,
                          "DEQUANTIZE of float16 weights is not supported by TFLite Micro; "
                          "use full integer (int8) quantization or keep float32")


def float_inside_int8(graph: Graph) -> Iterator[Finding]:
    """In an int8 model every compute operator should run in int8; a float32 one means
    full-integer quantization failed for it (slower, and four times the RAM)."""
    operators = _operators(graph)
    if graph.dtype != "int8" or not operators.float_outputs:
        return
    for node in operators.nodes:
        if "float32" in node.attrs["output_dtypes"] and node.attrs["builtin"] not in EDGE_OPS:
            yield Finding("warning", "float_inside_int8", node.name,
                          f"{node.attrs['builtin']} runs in float32 inside an int8 model; "
                          "check the representative dataset covers it and that the op has "
                          "an int8 kernel")


def quantize_at_edges(graph: Graph) -> Iterator[Finding]:
    """QUANTIZE and DEQUANTIZE belong at the model's inputs and outputs; in the middle they
    mean part of the graph falls back to float."""
    for node in _operators_of(graph, EDGE_OPS.__contains__):
        builtin = node.attrs["builtin"]
        quantized_input = all(graph.tensor_dtypes.get(t) in ("int8", "int16", "uint8")
                              for t in node.inputs)
        if (builtin == "QUANTIZE" and not set(node.inputs) <= set(graph.inputs)
                and not quantized_input):
            yield Finding("warning", "quantize_at_edges", node.name,
                              "QUANTIZE in the middle of the graph: the ops before it run "
                              "in float")
        if builtin == "DEQUANTIZE" and node.inputs and not set(node.outputs) <= set(
                graph.outputs):
            yield Finding("warning", "quantize_at_edges", node.name,
                          "DEQUANTIZE in the middle of the graph: the ops after it run "
                          "in float")


def fixed_batch(graph: Graph) -> Iterator[Finding]:
    """Models for microcontrollers are converted with a batch of 1: a dynamic batch makes the
    converter compute shapes at run time (SHAPE, STRIDED_SLICE, PACK before RESHAPE), which
    costs time and arena, and leaves placeholder shapes in the file."""
    first = next(iter(_operators_of(graph, "SHAPE".__eq__)), None)
    if first is not None:
        yield Finding("warning", "fixed_batch", first.name,
                      "the model computes shapes at run time (a dynamic batch dimension); "
                      "convert it with a fixed batch: keras.Input(shape, batch_size=1)")


RULES: tuple[Callable[[Graph], Iterator[Finding]], ...] = (
    builtin_supported, custom_ops, static_shapes, no_hybrid_kernels, float16_weights,
    float_inside_int8, quantize_at_edges, fixed_batch,
)


def check_support(graph: Graph) -> list[Finding]:
    """Every finding of every rule, in graph order per rule."""
    return [f for rule in RULES for f in rule(graph)]


def resolver_ops(graph: Graph) -> list[str]:
    """The distinct operators the model needs, in first-use order."""
    return list(_operators(graph).distinct)
