"""Frontends turn a model source into the graph IR. Each imports its parser lazily."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..ir import Graph


def load(source: str | Path | dict[str, Any], *, name: str | None = None) -> Graph:
    """Pick the frontend by what `source` is (a dict spec, or a file by its suffix)."""
    if isinstance(source, dict):
        from .yaml_spec import graph_from_spec

        return graph_from_spec(source, file=name)
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml", ".json"):
        from .yaml_spec import load_spec_file

        return load_spec_file(path)
    if not path.exists():
        raise UsageError(f"no such file: {path}")
    raise UsageError(
        f"{path}: cannot audit a {suffix or 'suffix-less'} file yet",
        hint="give a YAML or JSON architecture spec (.yaml, .yml, .json)",
    )
