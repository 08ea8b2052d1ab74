#!/usr/bin/env python
"""Cold `cnnaudit check` of two source trees, interleaved, against the usual way.

    python benchmarks/ab.py BEFORE_TREE AFTER_TREE [MODEL ...] [--runs N] [--usual-runs N]

Each tree is a checkout of cnnaudit (e.g. `git archive main | tar -x -C /tmp/before`); it is
put first on PYTHONPATH, so the same interpreter and packages run both. The runs alternate
(before, after, before, ...) so that both trees see the same machine load, which on a shared
machine moves the medians more than most changes do. The usual way (Keras load_model +
summary, `workers.py keras-summary`) runs on the first model in the same session, so the
ratios are taken within one run. Models default to the cached MobileNetV2 .h5 and .keras.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
CACHE = BENCH / ".cache"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}


def once(cmd: list[str], env: dict[str, str], cwd: Path = BENCH
         ) -> tuple[float, subprocess.CompletedProcess[str]]:
    """One fresh process, timed. It runs in the tree it measures: `python -m` puts the
    working folder first on sys.path, before PYTHONPATH."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return elapsed, proc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("models", nargs="*", type=Path,
                    default=[CACHE / "mnv2_035_96.h5", CACHE / "mnv2_035_96.keras"])
    ap.add_argument("--runs", type=int, default=20, help="cold checks per tree and model")
    ap.add_argument("--usual-runs", type=int, default=10, help="Keras load_model + summary")
    args = ap.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    cases = [(label, tree, model) for model in args.models for label, tree in trees.items()]
    times: dict[tuple[str, Path], list[float]] = {}
    answers: dict[tuple[str, Path], int] = {}
    for rnd in range(args.runs + 1):  # round 0 warms the page cache, untimed
        for label, tree, model in cases:
            cmd = [sys.executable, "-m", "cnnaudit", "check", str(model), "--board", "nano33",
                   "-f", "json"]
            elapsed, proc = once(cmd, {**ENV, "PYTHONPATH": str(tree)}, cwd=tree)
            answers[label, model] = json.loads(proc.stdout)["model"]["params"]
            if rnd:
                times.setdefault((label, model), []).append(elapsed)
    usual = [once([sys.executable, str(BENCH / "workers.py"), "keras-summary",
                   str(args.models[0])], ENV)[0] for _ in range(args.usual_runs + 1)][1:]
    u = statistics.median(usual)
    print(f"usual way (Keras load_model + summary) on {args.models[0].name}: median "
          f"{u * 1e3:,.0f} ms, min {min(usual) * 1e3:,.0f}, max {max(usual) * 1e3:,.0f} "
          f"({len(usual)} runs)")
    print(f"{'tree':7s} {'model':22s} {'median':>8s} {'min':>8s} {'max':>8s} "
          f"{'usual / median':>15s} {'params':>11s}")
    for label, _tree, model in cases:
        xs = times[label, model]
        m = statistics.median(xs)
        print(f"{label:7s} {model.name:22s} {m * 1e3:6,.0f} ms {min(xs) * 1e3:5,.0f} ms "
              f"{max(xs) * 1e3:5,.0f} ms {u / m:14.1f}x {answers[label, model]:11,}")
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')}")


if __name__ == "__main__":
    main()
