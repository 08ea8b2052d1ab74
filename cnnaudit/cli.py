"""The command line: Typer commands that call the API and pick a renderer.

Only this module maps errors to exit codes: 0 every selected board passes (warnings
allowed), 1 a board fails, 2 bad input or usage, 3 an internal error (a bug).
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from . import __version__
from .errors import CnnauditError, UsageError

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

_state = {"debug": False}
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


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cnnaudit {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    _state["debug"] = debug


ModelArg = Annotated[str, typer.Argument(help="Architecture spec (.yaml, .yml or .json).")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="Deployment dtype: int8, float16, "
                                       "float32.")]
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
        report = audit(model, board, dtype=dtype, boards_dir=boards_dir or ())
        if fmt == "json":
            sys.stdout.write(render_json(report))
        else:
            render_check(report, _console())
        return report.exit_code

    raise typer.Exit(_run(body))


@app.command(epilog=EXIT_CODES)
def layers(model: ModelArg, dtype: DtypeOpt = "int8") -> None:
    """Per-layer table: output shape, params, MACs, activation and weight memory."""

    def body() -> None:
        from .api import audit
        from .render.table import render_layers

        render_layers(audit(model, [], dtype=dtype), _console())

    _run(body)


@app.command()
def boards(boards_dir: BoardsDirOpt = None) -> None:
    """List the known board profiles (id, name, core, clock, SRAM, flash, reserves)."""

    def body() -> None:
        from .boards import load_boards
        from .render.table import render_boards

        render_boards(list(load_boards(boards_dir or ()).values()), _console())

    _run(body)


def main() -> None:
    app()
