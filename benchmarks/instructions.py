"""Instructions per API audit of distinct candidates, counted by valgrind's callgrind.

Timings on a shared machine move by 2x between runs; instruction counts do not, so this is
the A/B measure for the API's fast paths (docs/performance.md). The measured loop runs
inside `functools.reduce`, and callgrind collects only there:

    python benchmarks/instructions.py [--tree DIR] [--warm 300] [--count 200]

`--tree` audits with another checkout's cnnaudit (e.g. a `git worktree` of an older
commit). Needs valgrind; takes one to two minutes (the imports run under valgrind too).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent

CHILD = """
import functools, sys
sys.path.insert(0, {bench!r})
import run, cnnaudit
nano = [cnnaudit.load_boards()[run.BOARD]]
specs = run.candidates(run.spec_no_bn(), {warm} + {count})
for spec in specs[:{warm}]:
    cnnaudit.audit(spec, nano)
functools.reduce(lambda _, spec: cnnaudit.audit(spec, nano), specs[{warm}:], None)
"""


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tree", type=Path, default=BENCH.parent,
                    help="the checkout whose cnnaudit is audited")
    ap.add_argument("--warm", type=int, default=300, help="candidates before counting")
    ap.add_argument("--count", type=int, default=200, help="candidates counted")
    args = ap.parse_args(argv)
    code = CHILD.format(bench=str(BENCH), warm=args.warm, count=args.count)
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(args.tree.resolve())}
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--collect-atstart=no",
         "--toggle-collect=*functools_reduce*", "--callgrind-out-file=/dev/null",
         sys.executable, "-c", code],
        cwd=args.tree, env=env, capture_output=True, text=True, check=False)
    found = re.search(r"Collected\s*:\s*(\d+)", done.stderr)
    if done.returncode or not found:
        sys.exit(f"callgrind failed:\n{done.stderr[-2000:]}")
    print(f"{int(found.group(1)) / args.count / 1e6:.2f} M instructions per audit "
          f"({args.tree}, 30-layer candidates, {args.warm} before, {args.count} counted)")


if __name__ == "__main__":
    main()
