"""Rich tables for a terminal: model summary, board verdicts, per-layer breakdown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ..batch import Batch
from ..boards import KIB, Board
from ..diff import ReportDiff
from ..report import Report
from ..verdict import BoardResult, Verdict, kib
from .summary import verdict_line

if TYPE_CHECKING:  # verify is only needed by `cnnaudit verify`
    from ..verify import Verification

VERDICT_STYLE = {Verdict.PASS: "bold green", Verdict.WARN: "bold yellow",
                 Verdict.FAIL: "bold red"}
MAC_NOTE = ("MACs: multiply-accumulates in conv and dense layers, batch 1 (FLOPs = 2 x MACs); "
            "pooling, element-wise, normalisation and bias adds are not counted.")


LATENCY_NOTE = ("Latency: an estimate of one inference with the TFLite Micro kernels the "
                "board's profile names (`cnnaudit boards`); docs/latency.md states its error "
                "against published measurements.")


def _num(n: int) -> str:
    return f"{n:,}"


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def approx_ms(ms: float | None) -> str:
    """An estimate shown as one: `~41 ms`, `~0.53 ms`, `~14 s`."""
    if ms is None:
        return "-"
    if ms >= 10_000:
        return f"~{ms / 1000:,.0f} s"
    if ms >= 1000:
        return f"~{ms / 1000:.1f} s"
    return f"~{ms:.2g} ms" if ms < 10 else f"~{ms:,.0f} ms"


def _used(used: int, budget: int) -> str:
    return f"{used / KIB:,.1f} / {budget / KIB:,.0f}"


def summary_table(report: Report) -> Table:
    m = report.model
    table = Table(title=f"{m.name}  ({m.source}, {m.dtype})", title_justify="left",
                  show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column(style="dim")
    table.add_row("params", _num(m.params),
                  f"{_num(m.trainable_params)} trainable")
    table.add_row("MACs", _num(m.macs), f"{_num(2 * m.macs)} FLOPs")
    by_dtype = "  ".join(f"{k} {kib(v)}" for k, v in m.weights_bytes_by_dtype.items())
    table.add_row("weights", kib(m.weights_bytes),
                  f"as stored; layer weights at {by_dtype}" if len(m.weights_bytes_by_dtype) > 1
                  else "as stored in the file")
    parts = "  ".join(f"{k} {kib(v)}" for k, v in m.flash_breakdown.items())
    table.add_row("flash (model)", kib(m.flash_bytes),
                  ("file size: " if m.flash_exact else ".tflite estimate: ") + parts)
    table.add_row("arena (RAM)", kib(m.arena_bytes),
                  f"activations {kib(m.activations_bytes)} + persistent "
                  f"{kib(m.persistent_bytes)}; peak at {m.peak_layer}")
    shapes = ", ".join(_shape(s) for s in m.input_shapes)
    outs = ", ".join(_shape(s) for s in m.output_shapes)
    table.add_row("input -> output", f"{shapes} -> {outs}", "")
    return table


def boards_verdict_table(report: Report) -> Table:
    table = Table(title="Boards", title_justify="left")
    table.add_column("board", no_wrap=True)
    table.add_column("RAM KiB\nused / budget", justify="right", no_wrap=True)
    table.add_column("flash KiB\nused / budget", justify="right", no_wrap=True)
    table.add_column("head-\nroom", justify="right", no_wrap=True)
    table.add_column("latency\n(est.)", justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("reason", min_width=24)
    for result in report.boards:
        b = result.board
        table.add_row(
            b.id,
            _used(result.ram_bytes, b.ram_budget_bytes),
            _used(result.flash_bytes, b.flash_budget_bytes),
            f"{result.headroom_pct:.0f} %",
            approx_ms(result.latency_ms),
            Text(result.verdict.value, style=VERDICT_STYLE[result.verdict]),
            "; ".join(result.reasons),
        )
    return table


def render_check(report: Report, console: Console) -> None:
    parts: list[object] = [summary_table(report), ""]
    if report.boards:
        parts += [boards_verdict_table(report)]
    for finding in report.findings:
        style = "bold red" if finding.severity == "error" else "yellow"
        parts.append(Text(f"{finding.severity}: {finding}", style=style))
    for warning in report.warnings:
        parts.append(Text(f"warning: {warning}", style="yellow"))
    parts.append(Text(MAC_NOTE + " RAM = arena + the board's reserved RAM; flash = model + "
                      "the board's reserved flash (runtime). " + LATENCY_NOTE, style="dim"))
    console.print(Group(*parts))  # type: ignore[arg-type]


def render_layers(report: Report, console: Console, top: int = 3,
                  board: BoardResult | None = None) -> None:
    """Per-layer table; the `top` largest by params, MACs and activation (and latency on
    `board`) are highlighted."""
    layers = report.layers
    latency = dict(board.latency_by_layer) if board is not None else {}

    def leaders(key: str) -> set[str]:
        ranked = sorted(layers, key=lambda layer: getattr(layer, key), reverse=True)
        return {layer.name for layer in ranked[:top] if getattr(layer, key) > 0}

    big = {k: leaders(k) for k in ("params", "macs", "activation_bytes")}
    ranked = sorted(latency, key=lambda name: latency[name], reverse=True)
    big["latency"] = set(ranked[:top])
    total_ms = sum(latency.values()) or 1.0
    total_params = sum(layer.params for layer in layers) or 1
    total_macs = sum(layer.macs for layer in layers) or 1
    table = Table(title=f"{report.model.name}: layers ({report.model.dtype})",
                  title_justify="left", show_footer=True)
    table.add_column("#", justify="right", footer="")
    table.add_column("layer", footer="total", no_wrap=True)
    table.add_column("type", no_wrap=True)
    table.add_column("output shape", no_wrap=True)
    table.add_column("params", justify="right", footer=_num(report.model.params))
    table.add_column("MACs", justify="right", footer=_num(report.model.macs))
    table.add_column("activation", justify="right",
                     footer=f"peak {kib(report.model.activations_bytes)}")
    table.add_column("weights", justify="right", footer=kib(report.model.weights_bytes))
    if board is not None:
        table.add_column(f"latency\n{board.board.id}", justify="right",
                         footer=approx_ms(board.latency_ms))
    show_info = any(layer.info for layer in layers)
    if show_info:
        table.add_column("notes")

    def cell(value: str, name: str, key: str, share: float | None = None) -> Text:
        text = value + (f" ({share:.0%})" if share is not None and name in big[key] else "")
        return Text(text, style="bold magenta" if name in big[key] else "")

    for i, layer in enumerate(layers):
        table.add_row(
            str(i), layer.name, layer.type, _shape(layer.output_shape),
            cell(_num(layer.params), layer.name, "params", layer.params / total_params),
            cell(_num(layer.macs), layer.name, "macs", layer.macs / total_macs),
            cell(kib(layer.activation_bytes), layer.name, "activation_bytes"),
            kib(layer.weights_bytes),
            *([cell(approx_ms(latency.get(layer.name)), layer.name, "latency",
                    latency.get(layer.name, 0.0) / total_ms)] if board is not None else []),
            *([layer.info] if show_info else []),
        )
    console.print(table)
    slow = " and latency" if board is not None else ""
    console.print(Text(f"Highlighted: the {top} largest layers by params, MACs, activation "
                       f"size{slow}. {MAC_NOTE}" + (f" {LATENCY_NOTE}" if board else ""),
                       style="dim"))


def render_boards(boards: list[Board], console: Console) -> None:
    table = Table(title="Board profiles", title_justify="left")
    for col, justify in (("id", "left"), ("name", "left"), ("core", "left"),
                         ("clock", "right"), ("SRAM", "right"), ("flash", "right"),
                         ("reserved RAM / flash", "right"), ("kernels int8 / float32", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for b in boards:
        table.add_row(b.id, b.name, b.core, f"{b.clock_mhz:g} MHz", f"{b.sram_kib:g} KiB",
                      f"{b.flash_kib:g} KiB",
                      f"{b.ram_reserved_kib:g} / {b.flash_reserved_kib:g} KiB",
                      f"{b.kernels('int8') or '-'} / {b.kernels('float32') or '-'}")
    console.print(table)


def render_memory(report: Report, console: Console, width: int = 40) -> None:
    """The arena over time: live activation bytes per layer as a bar, the peak marked, and
    the tensors live at the peak, so the layer to shrink stands out."""
    m = report.model
    peak = max((s.live_bytes for s in report.timeline), default=0) or 1
    table = Table(title=f"{m.name}: activation memory per operator ({m.dtype})",
                  title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("operator", no_wrap=True)
    table.add_column("type", no_wrap=True)
    table.add_column("live", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    for i, step in enumerate(report.timeline):
        live = step.live_bytes
        is_peak = live == peak
        bar = "█" * max(1 if live else 0, round(width * live / peak))
        table.add_row(str(i), step.name, step.type, kib(live),
                      Text(bar + (" ◀ peak" if is_peak else ""),
                           style="bold red" if is_peak else "cyan"))
    console.print(table)
    by_name = {b.tensor: b for b in report.buffers}
    live = sorted((by_name[t] for t in m.peak_live_tensors if t in by_name),
                  key=lambda b: -b.size)
    console.print(Text(f"Peak {kib(peak)} at {m.peak_layer}; live there: " + ", ".join(
        f"{b.tensor} {kib(b.size)}" for b in live), style="bold"))
    console.print(Text(
        f"Arena {kib(m.arena_bytes)} = planned activations {kib(m.activations_bytes)} "
        f"(greedy plan, 16-byte aligned; the live peak {kib(peak)} is its lower bound) + "
        f"persistent {kib(m.persistent_bytes)}.", style="dim"))


def render_verification(model: str, result: Verification, console: Console) -> None:
    """Estimate and measurement side by side, each judged row marked."""
    table = Table(title=f"{model}: estimate vs TFLite converter + TFLite Micro interpreter",
                  title_justify="left")
    for col, justify in (("", "left"), ("estimate", "right"), ("measured", "right"),
                         ("difference", "left"), ("", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for row in result.rows:
        mark = {True: Text("ok", style="green"), False: Text("DIFFERS", style="bold red"),
                None: Text("")}[row.ok]
        table.add_row(row.what, row.estimate, row.measured, row.error, mark)
    console.print(table)
    for note in result.notes:
        console.print(Text(note, style="dim"))


def render_batch(batch: Batch, console: Console) -> None:
    """Several models: one row per model, one verdict column per board, then what fails or
    warns and why. Errors are listed here and also go to stderr, one line each."""
    board_ids = list(dict.fromkeys(b.board.id for r in batch.reports for b in r.boards))
    table = Table(title="Models", title_justify="left")
    table.add_column("model", no_wrap=True)
    table.add_column("params", justify="right", no_wrap=True)
    table.add_column("flash", justify="right", no_wrap=True)
    table.add_column("arena", justify="right", no_wrap=True)
    for board_id in board_ids:
        table.add_column(board_id, no_wrap=True)
    for o in batch.outcomes:
        if o.report is None:
            table.add_row(o.model, Text("error", style="bold red"), "", "",
                          *("" for _ in board_ids))
            continue
        m = o.report.model
        by_id = {b.board.id: b for b in o.report.boards}
        table.add_row(o.model, _num(m.params), kib(m.flash_bytes), kib(m.arena_bytes), *(
            Text(by_id[i].verdict.value, style=VERDICT_STYLE[by_id[i].verdict])
            if i in by_id else Text("–", style="dim") for i in board_ids))
    parts: list[object] = [table]
    for r in batch.reports:
        for b in r.boards:
            if b.verdict is not Verdict.PASS:
                parts.append(Text(f"{r.model.source} on {b.board.id}: {b.verdict.value}: "
                                  + "; ".join(b.reasons), style=VERDICT_STYLE[b.verdict]))
    for o in batch.errors:
        parts.append(Text(f"{o.model}: error: {o.error}", style="bold red"))
    console.print(Group(*parts))  # type: ignore[arg-type]


def render_verdict_line(batch: Batch, console: Console) -> None:
    style = "bold red" if batch.errors else VERDICT_STYLE[batch.verdict]
    console.print(Text(verdict_line(batch), style=style))


def render_diff(diff: ReportDiff, console: Console) -> None:
    """Metrics before / after / change (over-limit growth in red), then each board's verdict
    change (worse in red, better in green), then the headline."""
    from .diffs import change, value, verdicts

    metrics = Table(title="Metrics", title_justify="left")
    for col, justify in (("metric", "left"), ("before", "right"), ("after", "right"),
                         ("change", "right")):
        metrics.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for m in diff.metrics:
        style = "bold red" if diff.too_much_growth(m) else ""
        metrics.add_row(m.label, value(m, m.before), value(m, m.after),
                        Text(change(m), style=style))
    boards = Table(title="Boards", title_justify="left")
    for col in ("board", "verdict", "headroom", "reason (after)"):
        boards.add_column(col, no_wrap=col != "reason (after)")
    for b in diff.boards:
        style = "bold red" if b.worse else "bold green" if b.better else ""
        room = " -> ".join(f"{r.headroom_pct:.0f} %" for r in (b.before, b.after) if r)
        boards.add_row(b.board, Text(verdicts(b), style=style), room,
                       "; ".join(b.after.reasons) if b.after else "")
    console.print(Group(metrics, "", boards))
