"""`cnnaudit suggest` for a terminal (Rich) and for scripts (JSON)."""

from __future__ import annotations

import json

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ..suggest import Advice, Metrics
from ..verdict import Verdict, kib
from .table import VERDICT_STYLE, boards_verdict_table


def _pct(before: float, after: float) -> str:
    if after == before:
        return "same"
    pct = 100 * (after - before) / before if before else float("inf")
    return f"{pct:+.1f} %" if abs(pct) < 1 else f"{pct:+.0f} %"


def _change(before: float, after: float, fmt: str) -> Text:
    """The new value and its change from `before` (the `now` row), green when it fell."""
    style = "green" if after < before else "red" if after > before else "dim"
    return Text(f"{fmt.format(after)}\n{_pct(before, after)}", style=style)


def _dominant_lines(advice: Advice) -> list[Text]:
    labels = {"params": "params", "macs": "MACs", "flash": "weights in flash"}
    lines = []
    for metric, label in labels.items():
        shares = [s for s in advice.dominant if s.metric == metric]
        if shares:
            lines.append(Text(f"  {label}: " + ", ".join(
                f"{s.layer} {s.share:.0%}" for s in shares)))
    m = advice.report.model
    live = ", ".join(f"{t} {kib(b)}" for t, b in advice.peak_tensors)
    lines.append(Text(f"  arena {kib(m.arena_bytes)}: peak at {m.peak_layer}"
                      + (f"; live there: {live}" if live else "")))
    return lines


def render_suggest(advice: Advice, console: Console) -> None:
    """What dominates, the verdicts now, then the ranked suggestions with their numbers."""
    m = advice.report.model
    parts: list[object] = [Text(f"{m.name}  ({m.source}, {advice.dtype})", style="bold"),
                           Text("What dominates:", style="bold"), *_dominant_lines(advice)]
    if advice.report.boards:
        parts += ["", boards_verdict_table(advice.report)]
    if advice.fits:
        ids = ", ".join(b.board.id for b in advice.report.boards)
        parts.append(Text(f"Already fits {ids} at {advice.dtype}: nothing needs to change."
                          + (" Optional gains that make nothing worse:" if advice.suggestions
                             else ""), style="bold green"))
    elif advice.binding:
        if all(b.verdict is not Verdict.FAIL for b in advice.report.boards):
            tight = ", ".join(b.board.id for b in advice.report.boards
                              if b.verdict is Verdict.WARN)
            parts.append(Text(f"Fits, but with little headroom on {tight}: the suggestions "
                              "add room.", style="bold yellow"))
        parts.append(Text(f"Binding resource: {advice.binding} on {advice.binding_board} "
                          "(furthest over budget, or least headroom).", style="bold"))
    if advice.suggestions:
        parts.append(_table(advice))
    elif not advice.fits:
        parts.append(Text("No transformation cnnaudit knows reduces this model's cost "
                          "without breaking it.", style="yellow"))
    for why in advice.dropped:
        parts.append(Text(f"not suggested: {why}", style="dim"))
    parts.append(Text(
        "Each suggestion is measured on its own against the model as given; apply one with "
        "--apply N -o FILE, then run suggest again on FILE to combine. Accuracy notes are "
        "qualitative: cnnaudit does not train.", style="dim"))
    console.print(Group(*parts))  # type: ignore[arg-type]


def _table(advice: Advice) -> Table:
    """One row per suggestion: its values after the change and the change from `now`."""
    latency = any(s.before.latency_ms is not None for s in advice.suggestions)
    title = "Optional gains" if advice.fits else "Suggestions, best first"
    table = Table(title=title, title_justify="left", show_lines=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("suggestion (accuracy: qualitative)", min_width=40, ratio=1)
    table.add_column("layers", max_width=18)
    for name in ("params", "MACs", "flash KiB", "arena KiB",
                 *(("latency ms",) if latency else ())):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("boards", no_wrap=True)
    now = advice.suggestions[0].before
    table.add_row("", Text("now (before -> after: each row below)", style="bold"), "",
                  f"{now.params:,}", f"{now.macs:,}", f"{now.flash / 1024:,.1f}",
                  f"{now.arena / 1024:,.1f}",
                  *((f"{now.latency_ms:,.1f}" if now.latency_ms is not None else "",)
                    if latency else ()), "")
    for s in advice.suggestions:
        b, a = s.before, s.after
        what = Text(s.title, style="bold")
        if s.note:
            what.append(f"\n{s.note}")
        what.append(f"\naccuracy: {s.accuracy}", style="dim")
        cells: list[Text | str] = [
            str(s.rank), what, ", ".join(s.layers),
            _change(b.params, a.params, "{:,.0f}"),
            _change(b.macs, a.macs, "{:,.0f}"),
            _change(b.flash / 1024, a.flash / 1024, "{:,.1f}"),
            _change(b.arena / 1024, a.arena / 1024, "{:,.1f}"),
        ]
        if latency:
            cells.append(_latency(b, a))
        cells.append(_flips(s.flips, s.worsens))
        table.add_row(*cells)
    return table


def _latency(before: Metrics, after: Metrics) -> Text:
    if before.latency_ms is None or after.latency_ms is None:
        return Text("")
    return _change(before.latency_ms, after.latency_ms, "{:,.1f}")


def _flips(flips: tuple[tuple[str, str, str], ...], worse: tuple[str, ...]) -> Text:
    """`nano33 FAIL->PASS` per board whose verdict improves; `esp32 worse` in red."""
    text = Text()
    for board, old, new in flips:
        text.append(("\n" if text.plain else "") + f"{board} {old}->")
        text.append(new, style=VERDICT_STYLE[Verdict(new)])
    for board in worse:
        text.append(("\n" if text.plain else "") + f"{board} worse", style="bold red")
    return text


def render_suggest_json(advice: Advice) -> str:
    return json.dumps(advice.to_dict(), indent=2) + "\n"
