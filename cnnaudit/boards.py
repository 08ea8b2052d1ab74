"""Board profiles: one YAML file per board, every number with its source.

Built-in profiles ship in `configs/boards/`; users add their own with `--boards-dir`.
Profiles are validated on load. Callers that audit many models (a search loop) load them
once with `load_boards()` and pass the Board objects to `audit()`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BoardError, UsageError

KIB = 1024
REQUIRED = ("id", "name", "mcu", "core", "clock_mhz", "sram_kib", "flash_kib",
            "ram_reserved_kib", "flash_reserved_kib")
NUMERIC = ("clock_mhz", "sram_kib", "flash_kib", "ram_reserved_kib", "flash_reserved_kib",
           "arena_max_kib")  # board facts: each needs a source
OPTIONAL = ("arena_max_kib", "arena_margin_pct", "fpu", "dsp", "vector", "sources", "notes",
            "latency")
DEFAULT_ARENA_MARGIN_PCT = 10.0  # boards.md 3.2: "for the tool, add a 10-15 % margin"


@dataclass(frozen=True)
class Board:
    id: str
    name: str
    mcu: str
    core: str
    clock_mhz: float
    sram_kib: float
    flash_kib: float
    ram_reserved_kib: float
    flash_reserved_kib: float
    arena_max_kib: float | None = None
    arena_margin_pct: float = DEFAULT_ARENA_MARGIN_PCT  # slack for kTensorArenaSize
    fpu: str = "none"
    dsp: bool = False
    vector: str = "none"
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    notes: str = ""
    path: str = ""
    # kernel family (configs/latency.yaml) per dtype, e.g. {"int8": "cmsis-nn-m4"}
    latency: tuple[tuple[str, str], ...] = ()

    def kernels(self, dtype: str) -> str | None:
        """The kernel family this board runs a model of `dtype` with (float16 computes in
        float32), or None when the profile names none."""
        families = dict(self.latency)
        return families.get(dtype) or (families.get("float32") if dtype == "float16" else None)

    @property
    def ram_budget_bytes(self) -> int:
        return int(self.sram_kib * KIB)

    @property
    def flash_budget_bytes(self) -> int:
        return int(self.flash_kib * KIB)

    @property
    def ram_reserved_bytes(self) -> int:
        return int(self.ram_reserved_kib * KIB)

    @property
    def flash_reserved_bytes(self) -> int:
        return int(self.flash_reserved_kib * KIB)

    @property
    def arena_max_bytes(self) -> int | None:
        return None if self.arena_max_kib is None else int(self.arena_max_kib * KIB)


def builtin_dir() -> Path:
    """configs/boards inside the installed package, or at the repository root."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "configs" / "boards", here.parent / "configs" / "boards"):
        if candidate.is_dir():
            return candidate
    return here / "configs" / "boards"


def _parse(path: Path) -> Board:
    from .datafile import YamlProblem, read_yaml

    try:
        data = read_yaml(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise BoardError(f"cannot read board profile: {exc}", file=str(path)) from None
    except YamlProblem as exc:
        raise BoardError(f"invalid YAML: {exc.problem}", file=str(path),
                         line=exc.line) from None
    if not isinstance(data, dict):
        raise BoardError("a board profile is a mapping of fields", file=str(path))
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise BoardError(f"missing field(s): {', '.join(missing)}", file=str(path),
                         hint=f"a profile needs {', '.join(REQUIRED)}")
    unknown = sorted(set(data) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise BoardError(f"unknown field {unknown[0]!r}", file=str(path))
    for key in (*NUMERIC, "arena_margin_pct"):
        value = data.get(key)
        if value is None and key in ("arena_max_kib", "arena_margin_pct"):
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise BoardError(f"{key} must be a non-negative number, got {value!r}",
                             file=str(path))
    if str(data["id"]) != path.stem:
        raise BoardError(f"id {data['id']!r} differs from the file name {path.stem!r}",
                         file=str(path))
    kwargs: dict[str, Any] = {k: data[k] for k in REQUIRED}
    for key in ("arena_max_kib", "arena_margin_pct", "fpu", "dsp", "vector", "notes"):
        if key in data:
            kwargs[key] = data[key]
    kwargs["sources"] = dict(data.get("sources") or {})
    kwargs["latency"] = _latency(data.get("latency"), path)
    kwargs["id"] = str(kwargs["id"])
    return Board(path=str(path), **kwargs)


def _latency(value: Any, path: Path) -> tuple[tuple[str, str], ...]:
    """`latency: {int8: cmsis-nn-m4, float32: float-m4}`: each family must exist."""
    if value is None:
        return ()
    from .passes.latency import load_families

    if not isinstance(value, dict):
        raise BoardError("latency must map a dtype to a kernel family", file=str(path),
                         hint="e.g. latency: {int8: cmsis-nn-m4, float32: float-m4}")
    known = load_families()
    for dtype, family in value.items():
        if dtype not in ("int8", "float16", "float32"):
            raise BoardError(f"latency: unknown dtype {dtype!r}", file=str(path))
        if family not in known:
            close = difflib.get_close_matches(str(family), list(known), n=1)
            raise BoardError(f"latency: unknown kernel family {family!r}", file=str(path),
                             hint=f"did you mean {close[0]!r}?" if close else
                             "see configs/latency.yaml")
    return tuple((str(k), str(v)) for k, v in value.items())


_PARSED: dict[tuple[str, int, int], Board] = {}


def _parse_once(path: Path) -> Board:
    """A profile is parsed again only when its file changes (an API caller passing board
    ids to every audit() call would otherwise re-read 17 files each time)."""
    try:
        st = path.stat()
    except OSError:
        return _parse(path)
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _PARSED:
        _PARSED[key] = _parse(path)
    return _PARSED[key]


def _load_dirs(dirs: tuple[str, ...]) -> dict[str, Board]:
    boards: dict[str, Board] = {}
    for d in dirs:
        directory = Path(d)
        if not directory.is_dir():
            raise UsageError(f"boards directory {d} does not exist")
        for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml")):
            board = _parse_once(path)
            boards[board.id] = board  # a user's profile replaces a built-in one of that id
    return boards


def load_boards(extra_dirs: Iterable[str | Path] = (),
                ids: Iterable[str] | None = None) -> dict[str, Board]:
    """All known boards by id: built-in profiles, then each extra directory in order.

    With `ids` (as a user writes them, `a,b` allowed), only those profiles are read when
    every one is found by its file name (a profile's id is its file name): a cold
    `check --board nano33` then parses one file, not every profile.
    """
    dirs = (str(builtin_dir()), *(str(Path(d)) for d in extra_dirs))
    if ids is not None:
        wanted = [i.strip() for raw in ids for i in raw.split(",") if i.strip()]
        found = _load_named(dirs, wanted)
        if found is not None:
            return found
    return _load_dirs(dirs)


def _load_named(dirs: tuple[str, ...], wanted: list[str]) -> dict[str, Board] | None:
    """The wanted profiles, later folders winning; None when one is missing (the caller
    then reads every profile, so the error can name the closest id)."""
    boards: dict[str, Board] = {}
    for d in dirs:
        directory = Path(d)
        if not directory.is_dir():
            return None
        for board_id in wanted:
            if "/" in board_id or board_id.startswith("."):
                return None
            for suffix in (".yaml", ".yml"):
                path = directory / f"{board_id}{suffix}"
                if path.is_file():
                    boards[board_id] = _parse_once(path)
                    break
    return boards if all(b in boards for b in wanted) else None


def select(boards: dict[str, Board], ids: Sequence[str] | None) -> list[Board]:
    """The boards named by `ids` (all when None), or a usage error naming the closest id."""
    if ids is None:
        return list(boards.values())
    chosen = []
    for raw in ids:
        for board_id in (s.strip() for s in raw.split(",")):
            if not board_id:
                continue
            if board_id not in boards:
                close = difflib.get_close_matches(board_id, list(boards), n=1)
                hint = (f"did you mean {close[0]!r}?" if close
                        else "run `cnnaudit boards` to list them")
                raise UsageError(f"unknown board {board_id!r}", hint=hint)
            if boards[board_id] not in chosen:
                chosen.append(boards[board_id])
    return chosen
