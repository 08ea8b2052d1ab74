"""The TensorFlow Lite Micro tensor arena of a TFLite-level graph, as the allocator builds it.

Arena = head (activation buffers and kernel scratch, placed by the greedy planner) + tail
(persistent runtime structures, allocated downward from the arena's end, each aligned
down to its own alignment). The smallest arena that works is the largest of three
moments: the final state, the planning step (the planner's bookkeeping sits in the head)
and each kernel's Prepare (temporary tensor copies sit in the head).

Facts (tflite-micro 90b983c2, 2026-08-20): micro_allocator.cc, micro_allocation_info.cc,
greedy_memory_planner.cc, kernels/*; struct sizes traced in 64-bit builds and from the
struct layouts for 32-bit (ILP32, ARM EABI). Reference kernels (no CMSIS-NN scratch).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

from .. import ops
from ..dtypes import ELEMENT_BYTES, DType
from ..ir import Graph, Node, Shape
from ..ops import memo
from ..ops.base import CostClass
from .planner import ALIGNMENT, align, greedy_placement, live_bytes


@dataclass(frozen=True)
class Runtime:
    """Sizes of TFLite Micro's runtime structures for one build (pointer width, options)."""

    name: str
    pointer: int
    allocator_objects: tuple[tuple[int, int], ...]  # (size, alignment) at interpreter start
    subgraph_allocation: int
    eval_tensor: int  # TfLiteEvalTensor, one per tensor (constants included)
    node: int  # TfLiteNode + registration pointer, one per operator
    tflite_tensor: int  # a full TfLiteTensor (graph inputs/outputs; temporaries in Prepare)
    affine_quantization: int
    scratch_request: int
    allocation_info: int
    scratch_handle: int
    compression: bool = False  # built with USE_TFLM_COMPRESSION (bigger OpData)
    params_override: dict[str, int] = field(default_factory=dict)


# A microcontroller build: 32-bit pointers, the plain MicroAllocator.
DEVICE = Runtime("32-bit device", 4, ((36, 4), (44, 4), (36, 4), (8, 4)), 8, 12, 32, 40, 12,
                 12, 24, 4)
# The `tflite-micro` Python wheel on a 64-bit host (RecordingMicroAllocator, compression on):
# what `cnnaudit verify` measures.
HOST = Runtime("64-bit tflite-micro wheel", 8, ((104, 8), (72, 8), (272, 8), (16, 8)), 24, 24,
               64, 64, 24, 16, 32, 8, compression=True,
               params_override={"FULLY_CONNECTED": 32, "MEAN": 4})
RUNTIMES = {4: DEVICE, 8: HOST}

PLANNER_BYTES_PER_BUFFER = 40  # GreedyMemoryPlanner::per_buffer_size(): ints only
REQUEST_SLACK = 12  # the allocator reserves room for 12 more scratch requests per op

# Builtin option structs (TfLite*Params), parsed per operator; ints only, alignment 4.
PARAMS = {"CONV_2D": 28, "DEPTHWISE_CONV_2D": 28, "MAX_POOL_2D": 40, "AVERAGE_POOL_2D": 40,
          "FULLY_CONNECTED": 16, "SOFTMAX": 4, "RESHAPE": 36, "SHAPE": 4, "STRIDED_SLICE": 24,
          "PACK": 8, "ADD": 8, "MUL": 8, "SUB": 8, "CONCATENATION": 8, "MEAN": 1, "SUM": 1,
          "REDUCE_MAX": 1, "RESIZE_NEAREST_NEIGHBOR": 2, "RESIZE_BILINEAR": 2, "SQUEEZE": 36,
          "TRANSPOSE_CONV": 28, "LEAKY_RELU": 4, "DIV": 4}
# Kernel OpData allocated in Init, 16-byte aligned: (64-bit, 32-bit).
OPDATA = {"CONV_2D": (72, 56), "DEPTHWISE_CONV_2D": (72, 56), "FULLY_CONNECTED": (64, 48),
          "MAX_POOL_2D": (32, 32), "AVERAGE_POOL_2D": (32, 32), "SOFTMAX": (80, 64),
          "STRIDED_SLICE": (84, 84), "ADD": (60, 60), "CONCATENATION": (40, 24),
          "MEAN": (44, 44), "SUM": (44, 44), "REDUCE_MAX": (44, 44), "LOGISTIC": (16, 16),
          "QUANTIZE": (16, 16), "DEQUANTIZE": (16, 16), "MUL": (40, 40),
          "LEAKY_RELU": (24, 24), "HARD_SWISH": (20, 20), "PAD": (56, 56),
          "TRANSPOSE_CONV": (88, 76)}
COMPRESSION_EXTRA = {"CONV_2D": 8, "DEPTHWISE_CONV_2D": 8, "FULLY_CONNECTED": 8,
                     "CONCATENATION": 32, "TRANSPOSE_CONV": 8}
QUANTIZED = ("int8", "uint8", "int16", "int32", "int4")


Span = tuple[str, int, int, int]
"""A buffer as `Buffer`'s fields (name, size, first, last), a plain tuple: the planner reads
any such tuple, and one is made for every tensor of every audit."""


class MemoryPlan(NamedTuple):
    """The arena plan (a named tuple: made once per audit, in a fraction of a frozen
    dataclass's time)."""

    buffers: tuple[Span, ...]
    offsets: dict[str, int]
    activations_bytes: int  # planned head: activations and kernel scratch
    lower_bound_bytes: int  # most bytes live at any one step: no planner can do better
    persistent_bytes: int  # the tail
    arena_bytes: int  # the smallest arena that works (max over the allocator's phases)
    peak_step: int
    peak_node: str
    live_at_peak: tuple[str, ...]
    live_by_step: tuple[int, ...]
    runtime: str = DEVICE.name


def plan_memory(
    graph: Graph, shapes: Mapping[str, Shape], dtype: DType, pointer_bytes: int = 4,
) -> MemoryPlan:
    """Plan the arena for a TFLite-level graph; `pointer_bytes` picks the runtime (4: a
    microcontroller; 8: the tflite-micro interpreter on a 64-bit host, for `verify`)."""
    runtime = RUNTIMES[pointer_bytes]
    key = ("memory", pointer_bytes, dtype.name)
    facts = [memo.kept(n, key, _node_memory, graph, shapes, dtype, runtime) for n in graph.nodes]
    buffers, scratch = _buffers(graph, facts)
    planned = buffers + scratch
    # tests/test_planner.py checks its plans never overlap
    offsets, head = greedy_placement(planned)
    steps = len(graph.nodes)
    live = live_bytes(planned, steps)
    peak_step = live.index(max(live)) if steps else 0  # the first step of the peak
    operators = list(filter(None, map(_OPERATOR, facts)))  # (an _Operator is never empty)
    tail, arena = _arena(graph, dtype, runtime, operators, head, len(planned), len(scratch))
    return MemoryPlan(
        buffers=tuple(buffers),
        offsets=offsets,
        activations_bytes=head,
        lower_bound_bytes=max(live, default=0),
        persistent_bytes=tail,
        arena_bytes=arena,
        peak_step=peak_step,
        peak_node=graph.nodes[peak_step].name if steps else "",
        live_at_peak=tuple(name for name, _, first, last in buffers
                           if first <= peak_step <= last),
        live_by_step=tuple(live),
        runtime=runtime.name,
    )


class _Operator(NamedTuple):
    """What one TFLite operator puts in the arena, 0 where it has none; sizes as the tail
    takes them where that does not depend on what came before (see `_arena`)."""

    params: int  # its params struct, rounded up to 4
    opdata: int  # its kernel's OpData
    channel_arrays: int  # its per-channel multiplier and shift arrays, each rounded up to 16
    requests: int  # scratch buffers its Prepare requests
    temporaries: int  # head bytes of the temporary tensors its Prepare asks for
    tensors: int  # its outputs and constants: one TfLiteEvalTensor each


class _NodeMemory(NamedTuple):
    """Everything one node adds to the arena, worked out once per node: a search loop's
    candidates share their nodes, so an audit only adds these up."""

    shares_input: bool  # an identity op: its output is its input's buffer
    from_start: bool  # a graph input: live from step 0
    outputs: tuple[tuple[str, int], ...]  # (tensor, bytes) of each output's own buffer
    scratch: tuple[tuple[str, int], ...]  # the kernel's scratch buffers, live in its step
    operator: _Operator | None  # None: not a TFLite operator


def _node_memory(node: Node, graph: Graph, shapes: Mapping[str, Shape], dtype: DType,
                 runtime: Runtime) -> _NodeMemory:
    """The node's `_NodeMemory` (kept on it under the runtime's pointer size and the dtype,
    all it depends on besides the node)."""
    cost_class = ops.get(node.op).node_cost_class(node.attrs)
    shares = cost_class is CostClass.IDENTITY
    tflite = node.op == "tflite"
    scratch = ()
    if tflite and node.attrs["builtin"] in SCRATCH_OPS:
        scratch = tuple((f"{node.name}/scratch{i}", size)
                        for i, size in enumerate(_scratch_sizes(node, graph, shapes, dtype)))
    return _NodeMemory(
        shares_input=shares,
        from_start=cost_class is CostClass.INPUT,
        outputs=() if shares else tuple(
            (t, tensor_bytes(graph, shapes, t, dtype)) for t in node.outputs),
        scratch=scratch,
        operator=_operator_facts(node, graph, dtype, runtime) if tflite else None,
    )


def _buffers(graph: Graph, facts: Sequence[_NodeMemory]) -> tuple[list[Span], list[Span]]:
    """One buffer per non-constant tensor, in tensor order, with TFLM's lifetimes: graph
    inputs from step 0, an operator's outputs from its step, every tensor until the last
    step that reads it, graph outputs until the end. Identity ops share their input.
    Then the kernels' scratch buffers, in step order."""
    spans: dict[str, list[Any]] = {}  # tensor -> [name, bytes, first, last] of its buffer
    owned: list[list[Any]] = []  # the spans, in tensor order
    scratch: list[Span] = []
    for step, (node, (shares_input, from_start, outputs, kernel_scratch, _)) in enumerate(
            zip(graph.nodes, facts, strict=True)):
        for t in node.inputs:
            spans[t][3] = step
        if kernel_scratch:
            scratch += [(name, size, step, step) for name, size in kernel_scratch]
        if shares_input:
            spans[node.outputs[0]] = spans[node.inputs[0]]  # the same list: one lifetime
            continue
        start = 0 if from_start else step
        for t, size in outputs:
            # nothing read it before (topological order)
            spans[t] = span = [t, size, start, start]
            owned.append(span)
    for t in graph.outputs:
        spans[t][3] = len(facts) - 1
    return list(map(tuple, filter(_SIZE, owned))), scratch  # (map: no frame per buffer)


_SIZE = itemgetter(1)


def tensor_bytes(graph: Graph, shapes: Mapping[str, Shape], tensor: str, dtype: DType) -> int:
    """Bytes of an activation tensor: its own type when the file says, else the dtype's."""
    declared = graph.tensor_dtypes.get(tensor)
    per = ELEMENT_BYTES.get(declared, dtype.activation_bytes) if declared else (
        dtype.activation_bytes)
    return math.ceil(math.prod(shapes[tensor]) * per)


def _quantized(graph: Graph, tensor: str, dtype: DType) -> bool:
    declared = graph.tensor_dtypes.get(tensor)
    return declared in QUANTIZED if declared else dtype.quantized


def _scratch_sizes(node: Node, graph: Graph, shapes: Mapping[str, Shape],
                   dtype: DType) -> tuple[int, ...]:
    """Scratch the reference kernels request in Prepare, live during their own step:
    MEAN/SUM keep an int32 accumulator for int8 and, like REDUCE_MAX, index arrays; an int8
    TRANSPOSE_CONV accumulates its whole output in int32."""
    builtin = node.attrs["builtin"]
    if builtin == "TRANSPOSE_CONV":
        if node.inputs and _quantized(graph, node.inputs[0], dtype):
            return (4 * math.prod(shapes[node.outputs[0]]),)
        return ()
    if not node.inputs:
        return ()
    rank = len(shapes[node.inputs[0]]) + 1  # the file's shapes carry the batch
    axes = next((math.prod(c[1]) for c in node.attrs["constants"] if c[0] == 1), 1)
    sizes = []
    if builtin != "REDUCE_MAX" and _quantized(graph, node.inputs[0], dtype):
        sizes.append(4 * math.prod(shapes[node.outputs[0]]))
    return (*sizes, 4 * rank, 4 * axes)


SCRATCH_OPS = frozenset(("TRANSPOSE_CONV", "MEAN", "SUM", "REDUCE_MAX"))


class _Tail:
    """The tail, growing down from the arena's end: each allocation aligned down."""

    def __init__(self) -> None:
        self.used = 0

    def alloc(self, size: int, alignment: int) -> None:
        self.used = align(self.used + size, alignment)


def _per_channel(node: Node) -> int:
    """Channels of the per-channel multiplier/shift arrays a kernel allocates in Prepare:
    always for CONV_2D and DEPTHWISE_CONV_2D, for FULLY_CONNECTED when per-channel."""
    builtin = node.attrs["builtin"]
    kernel = next((c for c in node.attrs["constants"] if c[0] == 1), None)
    if builtin in ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV") and kernel is not None:
        return kernel[1][-1] if builtin == "DEPTHWISE_CONV_2D" else kernel[1][0]
    if builtin == "FULLY_CONNECTED" and kernel is not None and kernel[5] > 1 and kernel[4]:
        return kernel[5]
    return 0


def _arena(graph: Graph, dtype: DType, runtime: Runtime, operators: Sequence[_Operator],
           head: int, n_buffers: int, n_scratch: int) -> tuple[int, int]:
    """(tail bytes, smallest working arena) by replaying the allocator's steps."""
    n_tensors = graph.tensor_count if graph.tensor_count is not None else (
        len(graph.inputs) + sum(map(_TENSORS, operators)))  # (map: no frame per operator)
    ptr = runtime.pointer
    tail = _Tail()
    for size, alignment in runtime.allocator_objects:
        tail.alloc(size, alignment)
    tail.alloc(runtime.subgraph_allocation, ptr)
    tail.alloc(runtime.eval_tensor * n_tensors, ptr)
    tail.alloc(runtime.node * len(operators), ptr)
    # Each operator's params struct, aligned to 4: the tail is pointer-aligned, so they add up.
    tail.alloc(sum(map(_PARAMS, operators)), 4)
    # Each one's OpData, aligned to 16: after the first the tail is 16-aligned, so the rest
    # take their own sizes rounded up.
    opdata = list(filter(None, map(_OPDATA, operators)))
    if opdata:
        tail.alloc(opdata[0], ALIGNMENT)
        # (align() written out: a call per operator costs more than the arithmetic)
        tail.used += sum([(n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT for n in opdata[1:]])
    # Prepare, operator by operator: per-channel arrays (on a 16-aligned tail, since each
    # kernel that has them has an OpData), scratch requests and temporary tensors.
    prepare_peak = 0
    requests = REQUEST_SLACK
    for _, _, channel_arrays, scratch, temporaries, _ in operators:
        tail.used += channel_arrays
        requests += scratch
        prepare_peak = max(prepare_peak,
                           runtime.scratch_request * requests + temporaries + tail.used)
    if n_scratch:
        tail.alloc(runtime.scratch_handle * n_scratch, ptr)
    planning = align(align(runtime.scratch_request * (n_scratch + REQUEST_SLACK), 8) + ptr
                     + runtime.allocation_info * (n_tensors + n_scratch), ALIGNMENT) \
        + PLANNER_BYTES_PER_BUFFER * n_buffers + tail.used
    for group in (graph.inputs, graph.outputs):
        tail.alloc(ptr * len(group), ALIGNMENT)
        for t in group:
            tail.alloc(runtime.tflite_tensor, ptr)
            if _quantized(graph, t, dtype):
                tail.alloc(runtime.affine_quantization, ptr)
                tail.alloc(4 + 4, 4)  # zero points: a TfLiteIntArray of one
    return tail.used, max(head + tail.used, planning, prepare_peak)


_OPERATOR = attrgetter("operator")
_TENSORS, _PARAMS, _OPDATA = attrgetter("tensors"), attrgetter("params"), attrgetter("opdata")


def _operator_facts(node: Node, graph: Graph, dtype: DType, runtime: Runtime) -> _Operator:
    builtin = node.attrs["builtin"]
    params = runtime.params_override.get(builtin, PARAMS[builtin]) if builtin in PARAMS else 0
    opdata = 0
    if builtin in OPDATA:
        extra = COMPRESSION_EXTRA.get(builtin, 0) if runtime.compression else 0
        opdata = OPDATA[builtin][0 if runtime.pointer == 8 else 1] + extra
    channels = _per_channel(node)
    assert opdata or not channels, f"{builtin}: per-channel arrays without an OpData"
    return _Operator(
        params=align(params, 4),
        opdata=opdata,
        channel_arrays=2 * align(4 * channels),
        requests=_scratch_count(node),
        temporaries=_temporaries(graph, node, dtype, runtime),
        tensors=len(node.outputs) + len(node.attrs["constants"]),
    )


def _scratch_count(node: Node) -> int:
    builtin = node.attrs["builtin"]
    if builtin in ("MEAN", "SUM"):
        return 3
    return 2 if builtin == "REDUCE_MAX" else 1 if builtin == "TRANSPOSE_CONV" else 0


def _temporaries(graph: Graph, node: Node, dtype: DType, runtime: Runtime) -> int:
    """Head bytes of the temporary TfLiteTensors a kernel's Prepare asks for (convolutions
    ask for input, filter and output twice, and for the bias)."""
    quantized = tuple(_quantized(graph, t, dtype) for t in (*node.inputs, *node.outputs))
    args = (runtime.pointer, node.attrs["builtin"], quantized, node.attrs["constants"])
    if memo.fast():
        try:
            return _temporaries_memo(*args)
        except TypeError:  # unhashable constants (a .tflite file's)
            pass
    return _temporaries_of(*args)


def _temporaries_of(pointer: int, builtin: str, quantized: tuple[bool, ...],
                    constants: tuple[tuple, ...]) -> int:
    """`_temporaries` on hashable arguments: the runtime named by its pointer size
    (the RUNTIMES key), since a Runtime holds dicts."""
    data = [_temporary(pointer, q, 1) for q in quantized]
    consts = [(c[0], _temporary(pointer, c[4] > 0, c[5])) for c in constants]
    total = sum(data) + sum(size for _, size in consts)
    if builtin in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        total += sum(data) + sum(size for pos, size in consts if pos != 2)
    return total


# the same operators recur across a search loop's candidates
_temporaries_memo = functools.lru_cache(maxsize=4096)(_temporaries_of)


@functools.lru_cache(maxsize=256)
def _temporary(pointer: int, quantized: bool, scales: int) -> int:
    """Head bytes of one temporary TfLiteTensor (and its quantization, when quantized)."""
    runtime = RUNTIMES[pointer]
    size = align(runtime.tflite_tensor, 8)
    if quantized:
        size += align(runtime.affine_quantization, 8) + align(4 + 4 * max(scales, 1), 8)
    return size
