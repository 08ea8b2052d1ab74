"""The command line: Typer commands that call the API and pick a renderer.

Only this module maps errors to exit codes: 0 every selected board passes (warnings
allowed), 1 a board fails, 2 bad input or usage, 3 an internal error (a bug).

No `from __future__ import annotations` here: Typer reads each command's parameter types,
and string annotations cost it two evals each on every run (about 6 ms for `check`); the
few names imported only for type checking are quoted.
"""

import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from . import __version__
from .atomic import write_atomic
from .errors import CnnauditError, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from .batch import Batch
    from .budgets import ProjectConfig, Settings
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


def _console(no_color: bool = False) -> "Console":
    """(rich is imported here: a JSON, markdown or JUnit report on stdout never needs it.)"""
    from rich.console import Console

    # Rich turns colour off when stdout is not a terminal (and honours NO_COLOR); give
    # piped output a width that fits the board table.
    width = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 140
    if no_color:
        return Console(width=width, soft_wrap=False, color_system=None)
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
    max_inflated_mb: Annotated[float, typer.Option(
        "--max-inflated-mb", help="Refuse .keras archives whose members inflate to more than "
        "this in total.")] = 4096.0,
) -> None:
    from .limits import DEFAULT

    _state["debug"] = debug
    _state["limits"] = DEFAULT._replace(max_file_mb=max_file_mb, max_layers=max_layers,
                                        max_inflated_mb=max_inflated_mb)


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


BoardOpt = Annotated[list[str] | None, typer.Option(
    "--board", "-b", help="Board id (repeatable or comma-separated); default: the project "
    "file's boards, else all.")]
CheckDtypeOpt = Annotated[str | None, typer.Option(
    "--dtype", help="Deployment dtype: int8, float16, float32 (default: the project file's, "
    "else int8).")]
OutputOpt = Annotated[Path | None, typer.Option(
    "--output", "-o", help="Write the report to FILE, whole or not at all (a temporary file "
    "renamed over it); stdout then gets only the verdict line.")]
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", help="Project file with budgets: a cnnaudit.yaml, or a pyproject.toml with "
    "[tool.cnnaudit]. Default: the nearest one from the current folder upwards.")]
NoConfigOpt = Annotated[bool, typer.Option("--no-config", help="Ignore project files.")]
MaxParamsOpt = Annotated[int | None, typer.Option(
    "--max-params", help="Budget: FAIL every board when the model has more parameters.")]
MaxMacsOpt = Annotated[int | None, typer.Option(
    "--max-macs", help="Budget: FAIL every board when the model needs more MACs.")]
MaxFlashOpt = Annotated[float | None, typer.Option(
    "--max-flash-kib", help="Budget: the model's flash (.tflite size) in KiB.")]
MaxRamOpt = Annotated[float | None, typer.Option(
    "--max-ram-kib", help="Budget: the model's tensor arena in KiB.")]
MaxLatencyOpt = Annotated[float | None, typer.Option(
    "--max-latency-ms", help="Budget: per board, when a latency estimate exists.")]
MinFpsOpt = Annotated[float | None, typer.Option(
    "--min-fps", help="Budget: per board, inferences per second (1000 / latency).")]
MinHeadroomOpt = Annotated[float | None, typer.Option(
    "--min-headroom-pct", help="Budget: FAIL a board left with less RAM or flash headroom.")]
QuietOpt = Annotated[bool, typer.Option(
    "--quiet", "-q", help="Print only the verdict line (and errors).")]
NoColorOpt = Annotated[bool, typer.Option(
    "--no-color", help="No colours (also off when stdout is not a terminal, or NO_COLOR is "
    "set).")]
CHECK_FORMATS = ("table", "json", "markdown", "junit")
DIFF_FORMATS = ("table", "json", "markdown")
DIFF_EXIT_CODES = """\b
Exit codes:
  0  no board's verdict got worse, no metric grew more than --max-growth
  1  a board's verdict got worse (PASS -> WARN -> FAIL), or a metric grew more
     than --max-growth percent
  2  bad input or usage (the message says what and where)
  3  internal error: a bug in cnnaudit"""


def _project_config(path: Path | None, no_config: bool) -> "ProjectConfig | None":
    from .budgets import find_config, load_config

    if path is not None and no_config:
        raise UsageError("--config and --no-config contradict each other")
    if no_config:
        return None
    if path is not None:
        if not path.is_file():
            raise UsageError(f"no such file: {path}", hint="--config names a project file")
        return load_config(path)
    found = find_config(Path.cwd())
    return load_config(found) if found is not None else None


def _settings(board: list[str] | None, dtype: str | None,
              limits: dict[str, float | None]) -> "Settings":
    from .budgets import Settings, budgets_from_options

    for key, value in limits.items():
        if value is not None and value < 0:
            raise UsageError(f"--{key.replace('_', '-')} must not be negative, got {value:g}")
    return Settings(boards=tuple(board) if board else None, dtype=dtype,
                    budgets=budgets_from_options(limits))


def _check_output(output: Path | None, inputs: list[str],
                  config: "ProjectConfig | None") -> None:
    """Refuse to write the report over a model or the project file: inputs are never
    modified."""
    if output is None:
        return
    target = output.resolve()
    for name in [*inputs, *([str(config.path)] if config else [])]:
        try:
            same = Path(name).is_file() and Path(name).resolve() == target
        except OSError:
            same = False
        if same:
            raise UsageError(f"--output {output} is an input file", hint="write elsewhere")


def _print_errors(batch: "Batch") -> None:
    for o in batch.errors:
        if o.internal:
            if _state["debug"]:
                typer.echo(o.detail, err=True)
            typer.echo(f"internal error: {o.model}: {o.error}\nThis is a bug in cnnaudit. "
                       "Please report it with the command and the model file (rerun with "
                       "--debug for the traceback).", err=True)
        else:
            typer.echo(f"error: {o.error}", err=True)


def _emit(text: "Callable[[Console], None] | str", verdict: "Callable[[Console], None]",
          output: Path | None, quiet: bool, no_color: bool) -> None:
    """The report to stdout, or to --output with the verdict line on stdout; --quiet: only
    the verdict line. `text` is a rendered document, or a table renderer for a console."""
    if output is not None:
        if callable(text):
            import io

            from rich.console import Console

            buffer = Console(file=io.StringIO(), width=140, color_system=None,
                             soft_wrap=False)
            text(buffer)
            verdict(buffer)
            text = buffer.file.getvalue()  # type: ignore[attr-defined]
        write_atomic(output, text)
        verdict(_console(no_color))
    elif quiet:
        verdict(_console(no_color))
    elif callable(text):
        console = _console(no_color)
        text(console)
        verdict(console)
    else:
        sys.stdout.write(text)


@app.command(epilog=EXIT_CODES)
def check(
    models: Annotated[list[str], typer.Argument(
        help="Model(s): a spec (.yaml, .yml, .json), Keras model (.keras, .h5), .tflite "
        "file, a folder (every model under it), a quoted glob ('models/**/*.yaml'), `-` "
        "(a spec on stdin) or a quoted one-line spec such as \"28x28x1 conv64k3:relu "
        "maxpool2 flatten dense10:softmax\".", show_default=False, metavar="MODEL")],
    board: BoardOpt = None,
    dtype: CheckDtypeOpt = None,
    fmt: Annotated[str, typer.Option(
        "--format", "-f", help="table, json, markdown (a PR comment or job summary) or "
        "junit (CI test report).")] = "table",
    output: OutputOpt = None,
    boards_dir: BoardsDirOpt = None,
    override: OverrideOpt = None,
    config: ConfigOpt = None,
    no_config: NoConfigOpt = False,
    max_params: MaxParamsOpt = None,
    max_macs: MaxMacsOpt = None,
    max_flash_kib: MaxFlashOpt = None,
    max_ram_kib: MaxRamOpt = None,
    max_latency_ms: MaxLatencyOpt = None,
    min_fps: MinFpsOpt = None,
    min_headroom_pct: MinHeadroomOpt = None,
    quiet: QuietOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Audit MODEL(s) against boards and budgets: summary, then one PASS/WARN/FAIL row per
    board; several models give one model x board table and the worst exit code (2 when a
    model cannot be audited; the others are still reported).

    MACs count multiply-accumulates in convolutions and dense layers (FLOPs = 2 x MACs).
    """

    def body() -> int:
        from .batch import Batch, expand_models, plan_jobs, run_jobs

        if fmt not in CHECK_FORMATS:
            raise UsageError(f"unknown format {fmt!r}", hint="choose table, json, markdown "
                             "or junit")
        project = _project_config(config, no_config)
        cli = _settings(board, dtype, {
            "max_params": max_params, "max_macs": max_macs, "max_flash_kib": max_flash_kib,
            "max_ram_kib": max_ram_kib, "max_latency_ms": max_latency_ms,
            "min_fps": min_fps, "min_headroom_pct": min_headroom_pct})
        paths, is_batch = expand_models(models)
        _check_output(output, paths, project)
        jobs = plan_jobs(paths, cli=cli, config=project, boards_dirs=boards_dir or (),
                         overrides=parse_overrides(override or []), **_limits())
        batch = Batch(tuple(run_jobs(jobs)), is_batch)
        _print_errors(batch)
        if not is_batch and batch.errors:  # one model: its error line is the whole answer
            return batch.exit_code
        _emit(_check_text(batch, fmt), lambda c: _verdict_line(batch, c), output, quiet,
              no_color)
        return batch.exit_code

    raise typer.Exit(_run(body))


def _verdict_line(batch: "Batch", console: "Console") -> None:
    """(Imported here: a JSON report on stdout has no verdict line, and the table renderer
    imports rich's tables.)"""
    from .render.table import render_verdict_line

    render_verdict_line(batch, console)


def _check_text(batch: "Batch", fmt: str) -> "Callable[[Console], None] | str":
    if fmt == "json":
        from .render.json_out import render_document, render_json

        return (render_document(batch.to_dict()) if batch.is_batch
                else render_json(batch.reports[0]))
    if fmt == "markdown":
        from .render.markdown import render_markdown

        return render_markdown(batch)
    if fmt == "junit":
        from .render.junit import render_junit

        return render_junit(batch)
    from .render.table import render_batch, render_check

    if batch.is_batch:
        return lambda console: render_batch(batch, console)
    return lambda console: render_check(batch.reports[0], console)


@app.command(epilog=DIFF_EXIT_CODES)
def diff(
    paths: Annotated[list[str], typer.Argument(
        help="BASE HEAD (two model files), or one PATH with --git-base.",
        show_default=False, metavar="BASE HEAD|PATH")],
    git_base: Annotated[str | None, typer.Option(
        "--git-base", help="Compare PATH with its version at this git ref (branch, tag, "
        "commit), read with `git show REF:PATH`.")] = None,
    max_growth: Annotated[float | None, typer.Option(
        "--max-growth", help="Exit 1 when params, MACs, flash, arena or a latency grows by "
        "more than this percentage.")] = None,
    board: BoardOpt = None,
    dtype: CheckDtypeOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or markdown.")]
    = "table",
    output: OutputOpt = None,
    boards_dir: BoardsDirOpt = None,
    override: OverrideOpt = None,
    config: ConfigOpt = None,
    no_config: NoConfigOpt = False,
    max_params: MaxParamsOpt = None,
    max_macs: MaxMacsOpt = None,
    max_flash_kib: MaxFlashOpt = None,
    max_ram_kib: MaxRamOpt = None,
    max_latency_ms: MaxLatencyOpt = None,
    min_fps: MinFpsOpt = None,
    min_headroom_pct: MinHeadroomOpt = None,
    quiet: QuietOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """What a change does to a model: params, MACs, flash, arena (and latency per board when
    estimated) before and after, and each board's verdict change. Both sides are judged with
    the same boards, dtype and budgets (those of the HEAD path)."""

    def body() -> int:
        import contextlib

        from .batch import Batch, Outcome, plan_jobs, run_job
        from .diff import diff_reports, file_at_git_ref

        if fmt not in DIFF_FORMATS:
            raise UsageError(f"unknown format {fmt!r}", hint="choose table, json or markdown")
        if len(paths) != (1 if git_base else 2):
            raise UsageError("give BASE and HEAD, or one PATH with --git-base REF")
        if max_growth is not None and max_growth < 0:
            raise UsageError(f"--max-growth must not be negative, got {max_growth:g}")
        project = _project_config(config, no_config)
        cli = _settings(board, dtype, {
            "max_params": max_params, "max_macs": max_macs, "max_flash_kib": max_flash_kib,
            "max_ram_kib": max_ram_kib, "max_latency_ms": max_latency_ms,
            "min_fps": min_fps, "min_headroom_pct": min_headroom_pct})
        head_path = paths[-1]
        _check_output(output, list(paths), project)
        (job,) = plan_jobs([head_path], cli=cli, config=project, boards_dirs=boards_dir or (),
                           overrides=parse_overrides(override or []), **_limits())
        source = (file_at_git_ref(head_path, git_base) if git_base
                  else contextlib.nullcontext(paths[0]))
        with source as base_path:
            base = run_job(job._replace(model=str(base_path)))
        if git_base:  # name the base as the user knows it, not by its temporary copy
            label = f"{git_base}:{head_path}"
            if base.report is not None:
                model = replace(base.report.model, source=label)
                base = Outcome(label, report=replace(base.report, model=model))
            else:
                base = base._replace(model=label,
                                     error=(base.error or "").replace(str(base_path), label))
        outcomes = Batch((base, run_job(job)))
        _print_errors(outcomes)
        if outcomes.errors:
            return outcomes.exit_code
        result = diff_reports(outcomes.outcomes[0].report,  # type: ignore[arg-type]
                              outcomes.outcomes[1].report,  # type: ignore[arg-type]
                              max_growth)
        text: Callable[[Console], None] | str
        if fmt == "json":
            from .render.json_out import render_document

            text = render_document(result.to_dict())
        elif fmt == "markdown":
            from .render.markdown import render_diff_markdown

            text = render_diff_markdown(result)
        else:
            from .render.table import render_diff

            text = lambda console: render_diff(result, console)  # noqa: E731

        def verdict(console: "Console") -> None:
            from rich.text import Text

            from .render.diffs import headline

            console.print(Text(headline(result), style="bold red" if result.regressions
                               else "bold green"))

        _emit(text, verdict, output, quiet, no_color)
        return result.exit_code

    raise typer.Exit(_run(body))


@app.command()
def schema() -> None:
    """Print the JSON Schema (draft 2020-12) of the JSON that check and diff write."""

    def body() -> None:
        from .schema import schema_text

        sys.stdout.write(schema_text())

    _run(body)


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
    dtype: CheckDtypeOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    apply: Annotated[int | None, typer.Option(
        "--apply", help="Write suggestion N (1 = the best) as a YAML spec to -o.")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Where --apply writes the changed spec.")] = None,
    boards_dir: BoardsDirOpt = None,
    override: OverrideOpt = None,
    config: ConfigOpt = None,
    no_config: NoConfigOpt = False,
) -> None:
    """How to make MODEL fit: what dominates params, MACs, flash and the arena, then
    changes to the model (global average pooling head, int8, depthwise separable convs,
    fewer filters, an earlier stride or pooling step, a smaller input), each re-audited and
    ranked by what it gains on the chosen boards. Accuracy costs are described, not
    measured. Needs a spec, a one-line spec or a Keras model (not a .tflite file)."""

    def body() -> None:
        from .render.suggest import render_suggest, render_suggest_json
        from .suggest import advise, applied_spec

        if fmt not in ("table", "json"):
            raise UsageError(f"unknown format {fmt!r}", hint="choose table or json")
        if (apply is None) != (output is None):
            raise UsageError("--apply N and -o FILE go together",
                             hint="e.g. --apply 1 -o new.yaml")
        # boards, dtype and board folders as `check` takes them: flags, then the project
        # file's rules for this model, then its defaults
        from .budgets import resolve

        project = _project_config(config, no_config)
        chosen_settings = resolve(project, model, _settings(board, dtype, {}))
        dirs = [*(project.boards_dirs if project else ()), *(boards_dir or ())]
        advice = advise(model, list(chosen_settings.boards) if chosen_settings.boards else None,
                        dtype=chosen_settings.dtype or "int8", boards_dir=dirs,
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


def _print_calc(make: "Callable[[], Calc]", fmt: str) -> None:
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
    _invoked_only(sys.argv[1:])()


def _invoked_only(args: list[str]) -> typer.Typer:
    """The app with only the command this run invokes, when the first word names one.

    Typer turns every command's signature into click parameters on each run (inspect and
    type hints): about 30 ms for all of them against 9 ms for `check` alone. Help, typos,
    global options before the command and shell completion get the whole app.
    """
    import copy

    if not args or args[0].startswith("-") or "_CNNAUDIT_COMPLETE" in os.environ:
        return app
    word = args[0]
    commands = [c for c in app.registered_commands
                if (c.name or typer.main.get_command_name(getattr(c.callback, "__name__", "")))
                == word]
    groups = [g for g in app.registered_groups if g.name == word]
    if not commands and not groups:
        return app
    only = copy.copy(app)
    only.registered_commands, only.registered_groups = commands, groups
    return only


if __name__ == "__main__":
    main()
