"""Calibrate and check cnnaudit's latency model against published measurements.

    python scripts/latency.py            # rewrite docs/latency.md from configs/latency.yaml
    python scripts/latency.py --fit      # print the coefficients fitted on the `fit` rows
    python scripts/latency.py --check    # only print the table (CI: tests/test_latency.py)

Every estimate goes through the same code as `cnnaudit check`: the spec in
examples/mlperf/ is lowered to TFLite operators, their work counted, and the kernel
family's cycles applied at the measured board's clock.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from cnnaudit import frontends  # noqa: E402
from cnnaudit.dtypes import get_dtype  # noqa: E402
from cnnaudit.passes.cost import layer_costs  # noqa: E402
from cnnaudit.passes.latency import (  # noqa: E402
    FIELDS,
    KernelFamily,
    OpWork,
    latency_ms,
    load_families,
)
from cnnaudit.passes.lowering import lower  # noqa: E402
from cnnaudit.passes.shapes import infer_shapes  # noqa: E402

MEASUREMENTS = ROOT / "scripts" / "latency_measurements.yaml"
DOC = ROOT / "docs" / "latency.md"
MODELS = ROOT / "examples" / "mlperf"
TEMPLATE = "cmsis-nn-m0"  # the one family fitted per operator: its shape is borrowed


@dataclass(frozen=True)
class Row:
    id: str
    model: str
    core: str
    mhz: float
    family: str
    ms: float
    source: str
    fit: bool


def rows() -> list[Row]:
    data = yaml.safe_load(MEASUREMENTS.read_text())
    return [Row(r["id"], r["model"], r["core"], float(r["mhz"]), r["family"], float(r["ms"]),
                r["source"], bool(r.get("fit", False))) for r in data["rows"]]


def work(model: str) -> tuple[OpWork, ...]:
    """The TFLite operators of an example spec at int8, with their counts of work."""
    from cnnaudit.passes.latency import op_work

    graph = frontends.load(str(MODELS / f"{model}.yaml"))
    device = lower(graph, infer_shapes(graph), get_dtype("int8"))
    shapes = infer_shapes(device)
    return op_work(device, shapes, layer_costs(device, shapes))


def totals(ops: tuple[OpWork, ...]) -> dict[str, float]:
    """The model's work per coefficient: the estimate is their dot product with cycles."""
    t = dict.fromkeys(FIELDS, 0.0)
    for w in ops:
        t["op"] += 1
        for unit, n in w.counts().items():
            t[unit] += n
    return t


def estimate(row: Row, families: dict[str, KernelFamily]) -> float:
    return latency_ms(work(row.model), families[row.family], row.mhz)


def table(families: dict[str, KernelFamily]) -> tuple[str, list[float], list[float]]:
    lines = ["| row | model | core @ MHz | kernels | published ms | estimate ms | error | "
             "used to fit | source |", "|---|---|---|---|---:|---:|---:|---|---|"]
    fitted, held_out = [], []
    for r in rows():
        est = estimate(r, families)
        err = est / r.ms - 1
        (fitted if r.fit else held_out).append(abs(err))
        lines.append(f"| {r.id} | {r.model} | {r.core} @ {r.mhz:g} | {r.family} | {r.ms:,.3f} | "
                     f"{est:,.3f} | {err:+.1%} | {'yes' if r.fit else 'no'} | {r.source} |")
    return "\n".join(lines), fitted, held_out


# -- fitting -------------------------------------------------------------------------------

def fit(families: dict[str, KernelFamily]) -> dict[str, dict[str, float]]:
    """Least squares on relative error for the families with `fit` rows. A family whose rows
    exercise convolution, depthwise and fully connected layers gets those three cycles per
    MAC fitted and its other cycles scaled with its convolution cost from the shape of its
    template (`cmsis-nn-m0`, fitted per operator); a family with one row gets one scale."""
    import numpy as np

    by_family: dict[str, list[Row]] = {}
    for r in rows():
        if r.fit:
            by_family.setdefault(r.family, []).append(r)
    out: dict[str, dict[str, float]] = {}
    for fid, frows in by_family.items():
        feats = [totals(work(r.model)) for r in frows]
        target = np.array([r.ms * r.mhz * 1e3 for r in frows])
        if len(frows) >= 3:
            template = dict(families[TEMPLATE].cycles)
            scaled = [k for k in FIELDS if k not in ("conv", "depthwise", "fully_connected")]
            a = np.array([[f["conv"] + sum(template[k] * f[k] for k in scaled) /
                           template["conv"], f["depthwise"], f["fully_connected"]]
                          for f in feats])
            w = 1 / target
            (conv, dw, fc), *_ = np.linalg.lstsq(a * w[:, None], target * w, rcond=None)
            cycles = {k: template[k] * conv / template["conv"] for k in scaled}
            cycles.update(conv=conv, depthwise=dw, fully_connected=fc)
        else:
            template = dict(families[fid].cycles)
            pred = np.array([sum(template[k] * f[k] for k in FIELDS) for f in feats])
            scale = math.exp(float(np.mean(np.log(target / pred))))
            cycles = {k: v * scale for k, v in template.items()}
        out[fid] = {k: float(f"{v:.4g}") for k, v in cycles.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    families = load_families()
    if args.fit:
        print(yaml.safe_dump(fit(families), sort_keys=False))
        return
    text, fitted, held_out = table(families)
    summary = summarise(fitted, held_out)
    if args.check:
        print(text + "\n\n" + summary)
        return
    body = DOC.read_text() if DOC.exists() else ""
    start, end = "<!-- table: scripts/latency.py -->", "<!-- end table -->"
    if start not in body:
        raise SystemExit(f"{DOC} has no {start} marker")
    head, _, rest = body.partition(start)
    _, _, tail = rest.partition(end)
    DOC.write_text(f"{head}{start}\n{text}\n\n{summary}\n{end}{tail}")
    print(summary)


def summarise(fitted: list[float], held_out: list[float]) -> str:
    every = fitted + held_out

    def stats(errs: list[float]) -> str:
        return (f"median {statistics.median(errs):.1%}, worst {max(errs):.1%} "
                f"({len(errs)} rows)")

    return (f"- All rows: {stats(every)}\n- Rows used to fit: {stats(fitted)}\n"
            f"- Rows not used to fit: {stats(held_out)}")


def summary_numbers() -> dict[str, Any]:
    """For the tests: the absolute errors of every row, by whether it was fitted."""
    _, fitted, held_out = table(load_families())
    return {"fitted": fitted, "held_out": held_out}


if __name__ == "__main__":
    main()
