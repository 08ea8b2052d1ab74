"""`cnnaudit calc`: the arithmetic a CNN lab asks for, one layer at a time, with the working
shown. Each calculation returns a `Calc`: the steps (formula, the formula with the user's
numbers substituted, value) and the results. The output-size rule is the one the ops use
(`ops.base.conv_out_len`, Keras's rule for `valid` and `same`).

>>> conv(input="28", kernel="3").result["output"]
[26, 26]
>>> conv(kernel="3", filters=32, channels=3).result["params"]
896
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .errors import UsageError
from .ops.base import OpError, conv_out_len

ARENA_TEXT = (
    "There is no rule of thumb for the tensor arena. It holds the feature maps that must be "
    "alive at the same time (plus the interpreter's bookkeeping), not the weights, so "
    "\"2-5 x the model size\" can be far off in either direction. Let cnnaudit plan it the "
    "way TensorFlow Lite Micro does: `cnnaudit check MODEL --board ID`, where MODEL is a "
    "spec file, `-` for a spec on stdin, or a one-liner such as "
    "\"28x28x1 conv8k3 maxpool2 flatten dense10\"; `cnnaudit layers MODEL` shows which "
    "feature maps are the large ones."
)


@dataclass(frozen=True)
class Step:
    """One line of working: `quantity: formula = substituted = value`."""

    quantity: str
    formula: str
    substituted: str
    value: int


@dataclass(frozen=True)
class Calc:
    kind: str
    inputs: dict[str, Any]
    steps: tuple[Step, ...]
    result: dict[str, Any]
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "calc": self.kind,
            "inputs": self.inputs,
            "steps": [vars(s) for s in self.steps],
            "result": self.result,
            "notes": list(self.notes),
        }


# -- parsing the user's numbers --------------------------------------------------------
def sizes(text: str | int, option: str, *, minimum: int = 1) -> tuple[int, ...]:
    """`28` or `28x28` -> (28,) or (28, 28); zero/negative/garbage -> UsageError.

    >>> sizes("3x5", "--kernel")
    (3, 5)
    """
    parts = str(text).strip().lower().split("x")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a size",
                         hint=f"give an integer such as 3, or one per axis such as 3x5 "
                         f"({option})") from None
    if len(values) > 2:
        raise UsageError(f"{option} {text!r} has {len(values)} axes",
                         hint="give 1 or 2 values (HxW)")
    for v in values:
        if v < minimum:
            raise UsageError(f"{option} must be >= {minimum}, got {text}")
    return values


def _positive(value: int | None, option: str) -> None:
    if value is not None and value < 1:
        raise UsageError(f"{option} must be >= 1, got {value}")


def _axes(dims: int | None, *values: tuple[int, ...]) -> int:
    """How many spatial axes: --dims if given (1 or 2), else 2. A single number stands
    for every axis (28 = 28x28)."""
    longest = max((len(v) for v in values), default=1)
    if dims is None:
        return 2
    if dims not in (1, 2):
        raise UsageError(f"--dims must be 1 or 2, got {dims}")
    if longest > dims:
        raise UsageError(f"--dims {dims} but a value has {longest} axes")
    return dims


def _per_axis(value: tuple[int, ...], axes: int) -> tuple[int, ...]:
    return value * axes if len(value) == 1 else value


def _axis_names(axes: int, square: bool) -> list[str]:
    if square:
        return ["output size" + (" (each axis)" if axes == 2 else "")]
    return ["output length"] if axes == 1 else ["output height", "output width"]


def _window_step(quantity: str, size: int, k: int, s: int, padding: str | int, d: int,
                 what: str) -> Step:
    """Output length along one axis, with the working (Keras rule for valid/same)."""
    k_sym, k_num = ("k", str(k)) if d == 1 else ("((k - 1)*d + 1)", f"(({k} - 1)*{d} + 1)")
    effective = (k - 1) * d + 1
    if padding == "same":
        return Step(f"{quantity}, padding same", "ceil(in / s)", f"ceil({size} / {s})",
                    conv_out_len(size, k, s, "same", d))
    if padding == "valid":
        try:
            value = conv_out_len(size, k, s, "valid", d)
        except OpError:
            raise UsageError(_too_big(what, k, d, size, "with padding valid"),
                             hint="use --padding same, a smaller window or a larger input") \
                from None
        return Step(f"{quantity}, padding valid", f"floor((in - {k_sym}) / s) + 1",
                    f"floor(({size} - {k_num}) / {s}) + 1", value)
    p = int(padding)
    if size + 2 * p < effective:
        raise UsageError(_too_big(what, k, d, size, f"padded by {p} on each side"),
                         hint="use more padding, a smaller window or a larger input")
    return Step(f"{quantity}, padding {p}", f"floor((in + 2*p - {k_sym}) / s) + 1",
                f"floor(({size} + 2*{p} - {k_num}) / {s}) + 1",
                (size + 2 * p - effective) // s + 1)


def _too_big(what: str, k: int, d: int, size: int, how: str) -> str:
    dilated = f" (dilated to {(k - 1) * d + 1})" if d > 1 else ""
    return f"{what} {k}{dilated} is larger than input {size} {how}"


def _padding(text: str) -> str | int:
    value = str(text).strip().lower()
    if value in ("valid", "same"):
        return value
    try:
        n = int(value)
    except ValueError:
        raise UsageError(f"--padding {text!r} is not valid, same or a number",
                         hint="valid (no padding), same (keep the size) or N pixels per "
                         "side") from None
    if n < 0:
        raise UsageError(f"--padding must be >= 0, got {n}")
    return n


def _output_steps(size: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
                  padding: str | int, dilation: tuple[int, ...], axes: int,
                  what: str) -> tuple[list[Step], list[int]]:
    per = [_per_axis(v, axes) for v in (size, kernel, stride, dilation)]
    square = all(len(set(v)) == 1 for v in per)
    names = _axis_names(axes, square)
    steps = [
        _window_step(names[i], per[0][i], per[1][i], per[2][i], padding, per[3][i], what)
        for i in range(1 if square else axes)
    ]
    out = [steps[0].value] * axes if square else [s.value for s in steps]
    return steps, out


# -- the calculations ---------------------------------------------------------------
def conv(
    *,
    kernel: str,
    input: str | None = None,
    stride: str = "1",
    padding: str = "valid",
    dilation: str = "1",
    filters: int | None = None,
    channels: int | None = None,
    bias: bool = True,
    dims: int | None = None,
) -> Calc:
    """Output size of a convolution (and its params and MACs with filters and channels)."""
    k = sizes(kernel, "--kernel")
    s = sizes(stride, "--stride")
    d = sizes(dilation, "--dilation")
    size = sizes(input, "--input") if input is not None else None
    pad = _padding(padding)
    _positive(filters, "--filters")
    _positive(channels, "--channels")
    if (filters is None) != (channels is None):
        missing = "--channels" if channels is None else "--filters"
        raise UsageError(f"the parameter count needs {missing} too",
                         hint="--channels is the input's channels (1 grey, 3 RGB), "
                         "--filters the number of kernels")
    if size is None and (filters is None or channels is None):
        raise UsageError("nothing to calculate",
                         hint="give --input for the output size, and/or --filters and "
                         "--channels for the parameter count")
    axes = _axes(dims, k, s, d, *([size] if size else []))
    inputs: dict[str, Any] = {
        "input": list(_per_axis(size, axes)) if size else None,
        "kernel": list(_per_axis(k, axes)), "stride": list(_per_axis(s, axes)),
        "padding": pad, "dilation": list(_per_axis(d, axes)), "filters": filters,
        "channels": channels, "bias": bias,
    }
    steps: list[Step] = []
    result: dict[str, Any] = {}
    if size is not None:
        out_steps, out = _output_steps(size, k, s, pad, d, axes, "kernel")
        steps += out_steps
        result["output"] = [*out, filters] if filters else out
    if filters is not None and channels is not None:
        kk = _per_axis(k, axes)
        k_sym = "k" if axes == 1 else "k*k" if len(set(kk)) == 1 else "kh*kw"
        k_num = "*".join(map(str, kk))
        weights = math.prod(kk) * channels * filters
        if bias:
            steps.append(Step("params", f"({k_sym}*channels + 1)*filters",
                              f"({k_num}*{channels} + 1)*{filters}", weights + filters))
        else:
            steps.append(Step("params", f"{k_sym}*channels*filters",
                              f"{k_num}*{channels}*{filters}", weights))
        result["params"] = steps[-1].value
        if size is not None:
            out_sym = "out" if axes == 1 else "out_h*out_w"
            out_num = "*".join(map(str, result["output"][:-1]))
            macs = math.prod(result["output"][:-1]) * math.prod(kk) * channels * filters
            steps.append(Step("MACs", f"{out_sym}*{k_sym}*channels*filters",
                              f"{out_num}*{k_num}*{channels}*{filters}", macs))
            result["macs"] = macs
    return Calc("conv", inputs, tuple(steps), result)


def pool(
    *,
    input: str,
    pool: str = "2",
    stride: str | None = None,
    padding: str = "valid",
    dims: int | None = None,
) -> Calc:
    """Output size of a pooling window (stride defaults to the pool size, as in Keras)."""
    size = sizes(input, "--input")
    p = sizes(pool, "--pool")
    s = sizes(stride, "--stride") if stride is not None else p
    pad = _padding(padding)
    axes = _axes(dims, size, p, s)
    steps, out = _output_steps(size, p, s, pad, (1,), axes, "pool")
    notes = () if stride is not None else ("stride defaults to the pool size (Keras)",)
    inputs = {"input": list(_per_axis(size, axes)), "pool": list(_per_axis(p, axes)),
              "stride": list(_per_axis(s, axes)), "padding": pad}
    return Calc("pool", inputs, tuple(steps), {"output": out, "params": 0}, notes)


def dense(*, n_in: int, n_out: int, bias: bool = True) -> Calc:
    """Params and MACs of a dense layer on a flat input of n_in features."""
    _positive(n_in, "--in")
    _positive(n_out, "--out")
    if bias:
        params = Step("params", "(in + 1)*out", f"({n_in} + 1)*{n_out}", (n_in + 1) * n_out)
    else:
        params = Step("params", "in*out", f"{n_in}*{n_out}", n_in * n_out)
    macs = Step("MACs", "in*out", f"{n_in}*{n_out}", n_in * n_out)
    return Calc("dense", {"in": n_in, "out": n_out, "bias": bias}, (params, macs),
                {"output": [n_out], "params": params.value, "macs": macs.value})


def render_text(calc: Calc) -> str:
    """The working, one line per step, then the results."""
    lines = [f"{s.quantity}: {s.formula} = {s.substituted} = {s.value:,}" for s in calc.steps]
    parts = []
    if "output" in calc.result:
        parts.append("output " + "x".join(map(str, calc.result["output"])))
    if calc.result.get("params") is not None:
        parts.append(f"params {calc.result['params']:,}")
    if "macs" in calc.result:
        parts.append(f"MACs {calc.result['macs']:,}")
    lines.append("=> " + ", ".join(parts))
    lines += [f"note: {note}" for note in calc.notes]
    return "\n".join(lines) + "\n"
