"""The command line: exit codes, formats, one-line errors, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import EXAMPLES
from typer.testing import CliRunner

from cnnaudit.cli import app
from cnnaudit.schema import load_schema

runner = CliRunner()
FASHION = str(EXAMPLES / "fashion_mnist_cnn.yaml")


def run(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "160", "NO_COLOR": "1"})


def test_check_prints_the_table_and_passes_on_nano33():
    result = run("check", FASHION, "--board", "nano33")
    assert result.exit_code == 0, result.output
    assert "243,786" in result.stdout
    assert "5,056,000" in result.stdout
    assert "nano33" in result.stdout and "PASS" in result.stdout
    assert "FLOPs = 2 x MACs" in result.stdout


def test_float32_fashion_fails_on_wio_terminal_with_a_reason():
    result = run("check", FASHION, "-b", "wio-terminal", "--dtype", "float32")
    assert result.exit_code == 1
    assert "FAIL" in result.stdout
    assert "flash" in result.stdout


def test_json_contract():
    result = run("check", FASHION, "--board", "nano33,esp32", "--format", "json")
    assert result.exit_code in (0, 1)
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, load_schema())
    assert doc["schema_version"] == 1
    for key in ("name", "source", "format", "dtype", "params", "trainable_params", "macs",
                "weights_bytes", "flash_bytes", "arena_bytes", "input_shapes", "output_shapes"):
        assert key in doc["model"]
    assert doc["model"]["params"] == 243_786
    assert doc["model"]["input_shapes"] == [[28, 28, 1]]
    for layer in doc["layers"]:
        assert {"name", "type", "output_shape", "params", "macs", "activation_bytes",
                "weights_bytes"} <= set(layer)
    assert [b["id"] for b in doc["boards"]] == ["nano33", "esp32"]
    for board in doc["boards"]:
        assert {"id", "name", "verdict", "ram_bytes", "ram_budget_bytes", "flash_bytes",
                "flash_budget_bytes", "reasons"} <= set(board)
    assert doc["verdict"] in ("PASS", "WARN", "FAIL")
    worst = {"PASS": 0, "WARN": 1, "FAIL": 2}
    assert worst[doc["verdict"]] == max(worst[b["verdict"]] for b in doc["boards"])
    assert result.exit_code == (1 if doc["verdict"] == "FAIL" else 0)


def test_layers_command_lists_every_layer():
    result = run("layers", FASHION)
    assert result.exit_code == 0
    for name in ("conv2d", "max_pool2d_1", "flatten", "dense_1", "13x13x64"):
        assert name in result.stdout


def test_boards_command():
    result = run("boards")
    assert result.exit_code == 0
    assert "nano33" in result.stdout and "teensy41" in result.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["check", "missing.yaml"], "no such file"),
        (["check", FASHION, "--board", "nano34"], "did you mean 'nano33'"),
        (["check", FASHION, "--dtype", "int4"], "unknown dtype"),
        (["check", FASHION, "--format", "xml"], "unknown format"),
        (["check", "model.onnx"], "no such file"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, needle):
    result = run(*args)
    assert result.exit_code == 2
    assert needle in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_spec_error_names_file_and_line(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("input: [28, 28, 1]\nlayers:\n  - conv2d: {filters: 8, kernel: 3}\n"
                    "  - maxpool2d: 2\n  - conv3d: 4\n")
    result = run("check", str(path))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {path}:5: unknown layer 'conv3d'; did you mean 'conv2d'?")


def test_no_command_shows_help_and_exit_codes():
    result = run("--help")
    assert result.exit_code == 0
    assert "Exit codes" in result.stdout and "internal error" in result.stdout


def test_installed_console_script_runs_as_a_process():
    result = subprocess.run([sys.executable, "-m", "cnnaudit", "check", FASHION, "-b",
                             "nano33", "-f", "json"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["model"]["params"] == 243_786


def test_a_run_builds_only_the_command_it_invokes():
    """main() hands Typer only the invoked command (the others' parameters cost a cold
    start about 25 ms); anything else gets the whole app."""
    from cnnaudit.cli import _invoked_only

    def names(typer_app) -> list[str]:
        return ([c.callback.__name__ for c in typer_app.registered_commands]
                + [g.name for g in typer_app.registered_groups])

    assert names(_invoked_only(["check", "m.yaml", "-b", "nano33"])) == ["check"]
    assert names(_invoked_only(["calc", "dense", "--in", "3"])) == ["calc"]
    for args in ([], ["--help"], ["--debug", "check", "m.yaml"], ["chek"]):
        assert _invoked_only(args) is app
    assert len(app.registered_commands) > 5  # the global app itself is left whole


@pytest.mark.parametrize("args, code, needles", [
    (["check", "--help"], 0, ["--board", "--format", "Exit codes"]),
    (["--help"], 0, ["check", "diff", "suggest", "calc"]),
    (["chek", "x.yaml"], 2, ["No such command 'chek'", "check"]),
    (["calc", "dense", "--in", "10", "--out", "2"], 0, ["params 22"]),
    (["--max-layers", "3", "check", FASHION], 2, ["error:", "3"]),
])
def test_the_entry_point_as_a_process(args: list[str], code: int, needles: list[str]):
    result = subprocess.run([sys.executable, "-m", "cnnaudit", *args], capture_output=True,
                            text=True, check=False)
    assert result.returncode == code, result.stderr
    for needle in needles:
        assert needle in result.stdout + result.stderr


def test_yaml_audit_imports_no_heavy_module():
    code = ("import sys, cnnaudit; cnnaudit.audit(sys.argv[1], ['nano33']); "
            "heavy = [m for m in ('tensorflow', 'keras', 'h5py', 'tflite', 'torch') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code, FASHION], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_memory_timeline_marks_the_peak():
    result = run("memory", str(EXAMPLES / "cifar10_gap.yaml"))
    assert result.exit_code == 0
    peak_rows = [line for line in result.stdout.splitlines() if "◀ peak" in line]
    # Peak: conv2d_1 reads conv2d's 32x32x16 output and writes its own: 2 x 16 KiB live.
    assert len(peak_rows) == 1 and "conv2d_1" in peak_rows[0] and "32.0 KiB" in peak_rows[0]
    assert "live there: conv2d 16.0 KiB, conv2d_1 16.0 KiB" in result.stdout


def test_json_memory_map_is_consistent():
    doc = json.loads(run("check", FASHION, "-b", "nano33", "-f", "json").stdout)
    jsonschema.validate(doc, load_schema())
    buffers = doc["memory"]["buffers"]
    live = [step["live_bytes"] for step in doc["memory"]["timeline"]]
    # the device graph: dropout vanishes, so one step fewer than Keras layers
    assert [s["type"] for s in doc["memory"]["timeline"]] == [
        "input", "CONV_2D", "MAX_POOL_2D", "CONV_2D", "MAX_POOL_2D", "RESHAPE",
        "FULLY_CONNECTED", "FULLY_CONNECTED", "SOFTMAX"]
    for step, total in enumerate(live):
        assert total == sum(b["size"] for b in buffers if b["first"] <= step <= b["last"])
    top = max(b["offset"] + -(-b["size"] // 16) * 16 for b in buffers)
    assert top == doc["model"]["activations_bytes"]
