"""An audit imports nothing heavy (issue 10): no deep-learning framework on any path, and
no h5py on any: a .keras or .h5 file's HDF5 is read by cnnaudit's own bounded reader
(`cnnaudit/frontends/hdf5.py`), in process. A .tflite file is read by cnnaudit's own
flatbuffer reader: no `tflite` package, no `flatbuffers` package, no numpy.

Each check runs in a fresh interpreter: it audits one model through the Python API and
then through the command line (`cnnaudit check MODEL -b nano33 -f json`), and lists the
modules that appeared in sys.modules since start-up. These assert what cannot flake: module
names, never timings (benchmarks/run.py measures those).

The .keras, .h5 and .tflite fixtures are tiny models built with TensorFlow, so those tests
are marked slow; without TensorFlow they skip, unless CNNAUDIT_REQUIRE_ORACLES is set (CI),
where they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

FRAMEWORKS = ("tensorflow", "keras", "tf_keras", "torch", "jax")
PARSERS = ("h5py", "tflite", "flatbuffers")

SPEC = """\
name: tiny
input: [16, 16, 1]
layers:
  - conv2d: {filters: 4, kernel: 3, activation: relu}
  - max_pool2d: 2
  - flatten
  - dense: {units: 3, activation: softmax}
"""
ONE_LINER = "16x16x1 conv4k3:relu maxpool2 flatten dense3:softmax"

# Audit MODEL with the API, then with the CLI, in this fresh process; print the top-level
# names of every module imported since start-up (before cnnaudit was imported).
PROBE = """\
import json, sys
before = set(sys.modules)
model = sys.argv[1]
import cnnaudit
report = cnnaudit.audit(model, ["nano33"])
sys.argv = ["cnnaudit", "check", model, "--board", "nano33", "--format", "json"]
from cnnaudit.cli import main
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code
new = sorted({m.split(".")[0] for m in set(sys.modules) - before})
print("\\nPROBE " + json.dumps({"params": report.model.params, "exit": code, "new": new}))
"""


def probe(model: str | Path, cache: Path | None = None) -> dict[str, Any]:
    env = {**os.environ, **({"CNNAUDIT_CACHE_DIR": str(cache)} if cache else {})}
    proc = subprocess.run([sys.executable, "-c", PROBE, str(model)], capture_output=True,
                          text=True, check=False, timeout=300, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("PROBE ")]
    assert proc.returncode == 0 and lines, proc.stderr[-2000:]
    result = json.loads(lines[-1][len("PROBE "):])
    # the CLI ran to its verdict (0 pass, 1 fail), not into a usage or internal error
    assert result["exit"] in (0, 1), proc.stdout[-2000:] + proc.stderr[-2000:]
    return result


def heavy(result: dict[str, Any], names: tuple[str, ...]) -> list[str]:
    return [m for m in result["new"] if m in names]


def test_probe_sees_imports() -> None:
    """The probe itself works: the modules an audit does need show up in its list."""
    result = probe(ONE_LINER)
    assert "cnnaudit" in result["new"]
    assert "typer" in result["new"]  # the CLI ran in the same process


def test_yaml_spec_imports_no_framework_and_no_model_parser(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(SPEC)
    result = probe(spec)
    assert result["params"] == (3 * 3 * 1 + 1) * 4 + (7 * 7 * 4 + 1) * 3
    assert heavy(result, FRAMEWORKS + PARSERS) == []


def test_one_liner_imports_no_framework_and_no_model_parser() -> None:
    result = probe(ONE_LINER)
    assert result["params"] == (3 * 3 * 1 + 1) * 4 + (7 * 7 * 4 + 1) * 3
    assert heavy(result, FRAMEWORKS + PARSERS) == []


def test_one_liner_needs_no_yaml_once_boards_are_cached(tmp_path: Path) -> None:
    """A one-line spec (and a spec dict) is read without PyYAML: it is imported for YAML
    text only (frontends/yaml_text.py), and the board files come from their JSON copies."""
    probe(ONE_LINER, cache=tmp_path)
    again = probe(ONE_LINER, cache=tmp_path)
    assert heavy(again, ("yaml", "rich")) == []


# --------------------------------------------------------------- files built with TensorFlow


def _tensorflow() -> tuple[Any, Any]:
    try:
        import keras
        import tensorflow as tf
    except ImportError as exc:  # pragma: no cover - CI has TensorFlow
        if os.environ.get("CNNAUDIT_REQUIRE_ORACLES", "") not in ("", "0"):
            pytest.fail(f"CNNAUDIT_REQUIRE_ORACLES is set but TensorFlow is missing: {exc}",
                        pytrace=False)
        pytest.skip("TensorFlow is not installed")
    return keras, tf


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny CNN saved as .keras, .h5 and (converted, float32) .tflite."""
    keras, tf = _tensorflow()
    out = tmp_path_factory.mktemp("import_fixtures")
    L = keras.layers
    model = keras.Sequential([keras.Input((16, 16, 1), batch_size=1),
                              L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(2),
                              L.Flatten(), L.Dense(3, activation="softmax")])
    files = {"keras": out / "tiny.keras", "h5": out / "tiny.h5", "tflite": out / "tiny.tflite"}
    model.save(files["keras"])
    model.save(files["h5"])
    files["tflite"].write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return files


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["keras", "h5", "tflite"])
def test_model_files_import_no_framework(model_files: dict[str, Path], kind: str) -> None:
    result = probe(model_files[kind])
    assert result["params"] > 0
    assert heavy(result, FRAMEWORKS) == []
    assert heavy(result, PARSERS) == []  # no h5py for .keras and .h5 either
    if kind == "tflite":
        assert heavy(result, ("numpy",)) == []


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["keras", "h5", "tflite"])
def test_model_files_need_no_yaml_and_no_rich_once_boards_are_cached(
        model_files: dict[str, Path], kind: str, tmp_path: Path) -> None:
    """A model file needs YAML only for the board profile and the kernel families: the
    first run parses them and keeps JSON copies (cnnaudit/datafile.py), later runs import
    no PyYAML. A JSON report on stdout never imports rich."""
    first = probe(model_files[kind], cache=tmp_path)
    assert "yaml" in first["new"]
    again = probe(model_files[kind], cache=tmp_path)
    assert again["params"] == first["params"]
    assert heavy(again, ("yaml", "rich")) == []


@pytest.mark.slow
def test_keras_and_h5_files_start_no_hdf5_child(
        model_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A .keras file's architecture is all in config.json, and an .h5 file's config and
    weight shapes are read by cnnaudit's own HDF5 reader: the child process that reads HDF5
    with h5py runs only for a valid file using an HDF5 feature that reader does not read
    (tests/test_hdf5.py covers that fallback)."""
    import cnnaudit
    from cnnaudit.frontends import keras_file

    calls: list[object] = []
    real = keras_file._hdf5_in_child
    monkeypatch.setattr(keras_file, "_hdf5_in_child",
                        lambda *args: calls.append(args[0][0]) or real(*args))
    report = cnnaudit.audit(model_files["keras"], [])
    assert report.model.params == (3 * 3 * 1 + 1) * 4 + (7 * 7 * 4 + 1) * 3
    assert calls == []
    report = cnnaudit.audit(model_files["h5"], [])
    assert report.model.params == (3 * 3 * 1 + 1) * 4 + (7 * 7 * 4 + 1) * 3
    assert calls == []
