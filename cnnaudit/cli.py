"""The command line: Typer commands that call the API and pick a renderer.

Only this module maps errors to exit codes: 0 every selected board passes (warnings
allowed), 1 a board fails, 2 bad input or usage, 3 an internal error (a bug).
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console

from . import __version__
from .errors import CnnauditError, UsageError

if TYPE_CHECKING:
    from .calc import Calc

EXIT_CODES = """\b
Exit codes:
  0  every selected board passes (warnings allowed)
  1  at least one selected board fails
  2  bad input or usage (the message says what and where)
  3  internal error: a bug in cnnaudit"""

app = typer.Typer(
    name="cnnaudit",
    help="Audit an edge CNN before you train it: shapes, params, MACs, TFLite Micro arena "
    "and flash, and a PASS / WARN / FAIL verdict per microcontroller board.\n\n" + EXIT_CODES,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

_state: dict[str, object] = {"debug": False, "limits": None}
T = TypeVar("T")


def _console() -> Console:
    # Rich turns colour off when stdout is not a terminal (and honours NO_COLOR); give
    # piped output a width that fits the board table.
    width = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 140
    return Console(width=width, soft_wrap=False)


def _run(fn: Callable[[], T]) -> T:
    """Run a command body: user errors -> one line + exit 2; anything else -> exit 3."""
    try:
        return fn()
    except CnnauditError as exc:
        if _state["debug"]:
            traceback.print_exc()
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except typer.Exit:
        raise
    except Exception as exc:
        traceback.print_exc() if _state["debug"] else None
        typer.echo(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in cnnaudit. Please report it with the command and the model "
            "file (rerun with --debug for the traceback).",
            err=True,
        )
        raise typer.Exit(3) from None


def _limits() -> dict[str, object]:
    """The limits set by the global options, as keyword arguments for `audit`."""
    return {"limits": _state["limits"]} if _state["limits"] is not None else {}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cnnaudit {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
    max_file_mb: Annotated[float, typer.Option(
        "--max-file-mb", help="Refuse model files larger than this.")] = 256.0,
    max_layers: Annotated[int, typer.Option(
        "--max-layers", help="Refuse models with more layers/operators than this.")] = 10_000,
) -> None:
    from .limits import DEFAULT

    _state["debug"] = debug
    _state["limits"] = replace(DEFAULT, max_file_mb=max_file_mb, max_layers=max_layers)


ModelArg = Annotated[str, typer.Argument(
    help="Architecture spec (.yaml, .yml or .json), saved Keras model (.keras, .h5) or "
    ".tflite file; `-` reads a YAML or JSON spec from stdin; or a quoted one-line spec "
    "for a sequential network, e.g. \"28x28x1 conv64k3:relu maxpool2 flatten "
    "dense10:softmax\".")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="Deployment dtype: int8, float16, "
                                       "float32.")]
OverrideOpt = Annotated[list[str] | None, typer.Option(
    "--override", help="Output shape of a layer whose code cannot be read (Keras Lambda or "
    "custom layer), e.g. --override 'lambda_1=[16,16,8]'; repeatable.")]
BoardsDirOpt = Annotated[list[Path] | None, typer.Option(
    "--boards-dir", help="Extra folder of board profiles (<id>.yaml); repeatable.")]


@app.command(epilog=EXIT_CODES)
def check(
    model: ModelArg,
    board: Annotated[list[str] | None, typer.Option(
        "--board", "-b", help="Board id (repeatable or comma-separated); default: all.")] = None,
    dtype: DtypeOpt = "int8",
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    boards_dir: BoardsDirOpt = None,
    override: OverrideOpt = None,
) -> None:
    """Audit MODEL against boards: summary, then one PASS/WARN/FAIL row per board.

    MACs count multiply-accumulates in convolutions and dense layers (FLOPs = 2 x MACs).
    """

    def body() -> int:
        from .api import audit
        from .render.json_out import render_json
        from .render.table import render_check

        if fmt not in ("table", "json"):
            raise UsageError(f"unknown format {fmt!r}", hint="choose table or json")
        report = audit(model, board, dtype=dtype, boards_dir=boards_dir or (),
                       overrides=parse_overrides(override or []), **_limits())
        if fmt == "json":
            sys.stdout.write(render_json(report))
        else:
            render_check(report, _console())
        return report.exit_code

    raise typer.Exit(_run(body))


SUGGEST_EXIT_CODES = """\b
Exit codes:
  0  the advice was given (or the spec written), whether or not the model fits
  2  bad input or usage (the message says what and where)
  3  internal error: a bug in cnnaudit"""


@app.command(epilog=SUGGEST_EXIT_CODES)
def suggest(
    model: ModelArg,
    board: Annotated[list[str] | None, typer.Option(
        "--board", "-b", help="Board id (repeatable or comma-separated); default: all.")] = None,
    dtype: DtypeOpt = "int8",
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    apply: Annotated[int | None, typer.Option(
        "--apply", help="Write suggestion N (1 = the best) as a YAML spec to -o.")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Where --apply writes the changed spec.")] = None,
    boards_dir: BoardsDirOpt = None,
    override: OverrideOpt = None,
) -> None:
    """How to make MODEL fit: what dominates params, MACs, flash and the arena, then
    changes to the model (global average pooling head, int8, depthwise separable convs,
    fewer filters, an earlier stride or pooling step, a smaller input), each re-audited and
    ranked by what it gains on the chosen boards. Accuracy costs are described, not
    measured. Needs a spec, a one-line spec or a Keras model (not a .tflite file)."""

    def body() -> None:
        from .render.suggest import render_suggest, render_suggest_json
        from .spec_writer import write_atomic
        from .suggest import advise, applied_spec

        if fmt not in ("table", "json"):
            raise UsageError(f"unknown format {fmt!r}", hint="choose table or json")
        if (apply is None) != (output is None):
            raise UsageError("--apply N and -o FILE go together",
                             hint="e.g. --apply 1 -o new.yaml")
        advice = advise(model, board, dtype=dtype, boards_dir=boards_dir or (),
                        overrides=parse_overrides(override or []), **_limits())
        if apply is not None and output is not None:
            chosen, text = applied_spec(advice, apply, str(output))
            write_atomic(output, text)
            typer.echo(f"wrote {output}: {chosen.title}")
            boards_opt = "".join(f" --board {b.board.id}" for b in advice.report.boards)
            typer.echo(f"check it: cnnaudit check {output}{boards_opt} --dtype {chosen.dtype}")
        elif fmt == "json":
            sys.stdout.write(render_suggest_json(advice))
        else:
            render_suggest(advice, _console())

    _run(body)


@app.command(epilog=EXIT_CODES)
def layers(
    model: ModelArg,
    dtype: DtypeOpt = "int8",
    board: Annotated[str | None, typer.Option(
        "--board", "-b", help="Also show each layer's estimated latency on this board.")]
    = None,
    boards_dir: BoardsDirOpt = None,
    override: OverrideOpt = None,
) -> None:
    """Per-layer table: output shape, params, MACs, activation and weight memory (and
    latency with --board)."""

    def body() -> None:
        from .api import audit
        from .render.table import render_layers

        report = audit(model, [board] if board else [], dtype=dtype,
                       boards_dir=boards_dir or (), overrides=parse_overrides(override or []),
                       **_limits())
        render_layers(report, _console(), board=report.boards[0] if board else None)

    _run(body)


@app.command(epilog=EXIT_CODES)
def memory(model: ModelArg, dtype: DtypeOpt = "int8", override: OverrideOpt = None) -> None:
    """The memory timeline: live activation bytes per layer as a bar, the peak marked and
    the tensors live at the peak named."""

    def body() -> None:
        from .api import audit
        from .render.table import render_memory

        report = audit(model, [], dtype=dtype, overrides=parse_overrides(override or []),
                       **_limits())
        render_memory(report, _console())

    _run(body)


@app.command(epilog=EXIT_CODES)
def verify(model: ModelArg, dtype: DtypeOpt = "int8", override: OverrideOpt = None) -> None:
    """Compare the estimate with the real judges (needs the `tf` extra): the model is rebuilt
    from the audited graph, converted with the TFLite converter and run in the TFLite Micro
    interpreter. Exit 1 when arena, flash or operators disagree beyond the tolerance."""

    def body() -> int:
        from .render.table import render_verification
        from .verify import verify as run_verify

        result = run_verify(model, dtype, parse_overrides(override or []))
        render_verification(model, result, _console())
        return 0 if result.ok else 1

    raise typer.Exit(_run(body))


@app.command(epilog=EXIT_CODES)
def resolver(
    model: ModelArg,
    board: Annotated[str | None, typer.Option(
        "--board", "-b", help="Take the arena margin from this board's profile.")] = None,
    margin: Annotated[float | None, typer.Option(
        "--margin", help="Arena margin in percent (default: the board's, else 10).")] = None,
    boards_dir: BoardsDirOpt = None,
) -> None:
    """Print the C++ for a TFLite Micro sketch: a MicroMutableOpResolver with exactly the
    Add...() calls the model needs, and kTensorArenaSize from the arena estimate."""

    def body() -> None:
        from .api import audit
        from .boards import DEFAULT_ARENA_MARGIN_PCT, load_boards, select
        from .render.cpp import render_resolver

        report = audit(model, [], boards_dir=boards_dir or (), **_limits())
        if not report.model.operators:
            raise UsageError(f"{model}: the model has no operators")
        pct = margin
        if pct is None and board is not None:
            pct = select(load_boards(boards_dir or ()), [board])[0].arena_margin_pct
        sys.stdout.write(render_resolver(report, DEFAULT_ARENA_MARGIN_PCT if pct is None
                                         else pct, board))

    _run(body)


@app.command()
def boards(boards_dir: BoardsDirOpt = None) -> None:
    """List the known board profiles (id, name, core, clock, SRAM, flash, reserves)."""

    def body() -> None:
        from .boards import load_boards
        from .render.table import render_boards

        render_boards(list(load_boards(boards_dir or ()).values()), _console())

    _run(body)


calc_app = typer.Typer(
    help="Quick layer arithmetic: each command prints the formula, the formula with your "
    "numbers, then the result. Sizes may be one number (28 = 28x28) or one per axis (28x32).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(calc_app, name="calc")

SizeOpt = Annotated[str, typer.Option("--input", "-i", help="Input size: 28 or 28x32.")]
StrideOpt = Annotated[str | None, typer.Option("--stride", "-s", help="Stride: 1 or 2x1.")]
PaddingOpt = Annotated[str, typer.Option(
    "--padding", "-p", help="valid (none), same (Keras: keep the size at stride 1) or N "
    "pixels on each side.")]
DimsOpt = Annotated[int | None, typer.Option(
    "--dims", help="Spatial axes, 1 or 2 (default 2; a single number stands for every axis).")]
CalcFormatOpt = Annotated[str, typer.Option("--format", "-f", help="text or json.")]


def _print_calc(make: Callable[[], Calc], fmt: str) -> None:
    def body() -> None:
        from . import calc

        if fmt not in ("text", "json"):
            raise UsageError(f"unknown format {fmt!r}", hint="choose text or json")
        result = make()
        if fmt == "json":
            import json

            sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
        else:
            sys.stdout.write(calc.render_text(result))

    _run(body)


@calc_app.command("conv")
def calc_conv(
    kernel: Annotated[str, typer.Option("--kernel", "-k", help="Kernel: 3 or 3x5.")],
    input_: Annotated[str | None, typer.Option(
        "--input", "-i", help="Input size: 28 or 28x32 (omit for params only).")] = None,
    stride: Annotated[str, typer.Option("--stride", "-s", help="Stride: 1 or 2x1.")] = "1",
    padding: PaddingOpt = "valid",
    dilation: Annotated[str, typer.Option("--dilation", "-d", help="Dilation: 1 or 2.")] = "1",
    filters: Annotated[int | None, typer.Option(
        "--filters", help="Number of filters (output channels).")] = None,
    channels: Annotated[int | None, typer.Option(
        "--channels", "-c", help="Input channels (1 grey, 3 RGB).")] = None,
    bias: Annotated[bool, typer.Option("--bias/--no-bias", help="Count a bias per filter.")]
    = True,
    dims: DimsOpt = None,
    fmt: CalcFormatOpt = "text",
) -> None:
    """Convolution: output size; params (and MACs) when --filters and --channels are given.

    Output size: valid = floor((in - k) / s) + 1, same = ceil(in / s),
    N = floor((in + 2N - k) / s) + 1, with k = (k - 1)*d + 1 when dilated.
    Params: (k*k*channels + 1)*filters.
    """
    from . import calc

    _print_calc(lambda: calc.conv(input=input_, kernel=kernel, stride=stride, padding=padding,
                                  dilation=dilation, filters=filters, channels=channels,
                                  bias=bias, dims=dims), fmt)


@calc_app.command("pool")
def calc_pool(
    input_: SizeOpt,
    pool: Annotated[str, typer.Option("--pool", help="Pool size: 2 or 2x1.")] = "2",
    stride: StrideOpt = None,
    padding: PaddingOpt = "valid",
    dims: DimsOpt = None,
    fmt: CalcFormatOpt = "text",
) -> None:
    """Pooling: output size (the stride defaults to the pool size, as in Keras)."""
    from . import calc

    _print_calc(lambda: calc.pool(input=input_, pool=pool, stride=stride, padding=padding,
                                  dims=dims), fmt)


@calc_app.command("dense")
def calc_dense(
    n_in: Annotated[int, typer.Option("--in", help="Input features (e.g. 5*5*64 = 1600).")],
    n_out: Annotated[int, typer.Option("--out", help="Units.")],
    bias: Annotated[bool, typer.Option("--bias/--no-bias", help="Count a bias per unit.")]
    = True,
    fmt: CalcFormatOpt = "text",
) -> None:
    """Dense layer: params = (in + 1)*out, MACs = in*out."""
    from . import calc

    _print_calc(lambda: calc.dense(n_in=n_in, n_out=n_out, bias=bias), fmt)


@calc_app.command("arena")
def calc_arena() -> None:
    """Why there is no formula for the tensor arena, and what to run instead."""
    from .calc import ARENA_TEXT

    typer.echo(ARENA_TEXT)


def parse_overrides(items: list[str]) -> dict[str, tuple[int, ...]]:
    """`name=[16,16,8]` (or `name=16x16x8`) -> {name: (16, 16, 8)}."""
    out: dict[str, tuple[int, ...]] = {}
    for item in items:
        name, sep, value = item.partition("=")
        text = value.strip().strip("[]()").replace("x", ",")
        try:
            shape = tuple(int(v) for v in text.split(",") if v.strip())
        except ValueError:
            shape = ()
        if not sep or not name or not shape or min(shape) <= 0:
            raise UsageError(f"cannot read --override {item!r}",
                             hint="write NAME=[d1,d2,...], the output shape without the batch")
        out[name.strip()] = shape
    return out


def main() -> None:
    app()
