"""The one immutable result every renderer reads, and its JSON form (a public contract)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import repeat
from typing import Any, NamedTuple, TypeVar

from .passes.support import Finding
from .verdict import BoardResult, Verdict

SCHEMA_VERSION = 1


class FrozenDict(dict[str, int]):
    """A read-only dict: a Report may be shared (the API's cache) and sent between
    processes (batch runs), so its mappings must neither change nor lose picklability."""

    def _readonly(self, *args: object, **kwargs: object) -> None:
        raise TypeError("a report's mappings are read-only")

    __setitem__ = __delitem__ = _readonly  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _readonly  # type: ignore[assignment]

    def __reduce__(self) -> tuple[type, tuple[dict[str, int]]]:
        return FrozenDict, (dict(self),)

CONVENTIONS = (
    "Shapes omit the batch dimension (channels last); batch = 1 for every cost.",
    "params = what Keras count_params() reports (BatchNormalization counts its 4 vectors).",
    "MACs = multiply-accumulates of one inference in convolutions (all kinds) and dense "
    "layers; FLOPs = 2 x MACs. Not counted: pooling, element-wise ops (add, multiply, "
    "activations), normalisation, resizing, bias additions.",
    "Bytes are bytes; KiB = 1024 bytes.",
    "int8: weights 1 byte, biases int32, + per-channel scale (float32) and zero point "
    "(int64) as TFLite stores them; float16: weights stored as fp16, activations fp32.",
    "arena = planned activations (TFLite Micro greedy planner, 16-byte aligned) + an "
    "estimate of the interpreter's persistent allocations.",
)


class LayerReport(NamedTuple):
    """One layer's row (a named tuple, like the other rows below)."""

    name: str
    type: str
    inputs: tuple[str, ...]
    output_shape: tuple[int, ...]
    params: int
    trainable_params: int
    macs: int
    activation_bytes: int
    weights_bytes: int
    line: int | None
    info: str = ""


@dataclass(frozen=True)
class ModelSummary:
    name: str
    source: str
    format: str
    dtype: str
    params: int
    trainable_params: int
    macs: int
    weights_bytes: int
    weights_bytes_by_dtype: Mapping[str, int]
    flash_bytes: int
    flash_breakdown: Mapping[str, int]
    flash_exact: bool
    arena_bytes: int
    activations_bytes: int
    persistent_bytes: int
    peak_layer: str
    peak_live_tensors: tuple[str, ...]
    input_shapes: tuple[tuple[int, ...], ...]
    output_shapes: tuple[tuple[int, ...], ...]
    operators: tuple[str, ...] = ()  # distinct TFLite operators, when the graph has them


R = TypeVar("R", bound=tuple)  # type: ignore[type-arg]


def rows(cls: type[R], *columns: Iterable[Any]) -> tuple[R, ...]:
    """Named tuples of class `cls` from its columns, made without a Python frame per row
    (a named tuple's own `__new__` is a Python function): a report has one per operator
    and per tensor, made for every audit."""
    return tuple(map(tuple.__new__, repeat(cls), zip(*columns, strict=True)))


class ArenaBuffer(NamedTuple):
    """One planned activation buffer: where it sits in the arena and when it is live.
    (Rows of a report are named tuples, immutable like the rest: every audit makes one
    per tensor and per operator, and a tuple is made in a fraction of a dataclass's time.)"""

    tensor: str
    offset: int
    size: int
    first: int  # step (layer index) that produces it
    last: int  # last step that reads it


class TimelineStep(NamedTuple):
    """One operator as the device runs it, and the activation bytes live while it runs."""

    name: str
    type: str
    live_bytes: int
    shape: tuple[int, ...] = ()  # its output shape


@dataclass(frozen=True)
class Report:
    model: ModelSummary
    layers: tuple[LayerReport, ...]
    boards: tuple[BoardResult, ...]
    warnings: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()  # operator support (TFLite-level graphs)
    timeline: tuple[TimelineStep, ...] = ()  # the TFLite operators, in execution order
    buffers: tuple[ArenaBuffer, ...] = ()
    budgets: tuple[tuple[str, float], ...] = ()  # the project budgets it was judged against

    @property
    def verdict(self) -> Verdict:
        return Verdict.worst([b.verdict for b in self.boards])

    @property
    def exit_code(self) -> int:
        """0: every board passes (warnings allowed); 1: some board fails."""
        return 1 if self.verdict is Verdict.FAIL else 0

    def to_dict(self) -> dict[str, Any]:
        m = self.model
        return {
            "schema_version": SCHEMA_VERSION,
            "model": {
                "name": m.name,
                "source": m.source,
                "format": m.format,
                "dtype": m.dtype,
                "params": m.params,
                "trainable_params": m.trainable_params,
                "non_trainable_params": m.params - m.trainable_params,
                "macs": m.macs,
                "flops": 2 * m.macs,
                "weights_bytes": m.weights_bytes,
                "weights_bytes_by_dtype": dict(m.weights_bytes_by_dtype),
                "flash_bytes": m.flash_bytes,
                "flash_breakdown": dict(m.flash_breakdown),
                "flash_exact": m.flash_exact,
                "arena_bytes": m.arena_bytes,
                "activations_bytes": m.activations_bytes,
                "persistent_bytes": m.persistent_bytes,
                "peak_layer": m.peak_layer,
                "peak_live_tensors": list(m.peak_live_tensors),
                "input_shapes": [list(s) for s in m.input_shapes],
                "output_shapes": [list(s) for s in m.output_shapes],
                "operators": list(m.operators),
            },
            "layers": [
                {
                    "name": layer.name,
                    "type": layer.type,
                    "inputs": list(layer.inputs),
                    "output_shape": list(layer.output_shape),
                    "params": layer.params,
                    "trainable_params": layer.trainable_params,
                    "macs": layer.macs,
                    "activation_bytes": layer.activation_bytes,
                    "weights_bytes": layer.weights_bytes,
                    "line": layer.line,
                    "info": layer.info,
                }
                for layer in self.layers
            ],
            "boards": [
                {
                    "id": b.board.id,
                    "name": b.board.name,
                    "verdict": b.verdict.value,
                    "ram_bytes": b.ram_bytes,
                    "ram_budget_bytes": b.board.ram_budget_bytes,
                    "ram_reserved_bytes": b.board.ram_reserved_bytes,
                    "arena_bytes": b.arena_bytes,
                    "arena_max_bytes": b.board.arena_max_bytes,
                    "flash_bytes": b.flash_bytes,
                    "flash_budget_bytes": b.board.flash_budget_bytes,
                    "flash_reserved_bytes": b.board.flash_reserved_bytes,
                    "headroom_pct": b.headroom_pct,
                    "latency_ms": None if b.latency_ms is None else round(b.latency_ms, 3),
                    "latency_kernels": b.latency_kernels,
                    "latency_by_layer": {name: round(ms, 4) for name, ms in b.latency_by_layer},
                    "reasons": list(b.reasons),
                }
                for b in self.boards
            ],
            "memory": {
                "timeline": [{"name": s.name, "type": s.type, "shape": list(s.shape),
                              "live_bytes": s.live_bytes} for s in self.timeline],
                "buffers": [
                    {"tensor": b.tensor, "offset": b.offset, "size": b.size, "first": b.first,
                     "last": b.last}
                    for b in self.buffers
                ],
            },
            "verdict": self.verdict.value,
            "budgets": dict(self.budgets),
            "warnings": list(self.warnings),
            "findings": [
                {"severity": f.severity, "rule": f.rule, "node": f.node, "message": f.message}
                for f in self.findings
            ],
            "conventions": list(CONVENTIONS),
        }
