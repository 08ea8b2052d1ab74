"""Markdown for a pull-request comment or $GITHUB_STEP_SUMMARY: the verdict first, then the
board table, then the layers that cost the most, collapsed so the comment stays short.

Everything taken from a model file is escaped: a pull request may come from anyone, and a
model name must not become a link, a mention or HTML in the comment.
"""

from __future__ import annotations

from ..batch import Batch
from ..boards import KIB
from ..diff import ReportDiff
from ..report import Report
from ..verdict import BoardResult, Verdict, kib
from .summary import model_label, verdict_line

ICON = {Verdict.PASS: "✅", Verdict.WARN: "⚠️", Verdict.FAIL: "❌"}
TOP = 3  # layers shown per metric


def md(text: object) -> str:
    """Text safe inside a table cell: no HTML, links, mentions, pipes or line breaks."""
    clean = "".join(ch if ch.isprintable() else " " for ch in str(text))
    for raw, safe in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"),
                      ("[", "\\["), ("]", "\\]"), ("@", "&#64;"), ("`", "'")):
        clean = clean.replace(raw, safe)
    return clean


def _verdict(v: Verdict) -> str:
    return f"{ICON[v]} {v.value}"


def _used(used: int, budget: int) -> str:
    return f"{used / KIB:,.1f} / {budget / KIB:,.0f}"


def _board_rows(results: tuple[BoardResult, ...]) -> list[str]:
    latency = any(r.latency_ms is not None for r in results)
    head = ["board", "RAM KiB used / budget", "flash KiB used / budget", "headroom",
            *(["latency"] if latency else []), "verdict", "reason"]
    rows = ["| " + " | ".join(head) + " |",
            "|---|" + "---:|" * (3 + latency) + "---|---|"]
    for r in results:
        cells = [md(r.board.id), _used(r.ram_bytes, r.board.ram_budget_bytes),
                 _used(r.flash_bytes, r.board.flash_budget_bytes), f"{r.headroom_pct:.0f} %",
                 *([f"{r.latency_ms:,.1f} ms" if r.latency_ms is not None else "–"]
                   if latency else []),
                 _verdict(r.verdict), md("; ".join(r.reasons))]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def top_layers(report: Report, top: int = TOP) -> list[str]:
    """The layers among the `top` largest by params, MACs or activation, in model order,
    each with its share of the total."""
    layers = report.layers
    keys = ("params", "macs", "activation_bytes")
    leaders: set[str] = set()
    for key in keys:
        ranked = sorted(layers, key=lambda layer, k=key: getattr(layer, k), reverse=True)
        leaders |= {layer.name for layer in ranked[:top] if getattr(layer, key) > 0}
    totals = {k: sum(getattr(layer, k) for layer in layers) or 1 for k in keys}
    rows = ["| layer | type | output shape | params | MACs | activation |",
            "|---|---|---|---:|---:|---:|"]
    for layer in layers:
        if layer.name not in leaders:
            continue
        rows.append("| " + " | ".join([
            md(layer.name), md(layer.type), "x".join(map(str, layer.output_shape)),
            f"{layer.params:,} ({layer.params / totals['params']:.0%})",
            f"{layer.macs:,} ({layer.macs / totals['macs']:.0%})",
            f"{kib(layer.activation_bytes)}"]) + " |")
    return rows


def _model_line(report: Report) -> str:
    m = report.model
    return (f"**{md(m.name)}** (`{md(m.source)}`, {m.dtype}): {m.params:,} params · "
            f"{m.macs:,} MACs · flash {kib(m.flash_bytes)} · arena {kib(m.arena_bytes)}")


def _details(report: Report, title: str) -> list[str]:
    return ["", f"<details><summary>{title}</summary>", "", *top_layers(report), "",
            "</details>"]


def render_markdown(batch: Batch) -> str:
    """One model: summary line, model line, board table, top layers (collapsed). Several:
    summary line, a model x board table, failing reasons, then each model collapsed."""
    icon = "❌" if batch.errors else ICON[batch.verdict]
    out = [f"### {icon} cnnaudit: {md(verdict_line(batch))}", ""]
    if not batch.is_batch and batch.reports:
        report = batch.reports[0]
        out += [_model_line(report), "", *_board_rows(report.boards),
                *_details(report, "Top layers by params, MACs and activation")]
        return "\n".join(out) + "\n"
    board_ids = list(dict.fromkeys(b.board.id for r in batch.reports for b in r.boards))
    out += ["| model | params | flash | arena | " + " | ".join(map(md, board_ids)) + " |",
            "|---|---:|---:|---:|" + "---|" * len(board_ids)]
    for o in batch.outcomes:
        label = md(o.model)
        if o.report is None:
            out.append(f"| {label} | error | | | " + " | ".join("–" for _ in board_ids) + " |")
            continue
        m = o.report.model
        by_id = {b.board.id: b for b in o.report.boards}
        cells = [_verdict(by_id[i].verdict) if i in by_id else "–" for i in board_ids]
        out.append(f"| {label} | {m.params:,} | {kib(m.flash_bytes)} | {kib(m.arena_bytes)} | "
                   + " | ".join(cells) + " |")
    problems = [f"- `{md(model_label(batch, r.model.source, r.model.name))}` on "
                f"{md(b.board.id)}: {_verdict(b.verdict)} {md('; '.join(b.reasons))}"
                for r in batch.reports for b in r.boards if b.verdict is not Verdict.PASS]
    problems += [f"- `{md(o.model)}`: error: {md(o.error)}" for o in batch.errors]
    if problems:
        out += ["", *problems]
    for report in batch.reports:
        out += ["", f"<details><summary>{md(report.model.source)}: "
                f"{_verdict(report.verdict)}</summary>", "", _model_line(report), "",
                *_board_rows(report.boards), "", *top_layers(report), "", "</details>"]
    return "\n".join(out) + "\n"


def render_diff_markdown(diff: ReportDiff) -> str:
    """Headline, metric table (over-limit growth in bold), board verdict changes (worse
    marked ❌, better ✅)."""
    from .diffs import change, headline, value, verdicts

    icon = "❌" if diff.regressions else "✅"
    out = [f"### {icon} cnnaudit diff: {md(headline(diff))}", "",
           "| metric | before | after | change |", "|---|---:|---:|---:|"]
    for m in diff.metrics:
        delta = change(m)
        out.append(f"| {md(m.label)} | {value(m, m.before)} | {value(m, m.after)} | "
                   + (f"**{delta}**" if diff.too_much_growth(m) else delta) + " |")
    out += ["", "| board | verdict | headroom | reason (after) |", "|---|---|---:|---|"]
    for b in diff.boards:
        mark = "❌ " if b.worse else "✅ " if b.better else ""
        room = " → ".join(f"{r.headroom_pct:.0f} %" for r in (b.before, b.after) if r)
        out.append(f"| {md(b.board)} | {mark}{md(verdicts(b))} | {room} | "
                   f"{md('; '.join(b.after.reasons) if b.after else '')} |")
    return "\n".join(out) + "\n"
