"""Project budgets: the limits a team sets on its models, beyond what a board can hold.

They live in `cnnaudit.yaml` or `[tool.cnnaudit]` in `pyproject.toml`, found by walking up
from the current folder, so a CI job and a developer's shell judge a model the same way.
Command-line flags override the file; a rule under `models:` overrides the file's defaults
for the model paths its glob matches. A broken budget makes the affected boards FAIL with
the budget named in the reason.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

from .boards import KIB
from .errors import ConfigError
from .report import Report
from .verdict import BoardResult, Verdict, kib

CONFIG_NAME = "cnnaudit.yaml"
PYPROJECT = "pyproject.toml"
MAX_CONFIG_BYTES = 1 << 20  # a project file is a few lines; refuse a hostile giant one

INT_BUDGETS = ("max_params", "max_macs")
FLOAT_BUDGETS = ("max_flash_kib", "max_ram_kib", "max_latency_ms", "min_fps",
                 "min_headroom_pct")
BOARD_BUDGETS = ("max_latency_ms", "min_fps", "min_headroom_pct")  # judged per board
SETTING_KEYS = ("boards", "dtype")
TOP_ONLY_KEYS = ("boards_dir", "models")
KNOWN_KEYS = (*SETTING_KEYS, *INT_BUDGETS, *FLOAT_BUDGETS, "per_board", *TOP_ONLY_KEYS)


class Budgets(NamedTuple):
    """Limits on one model; None = no limit. KiB are 1024 bytes.

    max_flash_kib bounds the model's own flash (the .tflite size) and max_ram_kib its
    tensor arena, not the board's totals: the board's reserves are judged by the board.
    """

    max_params: int | None = None
    max_macs: int | None = None
    max_flash_kib: float | None = None
    max_ram_kib: float | None = None
    max_latency_ms: float | None = None
    min_fps: float | None = None  # inferences per second: 1000 / latency
    min_headroom_pct: float | None = None
    # board id -> its own latency/fps/headroom targets, replacing the ones above there
    per_board: tuple[tuple[str, Budgets], ...] = ()

    def merged(self, over: Budgets) -> Budgets:
        """These budgets with every limit `over` sets replacing ours."""
        boards = dict(self.per_board)
        for board, budgets in over.per_board:
            boards[board] = boards[board].merged(budgets) if board in boards else budgets
        return self._replace(**{name: value for name, value in over._asdict().items()
                                if name != "per_board" and value is not None},
                             per_board=tuple(boards.items()))

    def for_board(self, board: str) -> Budgets:
        """The budgets that judge one board: its own targets over the general ones."""
        own = dict(self.per_board).get(board)
        return self if own is None else self.merged(own)

    def items(self) -> tuple[tuple[str, float], ...]:
        """The limits that are set, in declaration order; a board's own as `key@board`."""
        general = tuple((name, value) for name, value in self._asdict().items()
                        if name != "per_board" and value is not None)
        return general + tuple((f"{key}@{board}", value) for board, budgets in self.per_board
                               for key, value in budgets.items())


class Settings(NamedTuple):
    """What one model is audited with: boards (None = all), dtype (None = int8), budgets."""

    boards: tuple[str, ...] | None = None
    dtype: str | None = None
    budgets: Budgets = Budgets()

    def merged(self, over: Settings) -> Settings:
        return Settings(boards=over.boards if over.boards is not None else self.boards,
                        dtype=over.dtype or self.dtype,
                        budgets=self.budgets.merged(over.budgets))


class ModelRule(NamedTuple):
    """Settings for the models whose path matches `pattern` (relative to the config)."""

    pattern: str
    settings: Settings
    line: int | None = None

    def matches(self, relative: str) -> bool:
        """fnmatch on the path relative to the project folder (`*` also crosses `/`); a
        pattern without `/` matches the file name in any folder, as in .gitignore."""
        pattern = self.pattern.removeprefix("./")
        if fnmatch.fnmatchcase(relative, pattern):
            return True
        return "/" not in pattern and fnmatch.fnmatchcase(relative.rsplit("/", 1)[-1],
                                                          pattern)


class ProjectConfig(NamedTuple):
    """A loaded project file: defaults, per-model rules (later rules win) and board folders."""

    path: Path
    defaults: Settings = Settings()
    rules: tuple[ModelRule, ...] = ()
    boards_dirs: tuple[Path, ...] = ()

    @property
    def root(self) -> Path:
        return self.path.resolve().parent

    def for_model(self, model: str) -> Settings:
        """The defaults, then every rule matching `model`'s path, in file order."""
        settings = self.defaults
        relative = _relative(model, self.root)
        if relative is None:
            return settings
        for rule in self.rules:
            if rule.matches(relative):
                settings = settings.merged(rule.settings)
        return settings


def _relative(model: str, root: Path) -> str | None:
    """`model`'s path relative to `root` in POSIX form (as given when outside it); None for
    stdin and one-line specs, which no path rule can match."""
    path = Path(model)
    try:
        if model == "-" or not path.exists():
            return None
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
    except OSError:  # a one-line spec longer than a file name may be
        return None


def resolve(config: ProjectConfig | None, model: str, cli: Settings) -> Settings:
    """Precedence: command-line flags, then the rules matching the model, then the file's
    defaults."""
    base = config.for_model(model) if config is not None else Settings()
    return base.merged(cli)


# --- finding and reading the project file -------------------------------------------------


def find_config(start: Path) -> Path | None:
    """The nearest project file from `start` upwards: `cnnaudit.yaml`, else a pyproject.toml
    that has a [tool.cnnaudit] table (one without it is not a cnnaudit project file)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
        pyproject = folder / PYPROJECT
        if pyproject.is_file() and _has_tool_table(pyproject):
            return pyproject
    return None


def _has_tool_table(path: Path) -> bool:
    try:
        text = _read(path)
    except ConfigError:
        return False
    return re.search(r"^\s*\[\s*tool\s*\.\s*cnnaudit\s*[\].]", text, re.MULTILINE) is not None


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError("larger than 1 MB; a project file is a few lines", file=str(path))
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the project file: {exc}", file=str(path)) from None


def load_config(path: Path) -> ProjectConfig:
    """Read and validate a project file (YAML, or a .toml file's [tool.cnnaudit] table)."""
    text = _read(path)
    if path.suffix == ".toml":
        data, lines = _parse_toml(text, path)
    else:
        data, lines = _parse_yaml(text, path)
    return _build(data, lines, path)


Lines = Mapping[tuple[str, ...], int]  # key path -> 1-based line, where it could be found


def _parse_yaml(text: str, path: Path) -> tuple[dict[str, Any], Lines]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        node = yaml.compose(text, Loader=loader)
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"invalid YAML: {getattr(exc, 'problem', exc)}", file=str(path),
                          line=mark.line + 1 if mark else None) from None
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise ConfigError("a project file is a mapping of settings", file=str(path), line=1,
                          hint="e.g. `max_params: 200000`")
    lines: dict[tuple[str, ...], int] = {}

    def walk(n: Any, prefix: tuple[str, ...]) -> None:
        if isinstance(n, yaml.MappingNode) and len(prefix) < 3:
            for key, value in n.value:
                here = (*prefix, str(key.value))
                lines[here] = key.start_mark.line + 1
                walk(value, here)

    walk(node, ())
    return data, lines


def _parse_toml(text: str, path: Path) -> tuple[dict[str, Any], Lines]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise ConfigError(f"invalid TOML: {str(exc).split(' (at')[0]}", file=str(path),
                          line=int(found.group(1)) if found else None) from None
    table = doc.get("tool", {}).get("cnnaudit") if isinstance(doc.get("tool"), dict) else None
    if table is None:
        raise ConfigError("no [tool.cnnaudit] table", file=str(path),
                          hint="add one, or use a cnnaudit.yaml")
    if not isinstance(table, dict):
        raise ConfigError("tool.cnnaudit must be a table", file=str(path))
    return table, _toml_lines(text, table)


def _toml_lines(text: str, table: dict[str, Any]) -> Lines:
    """Where each key of [tool.cnnaudit] is written: TOML parsers keep no positions, so the
    key is looked up in the text (the first line naming it inside a tool.cnnaudit table)."""
    rows = text.splitlines()
    inside = [False] * len(rows)
    current = False
    for i, row in enumerate(rows):
        header = re.match(r"^\s*\[\[?\s*([^\]]+?)\s*\]", row)
        if header:
            current = re.sub(r"\s", "", header.group(1)).startswith("tool.cnnaudit")
        inside[i] = current

    def find(key: str, after: int = 0) -> int | None:
        token = re.compile(r"(^|[\s.{,\[])[\"']?" + re.escape(key) + r"[\"']?\s*(=|\]|\.)")
        for i in range(after, len(rows)):
            if inside[i] and token.search(rows[i]):
                return i + 1
        return None

    lines: dict[tuple[str, ...], int] = {}
    for key, value in table.items():
        at = find(str(key))
        if at is not None:
            lines[(str(key),)] = at
        if key == "models" and isinstance(value, dict):
            for pattern, rule in value.items():
                p_at = find(str(pattern), (at or 1) - 1)
                if p_at is not None:
                    lines[("models", str(pattern))] = p_at
                for sub in rule if isinstance(rule, dict) else ():
                    s_at = find(str(sub), (p_at or 1) - 1)
                    if s_at is not None:
                        lines[("models", str(pattern), str(sub))] = s_at
    return lines


def _build(data: Mapping[str, Any], lines: Lines, path: Path) -> ProjectConfig:
    def error(message: str, where: tuple[str, ...], hint: str | None = None) -> ConfigError:
        return ConfigError(message, file=str(path), line=lines.get(where), hint=hint)

    defaults = _settings(data, (), error, top=True)
    boards_dirs: list[Path] = []
    raw_dirs = data.get("boards_dir")
    if raw_dirs is not None:
        items = [raw_dirs] if isinstance(raw_dirs, str) else raw_dirs
        if not isinstance(items, list) or not all(isinstance(d, str) for d in items):
            raise error("boards_dir must be a folder or a list of folders", ("boards_dir",))
        boards_dirs = [path.resolve().parent / d for d in items]
    rules: list[ModelRule] = []
    models = data.get("models")
    if models is not None:
        if not isinstance(models, dict):
            raise error("models must map a path glob to settings", ("models",),
                        hint='e.g. models: {"models/kws*.yaml": {max_ram_kib: 64}}')
        for pattern, rule in models.items():
            where = ("models", str(pattern))
            if not isinstance(rule, dict):
                raise error(f"models: {pattern!r} must map to settings", where,
                            hint="e.g. {max_ram_kib: 64}")
            rules.append(ModelRule(str(pattern), _settings(rule, where, error, top=False),
                                   lines.get(where)))
    return ProjectConfig(path=path, defaults=defaults, rules=tuple(rules),
                         boards_dirs=tuple(boards_dirs))


ErrorAt = Callable[..., ConfigError]  # (message, key path, hint=None) -> error with file:line


def _settings(data: Mapping[str, Any], prefix: tuple[str, ...], error: ErrorAt,
              *, top: bool) -> Settings:
    allowed = KNOWN_KEYS if top else (*SETTING_KEYS, *INT_BUDGETS, *FLOAT_BUDGETS,
                                      "per_board")
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = (f"did you mean {close[0]!r}?" if close
                    else f"known keys: {', '.join(allowed)}")
            raise error(f"unknown key {key!r}", (*prefix, str(key)), hint=hint)
    limits: dict[str, Any] = {}
    for key in (*INT_BUDGETS, *FLOAT_BUDGETS):
        if key not in data:
            continue
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise error(f"{key} must be a non-negative number, got {value!r}", (*prefix, key))
        if key in INT_BUDGETS:
            if value != int(value):
                raise error(f"{key} must be a whole number, got {value!r}", (*prefix, key))
            value = int(value)
        limits[key] = value
    boards: tuple[str, ...] | None = None
    if "boards" in data:
        raw = data["boards"]
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, list) or not all(isinstance(b, str) for b in items):
            raise error("boards must be a list of board ids", (*prefix, "boards"),
                        hint="e.g. boards: [nano33, esp32]")
        boards = tuple(b.strip() for b in items if b.strip())
        if not boards:
            raise error("boards is empty", (*prefix, "boards"),
                        hint="name at least one board, or drop the key for all boards")
    dtype = data.get("dtype")
    if dtype is not None:
        from .dtypes import DTYPES

        if not isinstance(dtype, str) or dtype.lower() not in DTYPES:
            raise error(f"unknown dtype {dtype!r}", (*prefix, "dtype"),
                        hint=f"choose one of {', '.join(DTYPES)}")
        dtype = dtype.lower()
    per_board = _per_board(data.get("per_board"), (*prefix, "per_board"), error)
    return Settings(boards=boards, dtype=dtype, budgets=Budgets(**limits, per_board=per_board))


def _per_board(raw: Any, where: tuple[str, ...], error: ErrorAt
               ) -> tuple[tuple[str, Budgets], ...]:
    """`per_board: {nano33: {max_latency_ms: 200}}`: targets only a board can be judged on."""
    if raw is None:
        return ()
    hint = "e.g. per_board: {nano33: {max_latency_ms: 200, min_fps: 5}}"
    if not isinstance(raw, dict):
        raise error("per_board must map a board id to its targets", where, hint=hint)
    out = []
    for board, targets in raw.items():
        at = (*where, str(board))
        if not isinstance(targets, dict):
            raise error(f"per_board: {board!r} must map to targets", at, hint=hint)
        limits = {}
        for key, value in targets.items():
            if key not in BOARD_BUDGETS:
                raise error(f"per_board: {key!r} is not a per-board target", (*at, str(key)),
                            hint=f"per-board targets: {', '.join(BOARD_BUDGETS)}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise error(f"{key} must be a non-negative number, got {value!r}",
                            (*at, str(key)))
            limits[key] = float(value)
        out.append((str(board), Budgets(**limits)))
    return tuple(out)


# --- applying budgets to a report ---------------------------------------------------------


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"


def model_breaches(report: Report, budgets: Budgets) -> tuple[str, ...]:
    """The model-wide budgets the report breaks (they fail every board), one reason each."""
    m, b = report.model, budgets
    out: list[str] = []
    if b.max_params is not None and m.params > b.max_params:
        out.append(f"budget max_params: {m.params:,} > {b.max_params:,}")
    if b.max_macs is not None and m.macs > b.max_macs:
        out.append(f"budget max_macs: {m.macs:,} > {b.max_macs:,}")
    if b.max_flash_kib is not None and m.flash_bytes > b.max_flash_kib * KIB:
        out.append(f"budget max_flash_kib: {kib(m.flash_bytes)} > {_num(b.max_flash_kib)} KiB")
    if b.max_ram_kib is not None and m.arena_bytes > b.max_ram_kib * KIB:
        out.append(f"budget max_ram_kib: arena {kib(m.arena_bytes)} > "
                   f"{_num(b.max_ram_kib)} KiB")
    return tuple(out)


def board_breaches(result: BoardResult, budgets: Budgets) -> tuple[str, ...]:
    """The per-board budgets one board's result breaks. Latency is judged only when the
    result has an estimate."""
    out: list[str] = []
    budgets = budgets.for_board(result.board.id)
    if budgets.min_headroom_pct is not None and result.headroom_pct < budgets.min_headroom_pct:
        out.append(f"budget min_headroom_pct: {result.headroom_pct:.1f} % < "
                   f"{_num(budgets.min_headroom_pct)} %")
    latency = result.latency_ms
    if budgets.max_latency_ms is not None and latency is not None \
            and latency > budgets.max_latency_ms:
        out.append(f"budget max_latency_ms: {latency:,.1f} ms > "
                   f"{_num(budgets.max_latency_ms)} ms")
    if budgets.min_fps is not None and latency is not None and latency > 0 \
            and 1000 / latency < budgets.min_fps:
        out.append(f"budget min_fps: {1000 / latency:,.1f} fps < {_num(budgets.min_fps)} fps")
    return tuple(out)


def apply_budgets(report: Report, budgets: Budgets) -> Report:
    """A new report in which every board that breaks a budget FAILs, the budget named in its
    reasons; the budgets are recorded in the report. The input report is not changed."""
    model = model_breaches(report, budgets)
    boards = []
    for result in report.boards:
        broken = model + board_breaches(result, budgets)
        if broken:
            result = replace(result, verdict=Verdict.FAIL, reasons=(*result.reasons, *broken))
        boards.append(result)
    return replace(report, boards=tuple(boards), budgets=budgets.items())


def budgets_from_options(values: Mapping[str, float | None]) -> Budgets:
    """Budgets from command-line options (None = not given)."""
    known = set(Budgets._fields)
    return Budgets(**{k: (int(v) if k in INT_BUDGETS and v is not None else v)
                      for k, v in values.items() if k in known})
