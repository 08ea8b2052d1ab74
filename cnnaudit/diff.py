"""What a change to a model does: every metric before and after, and each board's verdict.

A pull request fails (exit 1) when a board's verdict gets worse, or when a metric grows by
more than the allowed percentage. Both sides are judged with the same boards, dtype and
budgets, so only the model differs.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UsageError
from .report import SCHEMA_VERSION, Report
from .verdict import BoardResult, Verdict

ORDER = (Verdict.PASS, Verdict.WARN, Verdict.FAIL)


@dataclass(frozen=True)
class MetricChange:
    """One number before and after (None where a side has none, e.g. no latency model)."""

    key: str  # params, macs, flash_bytes, arena_bytes, latency_ms@<board>
    label: str
    unit: str  # "", "bytes" or "ms"
    before: float | None
    after: float | None

    @property
    def change(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def change_pct(self) -> float | None:
        """Growth in percent of the old value; None when there is nothing to compare, and
        infinite growth from zero."""
        if self.change is None or self.before is None:
            return None
        if self.before == 0:
            return 0.0 if self.change == 0 else float("inf") if self.change > 0 else None
        return 100.0 * self.change / self.before


@dataclass(frozen=True)
class BoardChange:
    board: str
    before: BoardResult | None
    after: BoardResult | None

    @property
    def worse(self) -> bool:
        """The verdict got worse (a board newly judged counts from PASS)."""
        if self.after is None:
            return False
        before = self.before.verdict if self.before else Verdict.PASS
        return ORDER.index(self.after.verdict) > ORDER.index(before)

    @property
    def better(self) -> bool:
        if self.before is None or self.after is None:
            return False
        return ORDER.index(self.after.verdict) < ORDER.index(self.before.verdict)


@dataclass(frozen=True)
class ReportDiff:
    base: Report
    head: Report
    metrics: tuple[MetricChange, ...]
    boards: tuple[BoardChange, ...]
    max_growth_pct: float | None = None

    def too_much_growth(self, metric: MetricChange) -> bool:
        pct = metric.change_pct
        return self.max_growth_pct is not None and pct is not None and pct > self.max_growth_pct

    @property
    def regressions(self) -> tuple[str, ...]:
        """Why the change is rejected: worse verdicts, then metrics over the growth limit."""
        out = [f"{b.board}: {b.before.verdict.value if b.before else 'new'} -> "
               f"{b.after.verdict.value if b.after else 'gone'}" for b in self.boards if b.worse]
        out += [f"{m.label} grew {m.change_pct:+.1f} % > {self.max_growth_pct:g} %"
                for m in self.metrics if self.too_much_growth(m)]
        return tuple(out)

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions else 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of a diff (`kind: diff` in the schema)."""

        def side(r: BoardResult | None) -> dict[str, Any] | None:
            if r is None:
                return None
            return {"verdict": r.verdict.value, "ram_bytes": r.ram_bytes,
                    "flash_bytes": r.flash_bytes, "headroom_pct": r.headroom_pct,
                    "latency_ms": r.latency_ms, "reasons": list(r.reasons)}

        def pct(m: MetricChange) -> float | None:
            value = m.change_pct
            return None if value is None or value == float("inf") else round(value, 2)

        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "diff",
            "base": {"name": self.base.model.name, "source": self.base.model.source,
                     "verdict": self.base.verdict.value},
            "head": {"name": self.head.model.name, "source": self.head.model.source,
                     "verdict": self.head.verdict.value},
            "max_growth_pct": self.max_growth_pct,
            "metrics": [{"key": m.key, "label": m.label, "unit": m.unit, "before": m.before,
                         "after": m.after, "change": m.change, "change_pct": pct(m),
                         "from_zero": m.change_pct == float("inf"),
                         "over_limit": self.too_much_growth(m)} for m in self.metrics],
            "boards": [{"id": b.board, "before": side(b.before), "after": side(b.after),
                        "change": "worse" if b.worse else "better" if b.better else "same"}
                       for b in self.boards],
            "regressions": list(self.regressions),
            "exit_code": self.exit_code,
        }


def diff_reports(base: Report, head: Report, max_growth_pct: float | None = None) -> ReportDiff:
    """Compare two audits of a model: model-wide metrics, then latency and verdict per board
    (boards in the head's order, then any only the base had)."""
    b, h = base.model, head.model
    metrics = [
        MetricChange("params", "params", "", b.params, h.params),
        MetricChange("macs", "MACs", "", b.macs, h.macs),
        MetricChange("flash_bytes", "flash (model)", "bytes", b.flash_bytes, h.flash_bytes),
        MetricChange("arena_bytes", "arena (RAM)", "bytes", b.arena_bytes, h.arena_bytes),
    ]
    before = {r.board.id: r for r in base.boards}
    after = {r.board.id: r for r in head.boards}
    ids = list(dict.fromkeys([*after, *before]))
    for board_id in ids:
        lb = before[board_id].latency_ms if board_id in before else None
        la = after[board_id].latency_ms if board_id in after else None
        if lb is not None or la is not None:
            metrics.append(MetricChange(f"latency_ms@{board_id}", f"latency on {board_id}",
                                        "ms", lb, la))
    boards = tuple(BoardChange(i, before.get(i), after.get(i)) for i in ids)
    return ReportDiff(base, head, tuple(metrics), boards, max_growth_pct)


@contextlib.contextmanager
def file_at_git_ref(path: str | Path, ref: str) -> Iterator[Path]:
    """`path` as it was at git `ref`, in a temporary folder under the same file name (so the
    model keeps its name and its frontend), removed afterwards. `git show` runs in the
    file's folder, so the path may be relative to it or to the current folder."""
    path = Path(path)
    if not ref or ref.startswith("-"):
        raise UsageError(f"bad git ref {ref!r}", hint="give a branch, tag or commit")
    folder = path.resolve().parent
    try:
        shown = subprocess.run(["git", "-C", str(folder), "show", f"{ref}:./{path.name}"],
                               capture_output=True, check=False, timeout=60)
    except FileNotFoundError:
        raise UsageError("git is not installed", hint="--git-base needs git") from None
    except subprocess.TimeoutExpired:
        raise UsageError(f"git show {ref}:{path} took more than 60 s") from None
    if shown.returncode != 0:
        message = shown.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(f"cannot read {path} at {ref}: "
                         f"{message[0] if message else 'git show failed'}",
                         hint="is the ref right, and did the file exist there?")
    with tempfile.TemporaryDirectory(prefix="cnnaudit-base-") as tmp:
        copy = Path(tmp) / path.name
        copy.write_bytes(shown.stdout)
        yield copy
