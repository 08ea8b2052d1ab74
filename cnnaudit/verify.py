"""`cnnaudit verify`: the estimate against the real judges, side by side.

Needs the `tf` extra (TensorFlow + tflite-micro). For a spec or Keras file the model is
rebuilt from the audited graph (never loaded from the file), converted with the TFLite
converter (int8: random representative data, int8 inputs and outputs), and run in the
TFLite Micro interpreter in a subprocess (a crash there cannot take cnnaudit down). The
interpreter's recording allocator reports the arena it used; the smallest arena with
which AllocateTensors succeeds is that number, rounded to 8 bytes.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CnnauditError
from .report import Report

ARENA_TOLERANCE = {"file": (0.02, 512), "built": (0.05, 0)}  # (share, bytes), larger wins
FLASH_TOLERANCE = 0.03

_PROBE = r"""
import sys
from tflite_micro.python.tflite_micro import runtime
data = open(sys.argv[1], "rb").read()
try:
    interp = runtime.Interpreter.from_bytes(data, arena_size=int(sys.argv[2]))
except Exception as exc:
    print("CNNAUDIT-FAIL", type(exc).__name__, exc, flush=True)
    sys.exit(0)
print("CNNAUDIT-OK", flush=True)
interp.print_allocations()
"""
_FIELDS = {k: re.compile(rf"Arena allocation {k} (\d+)") for k in ("total", "head", "tail")}


@dataclass(frozen=True)
class Row:
    what: str
    estimate: str
    measured: str
    error: str
    ok: bool | None  # None: shown for information, not judged


@dataclass(frozen=True)
class Verification:
    rows: tuple[Row, ...]
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok is not False for r in self.rows)


def measure_tflm(model: bytes, arena_size: int = 16 * 1024 * 1024) -> dict[str, int]:
    """Arena total/head/tail the TFLite Micro interpreter (64-bit host) reports."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(model)
        try:
            done = subprocess.run([sys.executable, "-c", _PROBE, str(path), str(arena_size)],
                                  capture_output=True, text=True, timeout=300, check=False)
        except subprocess.TimeoutExpired:
            raise CnnauditError("the TFLite Micro interpreter did not finish in 5 minutes")\
                from None
    if "CNNAUDIT-OK" not in done.stdout:
        if "No module named" in done.stdout + done.stderr:
            raise CnnauditError("verify needs tflite-micro", hint="pip install 'cnnaudit[tf]'")
        tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or [
            f"exit status {done.returncode}"]
        raise CnnauditError(f"the TFLite Micro interpreter could not run the model: {tail[0]}")
    text = done.stdout + done.stderr  # MicroPrintf may write to either stream
    found = {k: int(m.group(1)) for k, rx in _FIELDS.items() if (m := rx.search(text))}
    if "total" not in found:
        raise CnnauditError("the TFLite Micro interpreter printed no allocation report")
    return found


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence TensorFlow's chatter (Python prints and C++ logs) while it converts."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        os.dup2(devnull.fileno(), 2)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def minimum_arena(model: bytes, hint: int | None = None) -> dict[str, int]:
    """The judge: the smallest arena (to 8 bytes) with which AllocateTensors succeeds, plus
    the head/tail breakdown of a generous run. The allocator's transient phases (planning,
    Prepare) can need more than the final head + tail, so this is found by bisection,
    starting from the final total and the estimate `hint`."""
    found = measure_tflm(model)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(model)

        def works(size: int) -> bool:
            done = subprocess.run([sys.executable, "-c", _PROBE, str(path), str(size)],
                                  capture_output=True, text=True, timeout=300, check=False)
            return "CNNAUDIT-OK" in done.stdout and done.returncode == 0

        hi = max(found["total"], hint or 0)
        while not works(hi):
            hi = hi * 2
        lo = max(found["total"] - 16, 0)
        while lo > 0 and works(lo):
            lo //= 2
        while hi - lo > 8:
            mid = (lo + hi) // 2 // 8 * 8
            if mid in (lo, hi):
                break
            if works(mid):
                hi = mid
            else:
                lo = mid
    return {**found, "minimum": hi}


def convert(model: Any, dtype: str) -> bytes:
    """The TFLite converter's file for a Keras model (int8: full integer, int8 I/O)."""
    import numpy as np
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if dtype in ("int8", "float16"):
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if dtype == "float16":
        conv.target_spec.supported_types = [tf.float16]
    if dtype == "int8":
        # keyed by input name: a list is matched to the inputs in an order of the
        # converter's choosing
        shapes = {i.name: tuple(i.shape[1:]) for i in model.inputs}
        rng = np.random.default_rng(0)
        conv.representative_dataset = lambda: (
            {k: rng.random((1, *s), dtype=np.float32) for k, s in shapes.items()}
            for _ in range(16))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    with quiet():
        return bytes(conv.convert())


def _pct(estimate: int, measured: int) -> float:
    return 100.0 * (estimate - measured) / measured if measured else 0.0


def compare(estimate: Report, host_estimate: Report, data: bytes, measured: dict[str, int],
            mode: str) -> Verification:
    """Rows of estimate vs measurement. The interpreter runs on this 64-bit host, so the
    arena is compared with the estimate at 8-byte pointers; the device figure (4-byte
    pointers) is shown beside it."""
    m = host_estimate.model
    share, floor = ARENA_TOLERANCE[mode]
    judge = measured.get("minimum", measured["total"])
    arena_err = m.arena_bytes - judge
    arena_ok = abs(arena_err) <= max(share * judge, floor)
    head, tail = measured.get("head", 0), measured.get("tail", 0)
    rows = [
        Row("arena, planned activations (head)", f"{m.activations_bytes:,}", f"{head:,}",
            f"{_pct(m.activations_bytes, head):+.1f} %", None),
        Row("arena, persistent (tail), 64-bit host", f"{m.persistent_bytes:,}", f"{tail:,}",
            f"{_pct(m.persistent_bytes, tail):+.1f} %", None),
        Row("smallest working arena, 64-bit host", f"{m.arena_bytes:,}", f"{judge:,}",
            f"{_pct(m.arena_bytes, judge):+.2f} %", arena_ok),
        Row("smallest working arena, 32-bit device", f"{estimate.model.arena_bytes:,}", "-",
            "-", None),
    ]
    flash_ok = abs(estimate.model.flash_bytes - len(data)) <= FLASH_TOLERANCE * len(data)
    rows.append(Row("flash (.tflite bytes)", f"{estimate.model.flash_bytes:,}", f"{len(data):,}",
                    f"{_pct(estimate.model.flash_bytes, len(data)):+.1f} %", flash_ok))
    limit = f"{share:.0%}" + (f" or {floor} B" if floor else "")
    notes = (f"arena tolerance {limit}; flash tolerance {FLASH_TOLERANCE:.0%}",
             "The interpreter here is 64-bit (the tflite-micro wheel): its runtime structures hold "
             "8-byte pointers, so its persistent part is larger than on a 32-bit "
             "microcontroller; the 32-bit figure is what the board verdicts use.",
             "The smallest working arena can exceed head + tail: the planner's bookkeeping "
             "and Prepare's temporary tensors briefly sit in the head.")
    return Verification(tuple(rows), notes)


def operator_rows(expected: Report, converted: Report) -> list[Row]:
    """The lowered operators against the converter's: type and output shape. Independent
    branches may run in either order, so the same operators in another order match."""
    ours = [(s.type, s.shape) for s in expected.timeline if s.type != "input"]
    theirs = [(s.type, s.shape) for s in converted.timeline if s.type != "input"]
    if ours == theirs:
        detail, ok = "same operators, same output shapes, same order", True
    elif sorted(ours) == sorted(theirs):
        detail, ok = "same operators and output shapes, branches in another order", True
    else:
        pairs = list(zip(ours, theirs, strict=False))
        first = next((i for i, (a, b) in enumerate(pairs) if a != b), len(pairs))
        if first < len(pairs):
            (a_type, a_shape), (b_type, b_shape) = pairs[first]
            detail = (f"first difference at #{first + 1}: {a_type} {list(a_shape)} vs "
                      f"{b_type} {list(b_shape)}")
        else:
            detail = f"{len(ours)} vs {len(theirs)} operators"
        ok = False
    same = sum(1 for a, b in zip(ours, theirs, strict=False) if a == b)
    return [Row("operators (type and shape)", str(len(ours)), str(len(theirs)),
                f"{same}/{max(len(ours), len(theirs))} in place; {detail}", ok)]


def verify(source: str, dtype: str = "int8",
           overrides: dict[str, tuple[int, ...]] | None = None) -> Verification:
    """Estimate, then measure with the converter and the TFLite Micro interpreter."""
    from . import frontends
    from .api import analyse

    graph = frontends.load(source, overrides=overrides)
    if graph.format == "tflite":
        data = Path(source).read_bytes()
        mode = "file"
    else:
        from .keras_build import build_keras

        with quiet():
            model = build_keras(graph)
        data = convert(model, dtype)
        mode = "built"
    device = analyse(graph, [], dtype=dtype)
    host = analyse(graph, [], dtype=dtype, pointer_bytes=8)
    measured = minimum_arena(data, host.model.arena_bytes)
    result = compare(device, host, data, measured, mode)
    rows = list(result.rows)
    if mode == "built":
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "converted.tflite"
            path.write_bytes(data)
            converted = analyse(frontends.load(path), [])
        rows += operator_rows(device, converted)
    return Verification(tuple(rows), result.notes)


@dataclass(frozen=True)
class CaseResult:
    """One corpus model at one dtype: estimates, measurements, or why it could not run."""

    name: str
    dtype: str
    arena_estimate: int | None = None  # from the spec/Keras graph, 64-bit host structures
    arena_from_file: int | None = None  # from the converted .tflite, 64-bit host
    arena_measured: int | None = None
    flash_estimate: int | None = None
    flash_measured: int | None = None
    operators_match: bool | None = None
    problem: str = ""

    @staticmethod
    def error(estimate: int | None, measured: int | None) -> float | None:
        if estimate is None or not measured:
            return None
        return 100.0 * (estimate - measured) / measured


def measure_case(name: str, graph: Any, dtype: str) -> CaseResult:
    """Estimate `graph` at `dtype`, then convert and measure it; never raises for a model
    the converter or TFLite Micro cannot handle (the reason is recorded instead)."""
    from . import frontends
    from .api import analyse
    from .keras_build import build_keras

    host = analyse(graph, [], dtype=dtype, pointer_bytes=8)
    base = {"name": name, "dtype": dtype, "arena_estimate": host.model.arena_bytes,
            "flash_estimate": host.model.flash_bytes}
    try:
        with quiet():
            model = build_keras(graph)
        data = convert(model, dtype)
    except Exception as exc:
        return CaseResult(**base, problem=f"the converter failed: {str(exc)[:120]}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.tflite"
        path.write_bytes(data)
        file_graph = frontends.load(path)
        from_file = analyse(file_graph, [], pointer_bytes=8)
    same_ops = operator_rows(analyse(graph, [], dtype=dtype), from_file)[0].ok
    base.update(flash_measured=len(data), arena_from_file=from_file.model.arena_bytes,
                operators_match=same_ops)
    try:
        measured = minimum_arena(data, host.model.arena_bytes)
    except CnnauditError as exc:
        return CaseResult(**base, problem=str(exc))
    return CaseResult(**base, arena_measured=measured["minimum"])
