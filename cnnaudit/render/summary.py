"""The one-line verdict every `check` ends with (and all that `--quiet` prints)."""

from __future__ import annotations

from collections import Counter

from ..batch import Batch
from ..verdict import Verdict

MAX_NAMED = 8  # failing (model, board) pairs named in the line before "and N more"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def model_label(batch: Batch, source: str, name: str) -> str:
    """A batch names models by path (names may repeat across files); one model by name."""
    return source if batch.is_batch else name


def verdict_line(batch: Batch) -> str:
    """e.g. `FAIL: 2 models, 6 board checks: 4 PASS, 1 WARN, 1 FAIL; failing: kws on nano33`.
    The word is ERROR when a model could not be audited, whatever the others did."""
    counts: Counter[Verdict] = Counter(b.verdict for r in batch.reports for b in r.boards)
    word = "ERROR" if batch.errors else batch.verdict.value
    text = (f"{word}: {_plural(len(batch.outcomes), 'model')}, "
            f"{_plural(sum(counts.values()), 'board check')}: "
            + ", ".join(f"{counts[v]} {v.value}" for v in Verdict))
    if batch.errors:
        text += f", {_plural(len(batch.errors), 'error')}"
    failing = [f"{model_label(batch, r.model.source, r.model.name)} on {b.board.id}"
               for r in batch.reports for b in r.boards if b.verdict is Verdict.FAIL]
    if failing:
        more = len(failing) - MAX_NAMED
        text += "; failing: " + ", ".join(failing[:MAX_NAMED]) + (
            f" and {more} more" if more > 0 else "")
    return text
