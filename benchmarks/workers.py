"""One measured step per process, called by run.py. Each prints `BENCH {json}` as its last
line (with the process's peak RSS), so run.py can time the whole process and read results.

  keras-summary MODEL     keras.saving.load_model + model.summary() (the usual Keras path)
  convert-spec OUT        build the spec's network in Keras, convert it to full int8 .tflite
  tflm-probe MODEL BYTES  does the TFLite Micro interpreter allocate MODEL in BYTES of arena?
  tflm-record MODEL       one interpreter with a large arena; RecordingMicroAllocator's total
  peakmem MODEL [--trace] peak memory of one cnnaudit.audit(MODEL) (RSS, or tracemalloc)
  coldsplit MODEL         a cold `cnnaudit check MODEL` split into its steps, timed
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import sys
from pathlib import Path
from typing import Any


def _maxrss_kib() -> int:
    """This process's peak RSS in KiB. VmHWM, not getrusage's ru_maxrss: Linux carries
    ru_maxrss over execve, so a child of a large parent would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _rss_anon_kib() -> int | None:
    """Anonymous (heap) resident memory now, KiB: excludes file pages mapped by mmap."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return None


def _done(**result: Any) -> None:
    sys.stdout.flush()
    print("BENCH " + json.dumps({"maxrss_kib": _maxrss_kib(), **result}), flush=True)


def keras_summary(path: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    model = keras.saving.load_model(path)
    model.summary()
    _done(params=int(model.count_params()))


def convert_spec(out: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import keras
    import tensorflow as tf
    from models import convert, keras_from_spec

    data = convert(tf, keras_from_spec(keras), int8=True)
    Path(out).write_bytes(data)
    _done(bytes=len(data))


def _interpreter(path: str, arena: int) -> Any:
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_file(path, arena_size=arena)


def tflm_probe(path: str, arena: int) -> None:
    try:
        _interpreter(path, arena)
    except RuntimeError:
        _done(ok=False)
        # A second interpreter after a failed allocation aborts in this runtime; and the
        # failed one's teardown is not needed: leave at once.
        os._exit(0)
    _done(ok=True)


def tflm_record(path: str) -> None:
    """print_allocations() writes from C++ (the `[RecordingMicroAllocator] Arena allocation
    total N bytes` line); run.py reads it from this process's output."""
    interp = _interpreter(path, max(10 * Path(path).stat().st_size, 4 << 20))
    sys.stdout.flush()
    interp.print_allocations()
    _done()


def peakmem(path: str, trace: bool) -> None:
    import cnnaudit

    boards = cnnaudit.load_boards()
    chosen = [boards["nano33"]]
    suffix = Path(path).suffix
    # Import the frontend (and its parser) first, so the audit's figure is the audit alone.
    # (HDF5 is read by cnnaudit's own reader, cnnaudit/frontends/hdf5.py: no h5py)
    if suffix in (".keras", ".h5"):
        import cnnaudit.frontends.keras_file
    elif suffix == ".tflite":
        import cnnaudit.frontends.tflite_file
    else:
        import cnnaudit.frontends.yaml_spec
        import cnnaudit.frontends.yaml_text
    before, anon_before = _maxrss_kib(), _rss_anon_kib()
    if trace:
        import tracemalloc

        tracemalloc.start()
    report = cnnaudit.audit(path, chosen)
    peak = None
    if trace:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    anon = _rss_anon_kib()
    _done(rss_before_audit_kib=before, tracemalloc_peak_bytes=peak, nodes=len(report.layers),
          params=report.model.params,
          anon_added_kib=None if anon is None or anon_before is None else anon - anon_before)


def coldsplit(path: str) -> None:
    """Where a cold `cnnaudit check PATH --board nano33 -f json` spends its time, step by
    step, in one fresh process (the same steps the CLI takes, timed one by one)."""
    import time

    steps: list[tuple[str, float]] = []
    t = time.perf_counter()

    def mark(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        steps.append((name, now - t))
        t = now

    import typer
    mark("import typer")
    with contextlib.suppress(ImportError):  # typer >= 0.29: pydantic, at argument parsing
        import typer._adapters
    mark("typer._adapters (pydantic), imported when arguments are parsed")
    import cnnaudit.cli
    mark("import cnnaudit.cli (cnnaudit, api, ops, passes)")
    import cnnaudit.batch
    mark("import cnnaudit.batch (+ budgets): what `check` runs")
    typer.main.get_command(cnnaudit.cli._invoked_only(["check"]))
    mark("typer: the `check` command's click parameters")
    from cnnaudit.render.json_out import render_json
    mark("import cnnaudit.render.json_out (a table would import rich instead)")
    import cnnaudit

    boards = cnnaudit.load_boards(ids=["nano33"])
    mark("load_boards(['nano33']): the profile and kernel families (JSON copies)")
    suffix = Path(path).suffix
    if suffix in (".keras", ".h5"):
        import cnnaudit.frontends.keras_file
        mark("import the frontend: keras_file (+ its own HDF5 reader)")
    elif suffix == ".tflite":
        import cnnaudit.frontends.tflite_file
        mark("import the frontend: tflite_file (its own flatbuffer reader)")
    else:
        import cnnaudit.frontends.yaml_spec
        import cnnaudit.frontends.yaml_text
        mark("import the frontend: yaml_spec, yaml_text (+ yaml)")
    from cnnaudit import frontends

    graph = frontends.load(path)
    mark("frontends.load(file): read the model into the graph IR")
    report = cnnaudit.analyse(graph, [boards["nano33"]])
    mark("analyse(): shapes, costs, lowering, arena plan, flash, verdicts")
    text = render_json(report)
    mark("render_json()")
    _done(steps=steps, chars=len(text))


def main(argv: list[str]) -> None:
    cmd, *args = argv
    if cmd == "keras-summary":
        keras_summary(args[0])
    elif cmd == "convert-spec":
        convert_spec(args[0])
    elif cmd == "tflm-probe":
        tflm_probe(args[0], int(args[1]))
    elif cmd == "tflm-record":
        tflm_record(args[0])
    elif cmd == "coldsplit":
        coldsplit(args[0])
    elif cmd == "peakmem":
        peakmem(args[0], "--trace" in args[1:])
    else:
        raise SystemExit(f"unknown worker command {cmd!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
