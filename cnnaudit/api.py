"""`audit()`: the whole pipeline, frontend -> IR -> passes -> verdicts -> Report."""

from __future__ import annotations

import marshal
from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any

from . import frontends, ops
from .boards import Board, load_boards, select
from .dtypes import DTYPES, DType, get_dtype
from .errors import SpecError
from .ir import Graph, Node, Shape
from .limits import DEFAULT, Limits
from .ops import memo
from .passes.cost import LayerCost, LazyCosts, layer_costs, node_cost
from .passes.flash import estimate_flash
from .passes.latency import OpWork, cycles_ms, load_families, op_cycles, op_work
from .passes.lowering import lower
from .passes.memory import plan_memory, tensor_bytes
from .passes.shapes import LazyShapes, infer_shapes
from .passes.support import Finding, check_support, resolver_ops
from .report import ArenaBuffer, FrozenDict, LayerReport, ModelSummary, Report, TimelineStep, rows
from .verdict import Latency, judge


def audit(
    model: str | Path | dict[str, Any] | Graph,
    boards: Sequence[str | Board] | None = None,
    *,
    dtype: str = "int8",
    boards_dir: Iterable[str | Path] = (),
    overrides: Mapping[str, tuple[int, ...]] | None = None,
    limits: Limits = DEFAULT,
) -> Report:
    """Audit a model (spec file or dict, .keras/.h5 file, one-line spec, or IR graph) against
    boards (ids or Board objects; None = every known board, [] = none).

    `overrides` maps a layer name to its output shape, for layers whose code cannot be read;
    `limits` bounds what a hostile file may cost.
    """
    chosen = resolve_boards(boards, boards_dir)
    key, entry_keys = _cache_key(model, chosen, dtype, overrides, limits)
    if key is not None:
        try:  # (one look-up: a key hashes its boards and limits, dataclasses, each time)
            hit = _REPORTS.get(key)
        except TypeError:  # something unhashable in it
            key = hit = None
        if hit is not None:
            return hit
    report = _audit(model, chosen, dtype, overrides, limits, entry_keys)
    if key is not None:
        if len(_REPORTS) >= _MAX_REPORTS:
            _REPORTS.pop(next(iter(_REPORTS)))
        _REPORTS[key] = report
    return report


# A search loop often meets the same candidate again; its Report is immutable, so an
# identical spec dict (or one-line spec) is answered from here. Files are not cached:
# they can change between calls.
_REPORTS: dict[tuple[Any, ...], Report] = {}
_MAX_REPORTS = 128  # each holds a whole report: more makes the GC slower for all


def _cache_key(model: object, boards: list[Board], dtype: str,
               overrides: Mapping[str, tuple[int, ...]] | None,
               limits: Limits) -> tuple[tuple[Any, ...] | None, Sequence[bytes] | None]:
    """The report cache's key (None: not cached), and the spec's layer entry keys when it
    is made of them (the spec frontend reads the entries by these: made once)."""
    if not isinstance(model, dict):
        return None, None
    content: object = frontends.spec_key(model)
    entry_keys = None if content is None else content[1]  # type: ignore[index]
    if content is None:
        try:
            # marshal: an order of magnitude cheaper than repr, and as exact (1, 1.0 and
            # True differ); version 2 writes no back-references, so equal specs give equal
            # bytes
            content = marshal.dumps(model, 2)
        except ValueError:  # not plain values (a dict subclass, an object)
            content = repr(model)
    try:
        return (content, tuple(boards), dtype, tuple(sorted((overrides or {}).items())),
                limits), entry_keys
    except TypeError:  # overrides that cannot be sorted
        return None, None


def _audit(model: str | Path | dict[str, Any] | Graph, chosen: list[Board], dtype: str,
           overrides: Mapping[str, tuple[int, ...]] | None, limits: Limits,
           entry_keys: Sequence[bytes] | None = None) -> Report:
    graph = model if isinstance(model, Graph) else frontends.load(
        model, overrides=overrides, limits=limits, entry_keys=entry_keys)
    if graph.format != "tflite":
        return analyse(graph, chosen, dtype=dtype)
    try:
        return analyse(graph, chosen, dtype=dtype)
    except (IndexError, KeyError, ValueError, TypeError, ZeroDivisionError) as exc:
        # A .tflite file is untrusted data whose parts may contradict each other in ways
        # the frontend's checks do not catch; that is a damaged file, not a crash.
        raise SpecError(f"inconsistent .tflite file ({type(exc).__name__}: "
                        f"{str(exc)[:80]})", file=graph.source) from None


def resolve_boards(boards: Sequence[str | Board] | None,
                   boards_dir: Iterable[str | Path] = ()) -> list[Board]:
    """Board ids or Board objects (None = every known board) -> Board objects, in order."""
    if boards is not None and all(isinstance(b, Board) for b in boards):
        return list(boards)  # type: ignore[arg-type]
    ids = None if boards is None else [b for b in boards if isinstance(b, str)]
    known = load_boards(boards_dir, ids)
    if boards is None:
        return select(known, None)
    chosen: list[Board] = []
    for b in boards:
        for board in [b] if isinstance(b, Board) else select(known, [b]):
            if board not in chosen:
                chosen.append(board)
    return chosen


def analyse(graph: Graph, boards: Sequence[Board], *, dtype: str = "int8",
            pointer_bytes: int = 4) -> Report:
    """Run every pass on an IR graph and judge it against `boards`.

    Shapes, params and MACs are counted on the graph as written; memory, flash and operator
    support on the TFLite operators it becomes (a .tflite file already is that graph).
    """
    dt = get_dtype(graph.dtype or dtype)
    shapes = infer_shapes(graph)
    # a layer's cost is needed only for its row of the report, which its node keeps
    costs = layer_costs(graph, shapes) if graph.format == "tflite" else None
    if costs is not None:
        device, device_shapes, device_costs = graph, shapes, costs
    else:
        device = lower(graph, shapes, dt)
        device_shapes = LazyShapes(device)
        device_costs = LazyCosts(device, device_shapes)
    memory = plan_memory(device, device_shapes, dt, pointer_bytes)
    flash = estimate_flash(device, device_costs, dt)
    reported = [memo.kept(node, ("report", dt.name, *map(shapes.__getitem__, node.inputs)),
                             _layer_report, graph, shapes, costs, dt)
                for node in graph.nodes]
    layers = tuple(map(itemgetter(0), reported))
    summary = ModelSummary(
        name=graph.name,
        source=graph.source,
        format=graph.format,
        dtype=dt.name,
        params=sum(map(attrgetter("params"), layers)),  # map: no generator frame (3.11)
        trainable_params=sum(map(attrgetter("trainable_params"), layers)),
        macs=sum(map(attrgetter("macs"), layers)),
        weights_bytes=flash.stored_weight_bytes,
        weights_bytes_by_dtype=FrozenDict(
            zip(DTYPES, map(sum, zip(*map(itemgetter(1), reported), strict=True)), strict=True)
            if graph.dtype is None else {dt.name: flash.stored_weight_bytes}),
        flash_bytes=flash.total_bytes,
        flash_breakdown=FrozenDict(flash.breakdown()),
        flash_exact=flash.exact,
        arena_bytes=memory.arena_bytes,
        activations_bytes=memory.activations_bytes,
        persistent_bytes=memory.persistent_bytes,
        peak_layer=memory.peak_node,
        peak_live_tensors=memory.live_at_peak,
        input_shapes=tuple(shapes[t] for t in graph.inputs),
        output_shapes=tuple(shapes[t] for t in graph.outputs),
        operators=tuple(resolver_ops(device)),
    )
    findings = tuple(check_support(device))
    blockers = _blockers(findings)
    work = op_work(device, device_shapes, device_costs)
    layer_of = _layer_of(graph, work)
    results = tuple(judge(b, memory.arena_bytes, flash.total_bytes, blockers,
                          _latency(b, dt.name, work, layer_of)) for b in boards)
    tensors, sizes, firsts, lasts = zip(*memory.buffers, strict=True) if memory.buffers \
        else ((),) * 4
    buffers = rows(ArenaBuffer, tensors, map(memory.offsets.__getitem__, tensors), sizes,
                   firsts, lasts)
    steps = [memo.kept(n, "step", _step, device_shapes) for n in device.nodes]
    operators, kinds, outputs = zip(*steps, strict=True) if steps else ((),) * 3
    timeline = rows(TimelineStep, operators, kinds, memory.live_by_step, outputs)
    return Report(summary, layers, results, warnings=graph.warnings, findings=findings,
                  timeline=timeline, buffers=buffers)


def _layer_report(node: Node, graph: Graph, shapes: dict[str, Shape],
                  costs: Mapping[str, LayerCost] | None,
                  dt: DType) -> tuple[LayerReport, tuple[int, ...]]:
    """A layer's row of the report, and its weights' bytes at every dtype (DTYPES order):
    the same layer with the same input shapes recurs across candidates, so both are kept
    on its node."""
    op = ops.get(node.op)
    cost = costs[node.name] if costs is not None else node_cost(node, shapes)
    return LayerReport(
        name=node.name,
        type=op.display_type(node.attrs),
        inputs=node.inputs,
        output_shape=shapes[node.outputs[0]],
        params=cost.params,
        trainable_params=cost.trainable_params,
        macs=cost.macs,
        activation_bytes=tensor_bytes(graph, shapes, node.outputs[0], dt),
        weights_bytes=cost.weight_bytes(dt),
        line=node.where.line,
        info=op.describe(node.attrs),
    ), tuple(cost.weight_bytes(other) for other in DTYPES.values()) if graph.dtype is None \
        else ()


def _step(node: Node, shapes: Mapping[str, Shape]) -> tuple[str, str, Shape]:
    """An operator's name, type and output shape, for its timeline step."""
    return node.name, ops.get(node.op).display_type(node.attrs), shapes[node.outputs[0]]


def _layer_of(graph: Graph, work: tuple[OpWork, ...]) -> tuple[str, ...]:
    """The layer each operator comes from: lowering names operators after their layer
    (`conv2d`, `conv2d/0`); operators of a .tflite file are the layers."""
    names = {node.name for node in graph.nodes}
    layers = [w.name for w in work]
    for i, name in enumerate(layers):
        if name not in names:  # most operators are named as their layer
            head = name.split("/")[0]
            layers[i] = head if head in names else name
    return tuple(layers)


def _latency(board: Board, dtype: str, work: tuple[OpWork, ...],
             layer_of: tuple[str, ...]) -> Latency | None:
    kernels = board.kernels(dtype)
    if kernels is None:
        return None
    family = load_families()[kernels]
    cycles = op_cycles(work, family)  # each operator's, counted once
    per_ms = board.clock_mhz * 1e3  # cycles_ms of one operator: c / per_ms, the same float
    per_layer: dict[str, float] = {}
    for c, layer in zip(cycles, layer_of, strict=True):
        per_layer[layer] = per_layer.get(layer, 0.0) + c / per_ms
    return Latency(cycles_ms(cycles, board.clock_mhz), kernels, tuple(per_layer.items()))


def _blockers(findings: tuple[Finding, ...]) -> tuple[str, ...]:
    """One short reason per kind of error finding (e.g. "unsupported: CUSTOM:Foo")."""
    out: dict[str, None] = {}
    for f in findings:
        if f.severity == "error":
            out.setdefault(f"will not run: {f.message.split(';')[0]}", None)
    return tuple(out)
