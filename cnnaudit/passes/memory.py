"""Activation memory: tensor lifetimes over the graph, planned like TensorFlow Lite Micro.

The arena is the planned activations plus the interpreter's persistent allocations. This
pass owns both; refining them (lowering to TFLite ops, exact runtime structure sizes) is a
change inside this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .. import ops
from ..dtypes import ELEMENT_BYTES, DType
from ..ir import Graph, Shape
from ..ops.base import CostClass
from .cost import LayerCost
from .planner import Buffer, greedy_plan, live_bytes, plan_size, verify_plan

# Persistent arena estimate for a 32-bit device. These are the runtime structures
# TFLite Micro allocates at the arena's tail (docs/memory_management.md in tflite-micro):
# a TfLiteEvalTensor per tensor (data pointer, dims pointer, type: 12 bytes on 32-bit),
# a node-and-registration record per operator, and for quantized convolutions two int32
# arrays per output channel (multiplier and shift). The per-op figure is an estimate
# until the lowering/TFLM-calibration work replaces it with the measured layout.
EVAL_TENSOR_BYTES = 12
NODE_BYTES = 64
PER_CHANNEL_BYTES = 8


@dataclass(frozen=True)
class MemoryPlan:
    buffers: tuple[Buffer, ...]
    offsets: dict[str, int]
    activations_bytes: int  # planned (non-persistent) part of the arena
    lower_bound_bytes: int  # most bytes live at any one step: no planner can do better
    persistent_bytes: int
    peak_step: int
    peak_node: str
    live_at_peak: tuple[str, ...]
    live_by_step: tuple[int, ...]

    @property
    def arena_bytes(self) -> int:
        return self.activations_bytes + self.persistent_bytes


def plan_memory(
    graph: Graph, shapes: dict[str, Shape], costs: dict[str, LayerCost], dtype: DType,
    pointer_bytes: int = 4,
) -> MemoryPlan:
    """Plan the arena; `pointer_bytes` is the target's (4 on a microcontroller, 8 for the
    TFLite Micro interpreter on a 64-bit host, which `verify` compares against)."""
    buffers = _buffers(graph, shapes, dtype)
    offsets = greedy_plan(buffers)
    verify_plan(buffers, offsets)
    steps = len(graph.nodes)
    live = live_bytes(buffers, steps)
    peak_step = max(range(steps), key=lambda s: live[s]) if steps else 0
    return MemoryPlan(
        buffers=tuple(buffers),
        offsets=offsets,
        activations_bytes=plan_size(buffers, offsets),
        lower_bound_bytes=max(live, default=0),
        persistent_bytes=_persistent(graph, costs, dtype, pointer_bytes),
        peak_step=peak_step,
        peak_node=graph.nodes[peak_step].name if steps else "",
        live_at_peak=tuple(b.name for b in buffers if b.first <= peak_step <= b.last),
        live_by_step=tuple(live),
    )


def _buffers(graph: Graph, shapes: dict[str, Shape], dtype: DType) -> list[Buffer]:
    """One buffer per tensor that needs arena memory, with its lifetime in steps.

    Identity ops (dropout) do not exist after conversion: their output is their input.
    Graph inputs are live from the first step, graph outputs until the last.
    """
    root: dict[str, str] = {}
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    end = len(graph.nodes) - 1
    for step, node in enumerate(graph.nodes):
        cost_class = ops.get(node.op).node_cost_class(node.attrs)
        for t in node.inputs:
            last[root[t]] = step
        if cost_class is CostClass.IDENTITY:
            root[node.outputs[0]] = root[node.inputs[0]]
            continue
        for t in node.outputs:
            root[t] = t
            first[t] = 0 if cost_class is CostClass.INPUT else step
            last.setdefault(t, first[t])
    for t in graph.outputs:
        last[root[t]] = end
    return [Buffer(t, tensor_bytes(graph, shapes, t, dtype), first[t], last[t]) for t in first]


def tensor_bytes(graph: Graph, shapes: dict[str, Shape], tensor: str, dtype: DType) -> int:
    """Bytes of an activation tensor: its own type when the file says, else the dtype's."""
    declared = graph.tensor_dtypes.get(tensor)
    per = ELEMENT_BYTES.get(declared, dtype.activation_bytes) if declared else (
        dtype.activation_bytes)
    return math.ceil(math.prod(shapes[tensor]) * per)


def _persistent(graph: Graph, costs: dict[str, LayerCost], dtype: DType,
                pointer_bytes: int) -> int:
    scale = pointer_bytes / 4
    eval_tensor, node_bytes = EVAL_TENSOR_BYTES * scale, NODE_BYTES * scale
    total = 0.0
    for node in graph.nodes:
        cost_class = ops.get(node.op).node_cost_class(node.attrs)
        if cost_class in (CostClass.INPUT, CostClass.IDENTITY):
            total += eval_tensor if cost_class is CostClass.INPUT else 0
            continue
        weights = costs[node.name].weights
        total += node_bytes + eval_tensor * (len(node.outputs) + len(weights))
        if dtype.quantized and cost_class in (CostClass.CONV, CostClass.DEPTHWISE):
            channels = max((w.channel_axis_size for w in weights), default=0)
            total += PER_CHANNEL_BYTES * channels
    return int(total)
