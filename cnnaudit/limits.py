"""Resource limits: every one is checked before the work it guards, so a hostile file
costs milliseconds. Raise them with the CLI's global options or by passing `Limits`."""

from __future__ import annotations

from typing import NamedTuple


class Limits(NamedTuple):
    max_file_mb: float = 256.0  # any model file
    max_layers: int = 10_000  # layers of a spec or Keras model, operators of a .tflite
    max_yaml_nodes: int = 1_000_000  # YAML/JSON nodes in a spec
    max_yaml_aliases: int = 1_000  # YAML aliases (&a / *a): "billion laughs" needs many
    max_depth: int = 64  # nesting of YAML/JSON values
    max_nested_models: int = 32  # Keras models inside models
    max_zip_entries: int = 10_000  # members of a .keras archive
    max_config_mb: float = 64.0  # a Keras model config (JSON)
    max_inflate_ratio: float = 200.0  # a .keras member inflating more is a zip bomb
    max_inflated_mb: float = 4096.0  # all members of a .keras archive, as its directory says
    hdf5_seconds: float = 20.0  # HDF5 reads run in a child process stopped after this
    hdf5_memory_mb: float = 1024.0  # ... whose address space is capped at this


DEFAULT = Limits()
