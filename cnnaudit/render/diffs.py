"""Text pieces shared by the diff renderers (table and markdown): how a change is written."""

from __future__ import annotations

from ..diff import BoardChange, MetricChange, ReportDiff
from ..verdict import kib


def value(m: MetricChange, v: float | None) -> str:
    if v is None:
        return "–"
    if m.unit == "bytes":
        return kib(v)
    if m.unit == "ms":
        return f"{v:,.1f} ms"
    return f"{v:,.0f}"


def change(m: MetricChange) -> str:
    """e.g. `+12,345 (+5.1 %)`, `+1.5 KiB (+2.0 %)`, `0`."""
    delta, pct = m.change, m.change_pct
    if delta is None:
        return "–"
    if delta == 0:
        return "0"
    size = value(m, abs(delta))
    text = f"{'+' if delta > 0 else '-'}{size}"
    if pct == float("inf"):
        return text + " (new)"
    return text + (f" ({pct:+.1f} %)" if pct is not None else "")


def verdicts(b: BoardChange) -> str:
    before = b.before.verdict.value if b.before else "–"
    after = b.after.verdict.value if b.after else "–"
    return before if before == after else f"{before} -> {after}"


def headline(d: ReportDiff) -> str:
    """One line: REGRESSION (and why) or OK, and what was compared."""
    what = f"{d.base.model.source} -> {d.head.model.source}"
    if d.regressions:
        return f"REGRESSION: {'; '.join(d.regressions)} ({what})"
    return "OK: no verdict got worse" + (
        f", no metric grew more than {d.max_growth_pct:g} %" if d.max_growth_pct is not None
        else "") + f" ({what})"
