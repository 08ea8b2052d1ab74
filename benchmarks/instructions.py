"""Instructions per API audit of distinct candidates, counted by valgrind's callgrind.

Timings on a shared machine move by 2x between runs; instruction counts do not, so this is
the A/B measure for the API's fast paths (docs/performance.md). The measured loop runs
inside `functools.reduce`, and callgrind collects only there:

    python benchmarks/instructions.py [--tree DIR] [--warm 300] [--count 200]
    python benchmarks/instructions.py --cold [--tree DIR]

`--tree` audits with another checkout's cnnaudit (e.g. a `git worktree` of an older
commit). `--cold` counts instead the whole process of a cold `cnnaudit check MODEL
--board nano33 -f json` per format, start-up and imports included (the board copies of
cnnaudit/datafile.py warm; bytecode compiled first). Needs valgrind; takes one to two
minutes (the imports run under valgrind too).
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


COLD = ["spec_mnv1.yaml", "mnv2_035_96.keras", "mnv2_035_96.h5", "mnv1_025_96_int8.tflite",
        "28x28x1 conv64k3:relu maxpool2 conv64k3:relu maxpool2 flatten dense128:relu "
        "dropout0.5 dense10:softmax"]
ENTRY = ("import sys; sys.argv = ['cnnaudit', 'check', sys.argv[1], '--board', 'nano33', "
         "'-f', 'json']; from cnnaudit.cli import main; main()")


def callgrind(args: list[str], tree: Path, env: dict[str, str]) -> int:
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                           *args], cwd=tree, env=env, capture_output=True, text=True,
                          check=False)
    found = re.search(r"Collected\s*:\s*(\d+)", done.stderr)
    if not found:
        sys.exit(f"callgrind failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def cold(tree: Path) -> None:
    import compileall

    compileall.compile_dir(str(tree / "cnnaudit"), quiet=1)
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(tree)}
    base = callgrind([sys.executable, "-c", "pass"], tree, env)
    print(f"python -c pass: {base / 1e6:.0f} M instructions")
    for name in COLD:
        model = name if " " in name else str(BENCH / ".cache" / name)
        callgrind([sys.executable, "-c", ENTRY, model], tree, env)  # writes the board copies
        n = callgrind([sys.executable, "-c", ENTRY, model], tree, env)
        label = "<one-liner>" if " " in name else name
        print(f"cold check {label}: {n / 1e6:.0f} M instructions ({tree})")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tree", type=Path, default=BENCH.parent,
                    help="the checkout whose cnnaudit is audited")
    ap.add_argument("--warm", type=int, default=300, help="candidates before counting")
    ap.add_argument("--count", type=int, default=200, help="candidates counted")
    ap.add_argument("--cold", action="store_true",
                    help="count cold `cnnaudit check` processes instead")
    args = ap.parse_args(argv)
    if args.cold:
        cold(args.tree.resolve())
        return
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
