"""Latency: cycles per operator from the kernel family a board runs, over its clock.

A TFLite Micro kernel's time is close to linear in a few counts of its work:
multiply-accumulates (convolutions, fully connected), output elements (each one is
requantised, biased and stored), input elements of pooling and reductions, elements of
every other op, plus a fixed cost per operator (dispatch, per-call setup). Each kernel
family (CMSIS-NN on a Cortex-M4, ESP-NN on an ESP32-S3, the reference kernels...) has
its own cycles for each count; `configs/latency.yaml` holds them with their sources, and
`docs/latency.md` compares the result with published on-device measurements.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any

from ..errors import BoardError
from ..ir import Graph, Node, Shape
from ..ops import memo
from .cost import LayerCost

MAC_CLASSES = {
    "CONV_2D": "conv", "TRANSPOSE_CONV": "conv", "CONV_3D": "conv",
    "DEPTHWISE_CONV_2D": "depthwise",
    "FULLY_CONNECTED": "fully_connected", "BATCH_MATMUL": "fully_connected",
}
POOL_OPS = frozenset({"AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D", "MEAN", "SUM",
                      "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"})
FREE_OPS = frozenset({"RESHAPE", "SQUEEZE", "EXPAND_DIMS"})  # metadata only: no data moved
FIELDS = ("conv", "conv_output", "depthwise", "depthwise_output", "fully_connected",
          "fully_connected_output", "pool", "element", "op")


@dataclass(frozen=True)
class KernelFamily:
    """Cycles per unit of work for one set of kernels on one core."""

    id: str
    description: str
    cycles: Mapping[str, float]  # FIELDS -> cycles per MAC / element / operator
    source: str = ""
    calibrated: bool = True  # False: derived by assumption, no measurement behind it


@dataclass(frozen=True)
class OpWork:
    """The counts of one operator that its time depends on."""

    name: str
    builtin: str
    macs: int
    outputs: int  # output elements
    inputs: int  # input elements (of the data input)

    def counts(self) -> dict[str, int]:
        """How many of each unit of work (FIELDS but `op`) this operator does."""
        kind = MAC_CLASSES.get(self.builtin)
        if kind is not None:
            return {kind: self.macs, f"{kind}_output": self.outputs}
        if self.builtin in POOL_OPS:
            return {"pool": self.inputs}
        if self.builtin in FREE_OPS:
            return {}
        return {"element": self.outputs}

    def _cycles(self, family: KernelFamily) -> float:
        c = family.cycles
        return c["op"] + sum(c[unit] * n for unit, n in self.counts().items())


def op_work(device: Graph, shapes: Mapping[str, Shape],
            costs: Mapping[str, LayerCost]) -> tuple[OpWork, ...]:
    """The work of every operator of a TFLite-level graph, in execution order."""
    return tuple([memo.kept(node, "work", _work, shapes, costs)
                  for node in device.nodes if node.op == "tflite"])


def _work(node: Node, shapes: Mapping[str, Shape], costs: Mapping[str, LayerCost]) -> OpWork:
    data_in = node.inputs[0] if node.inputs else None
    return OpWork(
        name=node.name,
        builtin=str(node.attrs["builtin"]),
        macs=costs[node.name].macs,
        outputs=sum(math.prod(shapes[t]) for t in node.outputs),
        inputs=math.prod(shapes[data_in]) if data_in in shapes else 0,
    )


def op_cycles(work: tuple[OpWork, ...], family: KernelFamily) -> list[float]:
    """Each operator's cycles with this kernel family. An operator's work is shared by every
    candidate that meets it again (`op_work`), so its cycles are kept on it per family
    (map calls `memo.kept` itself: one Python frame per operator)."""
    return list(map(memo.kept, work, repeat(("cycles", family.id)), repeat(OpWork._cycles),
                    repeat(family)))


def latency_ms(work: tuple[OpWork, ...], family: KernelFamily, clock_mhz: float) -> float:
    return cycles_ms(op_cycles(work, family), clock_mhz)


def cycles_ms(cycles: list[float], clock_mhz: float) -> float:
    """Milliseconds of these operators' cycles, in order (the sum is in the same order as
    `latency_ms`'s, so the same float)."""
    return sum(cycles) / (clock_mhz * 1e3)


# -- the kernel families file ---------------------------------------------------------------

@functools.cache  # resolving the path costs more than a small audit's latency
def builtin_path() -> Path:
    """configs/latency.yaml, beside the built-in board profiles (installed or in the repo)."""
    from ..boards import builtin_dir

    return builtin_dir().parent / "latency.yaml"


_FAMILIES: dict[tuple[str, int], dict[str, KernelFamily]] = {}
_BUILTIN = ("<builtin>", 0)


def load_families(path: Path | None = None) -> dict[str, KernelFamily]:
    """Every kernel family by id; a family may be another family's cycles times `scale`."""
    if path is None:
        # the installed file does not change under a running process: no stat per audit
        got = _FAMILIES.get(_BUILTIN)
        if got is None:
            got = _FAMILIES[_BUILTIN] = _parse(builtin_path())
        return got
    try:  # a file of the user's may be edited between audits
        key = (str(path), os.stat(path).st_mtime_ns)
    except OSError:
        key = (str(path), 0)
    if key not in _FAMILIES:
        _FAMILIES[key] = _parse(path)
    return _FAMILIES[key]


def _parse(path: Path) -> dict[str, KernelFamily]:
    from ..datafile import YamlProblem, read_yaml

    try:
        data = read_yaml(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise BoardError(f"cannot read the kernel families: {exc}", file=str(path)) from None
    except YamlProblem as exc:
        raise BoardError(f"cannot read the kernel families: invalid YAML: {exc.problem}",
                         file=str(path), line=exc.line) from None
    raw: dict[str, Any] = (data or {}).get("families") or {}
    out: dict[str, KernelFamily] = {}

    def build(fid: str, seen: tuple[str, ...] = ()) -> KernelFamily:
        if fid in out:
            return out[fid]
        if fid not in raw or fid in seen:
            raise BoardError(f"kernel family {fid!r} is unknown or defined in a cycle",
                             file=str(path))
        entry = raw[fid]
        if "base" in entry:
            base = build(entry["base"], (*seen, fid))
            scale = float(entry.get("scale", 1.0))
            cycles = {k: v * scale for k, v in base.cycles.items()}
            cycles.update({k: float(v) for k, v in (entry.get("cycles") or {}).items()})
        else:
            cycles = {k: float(v) for k, v in (entry.get("cycles") or {}).items()}
        missing = [f for f in FIELDS if f not in cycles]
        if missing:
            raise BoardError(f"kernel family {fid!r} lacks {', '.join(missing)}",
                             file=str(path))
        out[fid] = KernelFamily(fid, str(entry.get("description", "")), cycles,
                                str(entry.get("source", "")),
                                bool(entry.get("calibrated", True)))
        return out[fid]

    for fid in raw:
        build(fid)
    return out
