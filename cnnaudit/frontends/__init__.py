"""Frontends turn a model source into the graph IR. Each imports its parser lazily, so a
YAML audit never pays for h5py or a flatbuffer parser."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..ir import Graph, Shape
from ..limits import DEFAULT, Limits

SPEC_SUFFIXES = (".yaml", ".yml", ".json")
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


def load(
    source: str | Path | dict[str, Any],
    *,
    name: str | None = None,
    overrides: Mapping[str, Shape] | None = None,
    limits: Limits = DEFAULT,
    entry_keys: Sequence[bytes] | None = None,
) -> Graph:
    """Pick the frontend: a dict spec, `-` (a spec on stdin), a file by its suffix, or a
    one-line spec (any string that is not an existing file and has a space or an `x`).

    `overrides` give output shapes for layers whose code cannot be read (Keras Lambda);
    `entry_keys` those of a dict spec's layer entries, when the caller made them
    (`spec_key`)."""
    if isinstance(source, dict):
        from .yaml_spec import graph_from_spec

        return graph_from_spec(source, file=name, limits=limits, entry_keys=entry_keys)
    if isinstance(source, str) and source == "-":
        from .yaml_spec import graph_from_spec
        from .yaml_text import parse_text

        text = sys.stdin.read(int(limits.max_file_mb * 1024 * 1024) + 1)
        if len(text) > limits.max_file_mb * 1024 * 1024:
            raise UsageError(f"<stdin>: more than {limits.max_file_mb:g} MB",
                             hint="raise the limit with --max-file-mb")
        return graph_from_spec(parse_text(text, "<stdin>", limits), file="<stdin>",
                               default_name="stdin", limits=limits)
    path = Path(source)
    suffix = path.suffix.lower()
    try:
        exists = path.is_file()
    except OSError:  # e.g. a one-line spec longer than a file name may be
        exists = False
    if isinstance(source, str) and not exists and _looks_like_oneliner(source):
        from .oneliner import graph_from_oneliner

        return graph_from_oneliner(source)
    if exists and path.stat().st_size > limits.max_file_mb * 1024 * 1024:
        raise UsageError(f"{path}: {path.stat().st_size / 2**20:,.0f} MB is more than the "
                         f"limit of {limits.max_file_mb:g} MB",
                         hint="raise it with --max-file-mb")
    if suffix in SPEC_SUFFIXES:
        from .yaml_spec import load_spec_file

        return load_spec_file(path, limits)
    if suffix == ".tflite" and exists:
        from .tflite_file import load_tflite_file

        return load_tflite_file(path, limits)
    if suffix in KERAS_SUFFIXES and exists:
        from .keras_file import load_keras_file

        return load_keras_file(path, overrides, limits)
    if not exists:
        raise UsageError(f"no such file: {path}")
    raise UsageError(
        f"{path}: cannot audit a {suffix or 'suffix-less'} file",
        hint="give a spec (.yaml, .yml, .json), a Keras model (.keras, .h5), a .tflite "
        "file or a one-line "
        "spec such as \"28x28x1 conv8k3 flatten dense10\"",
    )


def spec_key(doc: dict[str, Any]) -> tuple[bytes, tuple[bytes, ...]] | None:
    """The spec frontend's exact key of a dict spec (yaml_spec.spec_key)."""
    from .yaml_spec import spec_key

    return spec_key(doc)


def _looks_like_oneliner(text: str) -> bool:
    first = text.strip().split(" ", 1)[0]
    return " " in text.strip() or ("x" in first and first.replace("x", "").isdigit())
