"""`cnnaudit suggest`: what dominates the cost, and concrete changes that make it fit.

Each transformation is one small function registered with `@transformation`: it reads the
user's graph and proposes `Candidate`s, each a new graph (the IR is frozen: nodes are
rebuilt, never edited) and a dtype. Every candidate is re-audited with `api.analyse`; it is
kept only if the new graph audits without error and every metric it claims to reduce went
down. Survivors are ranked by what they gain toward the chosen boards: boards flipping from
FAIL to PASS first, then bytes saved in the binding resource (RAM or flash, whichever is
furthest over budget or has least headroom), then the sum of relative reductions.

Suggestions are independent: each is measured against the model as given. To combine
two, apply one (`--apply N -o new.yaml`) and run `suggest` again on the result.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import frontends, ops
from .api import analyse, resolve_boards
from .boards import Board
from .errors import CnnauditError, UsageError
from .ir import Graph, Node, Shape
from .limits import DEFAULT, Limits
from .ops.base import CostClass
from .passes.shapes import infer_shapes
from .report import Report
from .spec_writer import dump_spec
from .verdict import BoardResult, Verdict

METRICS = ("params", "macs", "flash", "arena")
CONV_OPS = ("conv1d", "conv2d", "separable_conv1d", "separable_conv2d", "depthwise_conv1d",
            "depthwise_conv2d")
WIDTH_ARG = {"conv1d": "filters", "conv2d": "filters", "separable_conv1d": "filters",
             "separable_conv2d": "filters", "conv1d_transpose": "filters",
             "conv2d_transpose": "filters", "dense": "units"}
PER_KIND = 3  # at most this many candidates from one transformation (the largest layers)
THIN_INPUT_CHANNELS = 3  # a conv reading 1-3 channels must earn its separable rewrite
MATERIAL_GAIN = 0.01  # ... by cutting the binding resource by at least this share


@dataclass(frozen=True)
class Metrics:
    """The numbers a suggestion moves (latency only when the audit estimates it)."""

    params: int
    macs: int
    flash: int  # model flash bytes
    arena: int  # tensor arena bytes
    latency_ms: float | None = None

    @staticmethod
    def of(report: Report) -> Metrics:
        first: BoardResult | None = report.boards[0] if report.boards else None
        latency = getattr(first, "latency_ms", None) if first is not None else None
        m = report.model
        return Metrics(m.params, m.macs, m.flash_bytes, m.arena_bytes,
                       float(latency) if latency is not None else None)

    def get(self, metric: str) -> float:
        return float(getattr(self, "latency_ms" if metric == "latency" else metric) or 0)


@dataclass(frozen=True)
class Candidate:
    """A transformation's proposal before it is re-audited."""

    title: str
    layers: tuple[str, ...]  # layers of the original graph it changes
    graph: Graph
    dtype: str
    reduces: tuple[str, ...]  # metrics it claims to reduce; checked after the re-audit
    accuracy: str  # what it may cost in accuracy, qualitatively (cnnaudit does not train)
    note: str = ""  # what the user must do beyond the graph (e.g. convert at int8)
    thin: bool = False  # rewrites a layer reading 1-3 channels: must gain materially


@dataclass(frozen=True)
class Suggestion:
    rank: int
    kind: str  # the transformation's name
    title: str
    layers: tuple[str, ...]
    accuracy: str
    note: str
    before: Metrics
    after: Metrics
    flips: tuple[tuple[str, str, str], ...]  # (board, before, after): verdicts that improve
    worsens: tuple[str, ...]  # boards whose verdict gets worse
    optional: bool  # the model already fits: a gain, not a need
    reduces: tuple[str, ...]  # what it claimed to reduce (and, checked, did)
    graph: Graph = field(repr=False)
    dtype: str = "int8"
    report: Report | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Share:
    """One layer's part of a total."""

    metric: str
    layer: str
    value: int
    share: float


@dataclass(frozen=True)
class Advice:
    """Everything `suggest` found: the audit, what dominates, the ranked suggestions."""

    report: Report
    dtype: str
    fits: bool  # every chosen board passes (WARN counts as not fitting comfortably)
    binding: str | None  # "RAM" or "flash", the resource closest to (or furthest over) budget
    binding_board: str | None
    dominant: tuple[Share, ...]
    peak_tensors: tuple[tuple[str, int], ...]  # live at the arena peak, with sizes
    suggestions: tuple[Suggestion, ...]
    dropped: tuple[str, ...]  # candidates refused, each with the reason

    def to_dict(self) -> dict[str, Any]:
        def metrics(m: Metrics) -> dict[str, Any]:
            out: dict[str, Any] = {"params": m.params, "macs": m.macs, "flash_bytes": m.flash,
                                   "arena_bytes": m.arena}
            if m.latency_ms is not None:
                out["latency_ms"] = m.latency_ms
            return out

        m = self.report.model
        return {
            "model": {"name": m.name, "source": m.source, "dtype": self.dtype},
            "boards": [{"id": b.board.id, "verdict": b.verdict.value,
                        "reasons": list(b.reasons)} for b in self.report.boards],
            "fits": self.fits,
            "binding": self.binding,
            "binding_board": self.binding_board,
            "now": metrics(Metrics.of(self.report)),
            "dominant": [{"metric": s.metric, "layer": s.layer, "value": s.value,
                          "share": round(s.share, 4)} for s in self.dominant],
            "peak": {"layer": m.peak_layer,
                     "live_tensors": [{"tensor": t, "bytes": b} for t, b in self.peak_tensors]},
            "suggestions": [
                {"rank": s.rank, "kind": s.kind, "title": s.title, "layers": list(s.layers),
                 "dtype": s.dtype, "before": metrics(s.before), "after": metrics(s.after),
                 "boards_flipped": [{"board": b, "before": old, "after": new}
                                    for b, old, new in s.flips],
                 "boards_worse": list(s.worsens),
                 "optional": s.optional, "reduces": list(s.reduces),
                 "accuracy": s.accuracy, "note": s.note}
                for s in self.suggestions
            ],
            "dropped": list(self.dropped),
        }


@dataclass(frozen=True)
class Context:
    """What a transformation may read: the graph, its shapes, its audit, its consumers."""

    graph: Graph
    report: Report
    dtype: str
    shapes: dict[str, Shape]
    consumers: dict[str, tuple[Node, ...]]
    shared: frozenset[str]  # layers taking part in Keras weight sharing
    layer_params: dict[str, int]

    def fresh(self, base: str) -> str:
        """A layer name not yet used in the graph: base, base_1, base_2, ..."""
        used = {n.name for n in self.graph.nodes} | {t for n in self.graph.nodes
                                                     for t in n.outputs}
        name, i = base, 0
        while name in used:
            i += 1
            name = f"{base}_{i}"
        return name

    def editable(self, node: Node) -> bool:
        """Shared layers (Keras weight sharing) are left alone: changing one call would
        silently change the others."""
        return node.name not in self.shared

    def params(self, name: str) -> int:
        return self.layer_params.get(name, 0)


Transformation = Callable[[Context], list[Candidate]]
TRANSFORMATIONS: list[tuple[str, Transformation]] = []


def transformation(fn: Transformation) -> Transformation:
    """Register a transformation; its name (minus a leading underscore) is its kind."""
    TRANSFORMATIONS.append((fn.__name__.strip("_"), fn))
    return fn


# -- graph surgery (new graphs; the IR is frozen) -------------------------------------
def _rebuild(ctx: Context, nodes: list[Node], rewire: dict[str, str] | None = None) -> Graph:
    """A new graph of `nodes` (in execution order), reading through `rewire` (old tensor ->
    replacement) for tensors of removed nodes."""
    rewire = rewire or {}

    def follow(t: str) -> str:
        while t in rewire:
            t = rewire[t]
        return t

    fixed = [replace(n, inputs=tuple(follow(t) for t in n.inputs)) for n in nodes]
    return replace(ctx.graph, nodes=tuple(fixed),
                   outputs=tuple(follow(t) for t in ctx.graph.outputs), warnings=(),
                   file_size=None, tensor_count=None)


def _with(node: Node, op: str | None = None, **changes: Any) -> Node:
    """The node as op `op` (default: its own) with attributes changed, normalized by the
    op itself so every default is filled exactly as the frontends fill it."""
    target = ops.get(op or node.op)
    names = {a.name for a in target.args}
    raw = {k: v for k, v in node.attrs.items() if k in names}
    raw.update(changes)
    return replace(node, op=target.name, attrs=target.normalize(raw))


def _insert_before(ctx: Context, target: Node, new: Node) -> Graph:
    """Insert `new` (reading target's input) right before `target`, which then reads it."""
    nodes: list[Node] = []
    for n in ctx.graph.nodes:
        if n is target:
            nodes += [new, replace(n, inputs=new.outputs)]
        else:
            nodes.append(n)
    return _rebuild(ctx, nodes)


def _swap(ctx: Context, old: Node, new: Node) -> Graph:
    return _rebuild(ctx, [new if n is old else n for n in ctx.graph.nodes])


def _dims(shape: Shape) -> str:
    return "x".join(map(str, shape))


# -- the transformations ----------------------------------------------------------------
PASS_THROUGH = (CostClass.IDENTITY, CostClass.ELEMENTWISE, CostClass.NORM)


@transformation
def gap_head(ctx: Context) -> list[Candidate]:
    """Flatten -> Dense... -> classifier becomes GlobalAveragePooling -> classifier: the
    hidden Dense layers after Flatten go, the last Dense (the classifier) stays (LAB07)."""
    out = []
    for flat in ctx.graph.nodes:
        spatial = ctx.shapes[flat.inputs[0]][:-1] if flat.op == "flatten" else ()
        if len(spatial) not in (1, 2) or math.prod(spatial) <= 1:
            continue
        chain, cur = [], flat
        while cur.outputs[0] not in ctx.graph.outputs:
            nxt = ctx.consumers.get(cur.outputs[0], ())
            if len(nxt) != 1 or len(nxt[0].inputs) != 1 or not ctx.editable(nxt[0]) or (
                    nxt[0].op != "dense"
                    and ops.get(nxt[0].op).node_cost_class(nxt[0].attrs) not in PASS_THROUGH):
                break
            chain.append(nxt[0])
            cur = nxt[0]
        denses = [n for n in chain if n.op == "dense"]
        if not denses:
            continue
        classifier, hidden = denses[-1], denses[:-1]
        name = ctx.fresh(f"global_average_pooling{len(spatial)}d")
        gap = _with(Node(name=name, op=f"global_avg_pool{len(spatial)}d", attrs={},
                         inputs=flat.inputs, outputs=(name,), where=flat.where))
        drop = {flat.name, *(n.name for n in hidden)}
        rewire = {flat.outputs[0]: gap.name, **{n.outputs[0]: n.inputs[0] for n in hidden}}
        nodes = []
        for n in ctx.graph.nodes:
            if n is flat:
                nodes.append(gap)
            elif n.name not in drop:
                nodes.append(n)
        removed = ", ".join(f"{n.name} ({ctx.shapes[n.inputs[0]][-1]} -> {n.attrs['units']})"
                            for n in hidden)
        out.append(Candidate(
            title=f"global average pooling instead of {flat.name}"
                  + (f" + {removed}" if removed else "") + f"; {classifier.name} classifies "
                  f"the {ctx.shapes[flat.inputs[0]][-1]} channel averages",
            layers=(flat.name, *(n.name for n in hidden), classifier.name),
            graph=_rebuild(ctx, nodes, rewire), dtype=ctx.dtype,
            reduces=("params", "flash"),
            accuracy="often none to small for classification (the lab's recommended head); "
                     "position-dependent tasks lose more, since only channel averages "
                     "reach the classifier"))
    return out


@transformation
def int8(ctx: Context) -> list[Candidate]:
    """Deploy with full-integer int8 quantization: weights and activations 1 byte."""
    if ctx.dtype == "int8" or ctx.graph.dtype is not None:
        return []
    return [Candidate(
        title=f"quantize to int8 (now {ctx.dtype}): weights and activations 1 byte",
        layers=("all",), graph=ctx.graph, dtype="int8", reduces=("flash", "arena"),
        accuracy="usually small (about a point or less) with post-training quantization and "
                 "a representative dataset; quantization-aware training recovers most of it",
        note="not a graph change: convert with full-integer quantization and audit with "
             "--dtype int8")]


@transformation
def separable(ctx: Context) -> list[Candidate]:
    """A standard convolution becomes depthwise + 1x1 pointwise (MobileNet's block)."""
    convs = [n for n in ctx.graph.nodes
             if n.op in ("conv2d", "conv1d") and n.attrs["groups"] == 1
             and math.prod(n.attrs["kernel"]) > 1 and ctx.editable(n)]
    convs.sort(key=lambda n: -ctx.params(n.name))
    out = []
    for conv in convs[:PER_KIND]:
        cin = ctx.shapes[conv.inputs[0]][-1]
        new = _with(conv, f"separable_{conv.op}", depth_multiplier=1)
        out.append(Candidate(
            title=f"depthwise separable {conv.name} ({cin} -> {conv.attrs['filters']} "
                  "channels)",
            layers=(conv.name,), graph=_swap(ctx, conv, new), dtype=ctx.dtype,
            reduces=("params", "macs"), thin=cin <= THIN_INPUT_CHANNELS,
            accuracy="usually small (MobileNet-style); larger when the layer reads few "
                     "channels, since the depthwise step mixes none"))
    return out


@transformation
def halve_filters(ctx: Context) -> list[Candidate]:
    """Halve the filters (units) of the costliest conv or dense layer that is not an output
    layer: the one with the most parameters, and the one with the most MACs if another."""
    width = [n for n in ctx.graph.nodes
             if n.op in WIDTH_ARG and n.attrs[WIDTH_ARG[n.op]] >= 2
             and n.outputs[0] not in ctx.graph.outputs and ctx.editable(n)]
    by_layer = {layer.name: layer for layer in ctx.report.layers}
    picks: list[Node] = []
    for key in ("params", "macs"):
        ranked = sorted(width, key=lambda n: -getattr(by_layer[n.name], key))
        if ranked and getattr(by_layer[ranked[0].name], key) > 0 and ranked[0] not in picks:
            picks.append(ranked[0])
    out = []
    for node in picks:
        arg = WIDTH_ARG[node.op]
        n = node.attrs[arg]
        out.append(Candidate(
            title=f"halve {node.name}'s {arg}: {n} -> {n // 2}",
            layers=(node.name,), graph=_swap(ctx, node, _with(node, **{arg: n // 2})),
            dtype=ctx.dtype, reduces=("params", "macs"),
            accuracy="less capacity: often little loss for an over-wide layer, more for a "
                     "narrow one; retrain to know"))
    return out


def _peak_producer(ctx: Context) -> Node | None:
    """The layer that writes the largest tensor live at the arena peak."""
    sizes = {b.tensor: b.size for b in ctx.report.buffers}
    live = sorted(ctx.report.model.peak_live_tensors, key=lambda t: -sizes.get(t, 0))
    names = {n.name: n for n in ctx.graph.nodes}
    for tensor in live:
        name = tensor
        while name not in names and "/" in name:  # a lowered step: "<layer>/<i>"
            name = name.rsplit("/", 1)[0]
        if name in names and names[name].op != "input":
            return names[name]
    return None


def _conv_behind(ctx: Context, node: Node) -> Node | None:
    """`node` or the nearest convolution before it through single-input layers (BN,
    activation, pooling), where a stride or a pooling step can go."""
    producers = {t: n for n in ctx.graph.nodes for t in n.outputs}
    cur: Node | None = node
    while cur is not None and cur.op != "input":
        if cur.op in CONV_OPS:
            return cur
        if len(cur.inputs) != 1:
            return None
        cur = producers.get(cur.inputs[0])
    return None


@transformation
def stride2(ctx: Context) -> list[Candidate]:
    """Stride 2 in the convolution that makes the peak activation: a quarter of its output
    (a half in 1-D), and every later layer works on fewer positions."""
    peak = _peak_producer(ctx)
    conv = _conv_behind(ctx, peak) if peak is not None else None
    if conv is None or not ctx.editable(conv) or max(conv.attrs["strides"]) > 1 or max(
            conv.attrs["dilation"]) > 1:
        return []
    rank = len(conv.attrs["strides"])
    new = _with(conv, strides=(2,) * rank)
    return [Candidate(
        title=f"stride 2 in {conv.name} (makes the peak at {ctx.report.model.peak_layer}): "
              f"output {_dims(ctx.shapes[conv.outputs[0]])} -> about a "
              f"{'quarter' if rank == 2 else 'half'}",
        layers=(conv.name,), graph=_swap(ctx, conv, new), dtype=ctx.dtype,
        reduces=("arena", "macs"),
        accuracy="coarser early features: often small for large objects, larger for fine "
                 "detail")]


@transformation
def pool_earlier(ctx: Context) -> list[Candidate]:
    """A 2x max-pooling step before the convolution that makes the peak activation (when
    it does not read a model input: a smaller input resolution covers that case)."""
    peak = _peak_producer(ctx)
    conv = _conv_behind(ctx, peak) if peak is not None else None
    if conv is None or conv.inputs[0] in ctx.graph.inputs or not ctx.editable(conv):
        return []
    shape = ctx.shapes[conv.inputs[0]]
    rank = len(shape) - 1
    if rank not in (1, 2) or min(shape[:-1]) < 4:
        return []
    name = ctx.fresh(f"max_pooling{rank}d_early")
    pool = _with(Node(name=name, op=f"max_pool{rank}d", attrs={"pool": (2,) * rank},
                      inputs=conv.inputs, outputs=(name,), where=conv.where))
    return [Candidate(
        title=f"2x max pooling before {conv.name} (makes the peak at "
              f"{ctx.report.model.peak_layer}): its input {_dims(shape)} -> "
              f"{_dims(tuple(d // 2 for d in shape[:-1]) + shape[-1:])}",
        layers=(conv.name,), graph=_insert_before(ctx, conv, pool), dtype=ctx.dtype,
        reduces=("arena", "macs"),
        accuracy="less spatial detail from there on: often small after the first "
                 "features are extracted")]


@transformation
def smaller_input(ctx: Context) -> list[Candidate]:
    """Halve the height and width of each image input (at least 8x8 to start with)."""
    out = []
    for node in ctx.graph.nodes:
        shape = tuple(node.attrs["shape"]) if node.op == "input" else ()
        if len(shape) != 3 or min(shape[:-1]) < 8:
            continue
        small = (*(d // 2 for d in shape[:-1]), shape[-1])
        out.append(Candidate(
            title=f"halve the input resolution of {node.name}: {_dims(shape)} -> "
                  f"{_dims(small)}",
            layers=(node.name,), graph=_swap(ctx, node, _with(node, shape=small)),
            dtype=ctx.dtype, reduces=("arena", "macs"),
            accuracy="less detail per image: fine for coarse or large objects, costly for "
                     "small ones; resize in the data pipeline and retrain",
            note="the camera or data pipeline must deliver the smaller image"))
    return out


# -- the engine --------------------------------------------------------------------------
def _usage(result: BoardResult) -> dict[str, float]:
    """How full each resource is on a board (1.0 = exactly at budget; the arena's largest
    free block counts for RAM)."""
    b = result.board
    ram = result.ram_bytes / b.ram_budget_bytes if b.ram_budget_bytes else math.inf
    if b.arena_max_bytes is not None:
        ram = max(ram, result.arena_bytes / b.arena_max_bytes if b.arena_max_bytes
                  else math.inf)
    flash = result.flash_bytes / b.flash_budget_bytes if b.flash_budget_bytes else math.inf
    return {"RAM": ram, "flash": flash}


def _binding(report: Report) -> tuple[str | None, str | None]:
    """The resource (and board) closest to or furthest over its budget."""
    best: tuple[float, str, str] | None = None
    for result in report.boards:
        for resource, used in _usage(result).items():
            if best is None or used > best[0]:
                best = (used, resource, result.board.id)
    return (best[1], best[2]) if best else (None, None)


def _dominant(report: Report, top: int = 3) -> tuple[Share, ...]:
    out: list[Share] = []
    totals = {"params": report.model.params, "macs": report.model.macs,
              "flash": report.model.flash_bytes}
    value = {"params": lambda r: r.params, "macs": lambda r: r.macs,
             "flash": lambda r: r.weights_bytes}
    for metric, total in totals.items():
        ranked = sorted(report.layers, key=lambda r: -value[metric](r))
        for layer in ranked[:top]:
            v = value[metric](layer)
            if v > 0 and total > 0:
                out.append(Share(metric, layer.name, v, v / total))
    return tuple(out)


def advise(
    model: str | Path | dict[str, Any] | Graph,
    boards: Sequence[str | Board] | None = None,
    *,
    dtype: str = "int8",
    boards_dir: Iterable[str | Path] = (),
    overrides: Mapping[str, tuple[int, ...]] | None = None,
    limits: Limits = DEFAULT,
) -> Advice:
    """`suggest` for anything `audit` takes (a file, a spec dict, a one-liner, a graph) and
    board ids, as the CLI calls it."""
    graph = model if isinstance(model, Graph) else frontends.load(
        model, overrides=overrides, limits=limits)
    return suggest(graph, resolve_boards(boards, boards_dir), dtype=dtype)


def suggest(graph: Graph, boards: Sequence[Board], *, dtype: str = "int8") -> Advice:
    """Audit `graph` against `boards` at `dtype`, then propose and re-audit every
    registered transformation; see the module docstring for the rules."""
    if graph.format == "tflite":
        raise UsageError(f"{graph.source}: suggest needs a spec or a Keras model",
                         hint="a .tflite file is already converted to TFLite operators, where "
                         "layer changes cannot be made; run it on the model it came from")
    report = analyse(graph, boards, dtype=dtype)
    dtype = report.model.dtype
    consumers: dict[str, list[Node]] = {}
    for node in graph.nodes:
        for t in node.inputs:
            consumers.setdefault(t, []).append(node)
    shared = {n.name for n in graph.nodes if n.shares_weights_of} | {
        n.shares_weights_of for n in graph.nodes if n.shares_weights_of}
    ctx = Context(graph, report, dtype, infer_shapes(graph),
                  {t: tuple(ns) for t, ns in consumers.items()}, frozenset(shared),
                  {layer.name: layer.params for layer in report.layers})
    binding, binding_board = _binding(report)
    fits = bool(report.boards) and all(b.verdict is Verdict.PASS for b in report.boards)
    before = Metrics.of(report)
    kept: list[tuple[tuple[float, ...], Suggestion]] = []
    dropped: list[str] = []
    for kind, make in TRANSFORMATIONS:
        try:
            candidates = make(ctx)
        except ops.OpError as exc:  # a layer refused the changed arguments
            dropped.append(f"{kind}: {exc}")
            continue
        for cand in candidates:
            why, suggestion = _evaluate(kind, cand, report, before, binding, fits)
            if suggestion is None:
                dropped.append(f"{cand.title}: {why}")
                continue
            kept.append((_rank_key(suggestion, binding), suggestion))
    kept.sort(key=lambda pair: pair[0])
    ranked = tuple(replace(s, rank=i + 1) for i, (_, s) in enumerate(kept))
    sizes = {b.tensor: b.size for b in report.buffers}
    peak = tuple(sorted(((t, sizes.get(t, 0)) for t in report.model.peak_live_tensors),
                        key=lambda pair: -pair[1]))
    return Advice(report, dtype, fits, binding, binding_board, _dominant(report), peak,
                  ranked, tuple(dropped))


def _evaluate(kind: str, cand: Candidate, report: Report, before: Metrics,
              binding: str | None, fits: bool) -> tuple[str, Suggestion | None]:
    """Re-audit a candidate; (why not, None) when it breaks or does not deliver."""
    boards = [b.board for b in report.boards]
    try:
        after_report = analyse(cand.graph, boards, dtype=cand.dtype)
    except CnnauditError as exc:
        return f"the changed graph does not audit ({exc})", None
    after = Metrics.of(after_report)
    for metric in cand.reduces:
        if after.get(metric) >= before.get(metric):
            return f"does not reduce {metric}", None
    order = [Verdict.PASS, Verdict.WARN, Verdict.FAIL]
    flips, worse = [], []
    for old, new in zip(report.boards, after_report.boards, strict=True):
        if order.index(new.verdict) < order.index(old.verdict):
            flips.append((old.board.id, old.verdict.value, new.verdict.value))
        if order.index(new.verdict) > order.index(old.verdict):
            worse.append(old.board.id)
    if cand.thin and _binding_gain(before, after, binding) < MATERIAL_GAIN:
        return "it reads 1-3 channels and gains too little to be worth the accuracy", None
    if fits:
        grown = [m for m in METRICS if after.get(m) > before.get(m)]
        if worse or grown:
            return ("the model already fits, and this makes "
                    + (f"{', '.join(worse)} worse" if worse else f"{grown[0]} larger")), None
    return "", Suggestion(0, kind, cand.title, cand.layers, cand.accuracy, cand.note, before,
                          after, tuple(flips), tuple(worse), fits, cand.reduces, cand.graph,
                          cand.dtype, after_report)


def _binding_gain(before: Metrics, after: Metrics, binding: str | None) -> float:
    """Share of the binding resource saved (arena for RAM, model flash for flash); without
    boards, the best share saved of either."""
    shares = {"RAM": 1 - after.arena / before.arena if before.arena else 0.0,
              "flash": 1 - after.flash / before.flash if before.flash else 0.0}
    return shares[binding] if binding else max(shares.values())


def _rank_key(s: Suggestion, binding: str | None) -> tuple[float, ...]:
    relative = sum(1 - s.after.get(m) / s.before.get(m) for m in METRICS if s.before.get(m))
    fixed = sum(1 for _, old, _ in s.flips if old == Verdict.FAIL.value)
    return (-fixed, -len(s.flips), len(s.worsens), -_binding_gain(s.before, s.after, binding),
            -relative)


def applied_spec(advice: Advice, number: int, out_name: str) -> tuple[Suggestion, str]:
    """Suggestion `number` (1-based) and its graph as YAML spec text, with a header saying
    where it came from and the dtype to audit and convert it at."""
    if not advice.suggestions:
        raise UsageError("there is no suggestion to apply")
    if not 1 <= number <= len(advice.suggestions):
        raise UsageError(f"--apply {number}: there are {len(advice.suggestions)} suggestions",
                         hint=f"choose 1 to {len(advice.suggestions)}")
    s = advice.suggestions[number - 1]
    boards = " ".join(f"--board {b.board.id}" for b in advice.report.boards)
    header = "\n".join([
        f"Written by `cnnaudit suggest --apply {number}` from {advice.report.model.source}:",
        f"{s.title}.",
        f"Deploy at dtype {s.dtype} (the spec format has no dtype key; pass it when auditing"
        " and converting).",
        *([f"Note: {s.note}."] if s.note else []),
        f"Accuracy: {s.accuracy}.",
        f"Check it: cnnaudit check {out_name} {boards} --dtype {s.dtype}".rstrip(),
    ])
    return s, dump_spec(s.graph, header)
