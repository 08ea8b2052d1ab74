"""Many models at once: expand folders and globs, audit each model with its own settings
(project budgets, per-model rules), in parallel when there are many, results in input order.

One model's error is recorded as its outcome, so the others' results are never hidden.
"""

from __future__ import annotations

import glob
import os
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from .boards import Board, load_boards, select
from .budgets import CONFIG_NAME, Budgets, ProjectConfig, Settings, apply_budgets, resolve
from .dtypes import get_dtype
from .errors import CnnauditError, ConfigError, UsageError
from .frontends import KERAS_SUFFIXES, SPEC_SUFFIXES
from .limits import DEFAULT, Limits
from .report import SCHEMA_VERSION, Report
from .verdict import Verdict

MODEL_SUFFIXES = (*SPEC_SUFFIXES, *KERAS_SUFFIXES, ".tflite")
PARALLEL_ABOVE = 8  # below this, starting worker processes costs more than it saves
GLOB_CHARS = frozenset("*?[")


def expand_models(args: Sequence[str]) -> tuple[list[str], bool]:
    """Model arguments -> model paths in a stable order, and whether this is a batch.

    A folder gives every model file under it (sorted, recursively; names starting with `.`
    are skipped); a glob that is not an existing file gives its sorted matches (the project
    file `cnnaudit.yaml` is never taken for a model); anything else (a file, `-`, a
    one-line spec) stays as it is. A batch is several arguments, a folder or a glob, so its
    output has the same shape however many models it finds. Duplicates are dropped.
    """
    out: list[str] = []
    batch = len(args) > 1
    for arg in args:
        path = Path(arg)
        if arg != "-" and _is_dir(path):
            batch = True
            found = sorted(
                p for p in path.rglob("*")
                if _is_model(p)
                and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                raise UsageError(f"{arg}: no model files in this folder",
                                 hint=f"models end in {', '.join(MODEL_SUFFIXES)}")
            out += [str(p) for p in found]
        elif GLOB_CHARS & set(arg) and not _is_file(path):
            batch = True
            matches = sorted(m for m in glob.glob(arg, recursive=True) if _is_model(Path(m)))
            if not matches:
                raise UsageError(f"{arg}: no model file matches this pattern")
            out += matches
        else:
            out.append(arg)
    return list(dict.fromkeys(out)), batch


def _is_model(path: Path) -> bool:
    """A model file by its suffix; the project file is never one."""
    return path.suffix.lower() in MODEL_SUFFIXES and path.name != CONFIG_NAME and path.is_file()


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


class Job(NamedTuple):
    """Everything one audit needs; plain data, so it crosses to a worker process."""

    model: str
    boards: tuple[Board, ...]
    dtype: str
    budgets: Budgets
    overrides: Mapping[str, tuple[int, ...]]
    limits: Limits


class Outcome(NamedTuple):
    """One model's result: a report, or the one-line error that stopped it (`internal` when
    it is a bug in cnnaudit, with the traceback in `detail`)."""

    model: str
    report: Report | None = None
    error: str | None = None
    internal: bool = False
    detail: str = ""


class Batch(NamedTuple):
    outcomes: tuple[Outcome, ...]
    is_batch: bool = True

    @property
    def reports(self) -> tuple[Report, ...]:
        return tuple(o.report for o in self.outcomes if o.report is not None)

    @property
    def errors(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.report is None)

    @property
    def verdict(self) -> Verdict:
        """The worst board verdict over the models that could be audited."""
        return Verdict.worst([r.verdict for r in self.reports])

    @property
    def exit_code(self) -> int:
        """3 a bug, 2 a model could not be audited, 1 a board fails, 0 all pass."""
        if any(o.internal for o in self.errors):
            return 3
        if self.errors:
            return 2
        return max((r.exit_code for r in self.reports), default=0)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of several models (`kind: batch` in the schema)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "batch",
            "verdict": self.verdict.value,
            "exit_code": self.exit_code,
            "models": [o.model for o in self.outcomes],
            "reports": [r.to_dict() for r in self.reports],
            "errors": [{"model": o.model, "message": o.error or "", "internal": o.internal}
                       for o in self.errors],
        }


def run_job(job: Job) -> Outcome:
    """Audit one model; never raises, so one bad model cannot stop the others."""
    from .api import audit

    try:
        report = audit(job.model, list(job.boards), dtype=job.dtype, overrides=job.overrides,
                       limits=job.limits)
        return Outcome(job.model, report=apply_budgets(report, job.budgets))
    except CnnauditError as exc:
        return Outcome(job.model, error=str(exc))
    except Exception as exc:  # a bug: report it with this model, keep the others
        return Outcome(job.model, error=f"{type(exc).__name__}: {exc}", internal=True,
                       detail=traceback.format_exc())


def plan_jobs(
    models: Sequence[str],
    *,
    cli: Settings,
    config: ProjectConfig | None,
    boards_dirs: Sequence[str | Path] = (),
    overrides: Mapping[str, tuple[int, ...]] | None = None,
    limits: Limits = DEFAULT,
) -> list[Job]:
    """One job per model with its resolved settings. Board ids and dtypes are checked here,
    once, so a typo is one usage error rather than the same error for every model."""
    dirs = [*(config.boards_dirs if config else ()), *boards_dirs]
    chosen = [resolve(config, model, cli).boards for model in models]
    ids = None if any(b is None for b in chosen) else [i for b in chosen for i in b or ()]
    known = load_boards(dirs, ids)
    jobs = []
    for model in models:
        settings = resolve(config, model, cli)
        try:
            boards = select(known, list(settings.boards) if settings.boards is not None
                            else None)
        except UsageError as exc:
            if cli.boards is not None or config is None:
                raise
            raise ConfigError(exc.message, file=str(config.path), hint=exc.hint) from None
        dtype = get_dtype(settings.dtype or "int8").name
        jobs.append(Job(model, tuple(boards), dtype, settings.budgets, dict(overrides or {}),
                        limits))
    return jobs


def run_jobs(jobs: Sequence[Job], workers: int | None = None) -> list[Outcome]:
    """Outcomes in the jobs' order; a process pool when there are more than PARALLEL_ABOVE
    jobs (and more than one CPU), else in this process."""
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    if len(jobs) <= PARALLEL_ABOVE or workers < 2 or any(j.model == "-" for j in jobs):
        return [run_job(j) for j in jobs]
    from concurrent.futures import ProcessPoolExecutor  # multiprocessing: only when used

    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run_job, jobs, chunksize=max(1, len(jobs) // (4 * workers))))
