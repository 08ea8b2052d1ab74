"""Rerun the accuracy corpus and write docs/accuracy.md.

    python scripts/accuracy.py            (needs: pip install -e '.[test]')

Every model of tests/accuracy_corpus.py is estimated by cnnaudit, rebuilt in Keras,
converted by the TFLite converter (int8 and float32) and run in the TFLite Micro
interpreter; the table lists estimate, measurement and error for arena and flash.
"""

from __future__ import annotations

import platform
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from accuracy_corpus import APPLICATIONS, SPECS  # noqa: E402

from cnnaudit import frontends  # noqa: E402
from cnnaudit.verify import CaseResult, measure_case  # noqa: E402


def corpus_graphs(tmp: Path) -> list[tuple[str, object]]:
    graphs = [(name, frontends.load(spec, name=name)) for name, spec in SPECS.items()]
    for name, make in APPLICATIONS.items():
        path = tmp / f"{name}.keras"
        make().save(path)
        graphs.append((name, frontends.load(path)))
    return graphs


def run() -> list[CaseResult]:
    with tempfile.TemporaryDirectory() as tmp:
        return [measure_case(name, graph, dtype)
                for name, graph in corpus_graphs(Path(tmp))
                for dtype in ("int8", "float32")]


def fmt(value: float | None, pct: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.2f} %" if pct else f"{value:,}"


def markdown(results: list[CaseResult]) -> str:
    lines = [
        "# Accuracy: cnnaudit against the TFLite converter and the TFLite Micro interpreter",
        "",
        "Produced by `python scripts/accuracy.py` (the same corpus `tests/test_accuracy.py` "
        "checks in CI).",
        f"Machine: {platform.machine()}, Python {platform.python_version()}; the interpreter "
        "is the `tflite-micro` wheel (64-bit host, so arenas here use 8-byte pointers; the "
        "estimates in this table are computed for that host).",
        "",
        "- *arena (spec)*: cnnaudit's estimate from the spec/Keras graph; *arena (tflite)*: from "
        "the converted file; *measured*: the TFLite Micro allocator's total after "
        "AllocateTensors, which is the smallest arena that works (to 8 bytes).",
        "- *flash*: estimate from the spec/Keras graph vs the converter's file size.",
        "",
        "| model | dtype | arena (spec) | arena (tflite) | measured | err spec | err tflite "
        "| flash est. | flash | err flash | ops match | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.dtype} | {fmt(r.arena_estimate)} | {fmt(r.arena_from_file)} | "
            f"{fmt(r.arena_measured)} | "
            f"{fmt(CaseResult.error(r.arena_estimate, r.arena_measured), True)} | "
            f"{fmt(CaseResult.error(r.arena_from_file, r.arena_measured), True)} | "
            f"{fmt(r.flash_estimate)} | {fmt(r.flash_measured)} | "
            f"{fmt(CaseResult.error(r.flash_estimate, r.flash_measured), True)} | "
            f"{'yes' if r.operators_match else 'no' if r.operators_match is False else '-'} | "
            f"{r.problem} |")
    for label, pick in (("arena (spec)", lambda r: CaseResult.error(r.arena_estimate,
                                                                     r.arena_measured)),
                        ("arena (tflite)", lambda r: CaseResult.error(r.arena_from_file,
                                                                       r.arena_measured)),
                        ("flash", lambda r: CaseResult.error(r.flash_estimate,
                                                             r.flash_measured))):
        errors = [abs(e) for r in results if (e := pick(r)) is not None]
        if errors:
            lines.append(f"\n{label}: median |error| {statistics.median(errors):.2f} %, "
                         f"worst {max(errors):.2f} % over {len(errors)} measurements.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    text = markdown(run())
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs" / "accuracy.md").write_text(text)
    print(text)
