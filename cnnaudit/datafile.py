"""Read a small YAML data file (a board profile, the kernel families) through a JSON copy
kept in the user's cache folder.

Importing PyYAML costs a cold check about 30 ms (it compiles its resolvers' regular
expressions at import), and a .keras, .h5 or .tflite check needs YAML only for these
files. The copy is used only when it holds the file's exact text, so an edit is never
missed; it is JSON, so reading it never runs anything; data that JSON would change (dates,
keys that are not strings, NaN) is never copied; and a folder that cannot be written just
means no copy. The folder is $CNNAUDIT_CACHE_DIR, else $XDG_CACHE_HOME/cnnaudit, else
~/.cache/cnnaudit (as pip and pre-commit keep theirs).
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Any

FORMAT = 1  # bump when the copy's layout changes


class YamlProblem(Exception):
    """The file is not valid YAML: what PyYAML says, and the 1-based line when it knows."""

    def __init__(self, problem: str, line: int | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line


def cache_dir() -> Path:
    explicit = os.environ.get("CNNAUDIT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cnnaudit"


def read_yaml(path: Path) -> Any:
    """The file's data, as libyaml's safe loader gives it. OSError and UnicodeDecodeError
    pass through; invalid YAML raises YamlProblem."""
    text = path.read_text(encoding="utf-8")
    name = str(path.resolve())
    copy = cache_dir() / f"yaml-{FORMAT}-{zlib.crc32(name.encode()):08x}.json"
    try:
        kept = json.loads(copy.read_text(encoding="utf-8"))
        if kept["path"] == name and kept["text"] == text:
            return kept["data"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    data = _parse(text)
    _keep(copy, {"path": name, "text": text, "data": data})
    return data


def _parse(text: str) -> Any:
    import yaml

    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise YamlProblem(str(getattr(exc, "problem", None) or exc),
                          mark.line + 1 if mark else None) from None


def _keep(copy: Path, record: dict[str, Any]) -> None:
    from .atomic import write_atomic
    from .errors import CnnauditError

    try:
        dumped = json.dumps(record, ensure_ascii=False, allow_nan=False)
        if json.loads(dumped)["data"] != record["data"]:
            return
        copy.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(copy, dumped)
    except (TypeError, ValueError, OSError, CnnauditError):
        pass
