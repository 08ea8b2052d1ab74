"""`cnnaudit calc`: the lab's layer arithmetic, with the working shown."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cnnaudit import audit, calc
from cnnaudit.cli import app
from cnnaudit.errors import UsageError

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, ["calc", *args], env={"COLUMNS": "160", "NO_COLOR": "1"})


def result_of(*args: str) -> dict:
    out = run(*args, "--format", "json")
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)["result"]


# -- the lab's numbers ------------------------------------------------------------------
def test_28_input_3x3_valid_conv_gives_26_with_the_working():
    out = run("conv", "--input", "28", "--kernel", "3")
    assert out.exit_code == 0, out.output
    assert "floor((in - k) / s) + 1" in out.stdout
    assert "floor((28 - 3) / 1) + 1 = 26" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "=> output 26x26"


def test_26_input_pool_2_gives_13():
    out = run("pool", "--input", "26", "--pool", "2")
    assert out.exit_code == 0, out.output
    assert "floor((26 - 2) / 2) + 1 = 13" in out.stdout
    assert result_of("pool", "--input", "26", "--pool", "2")["output"] == [13, 13]


def test_conv_params_64_filters_on_1_channel_is_640():
    out = run("conv", "--kernel", "3", "--filters", "64", "--channels", "1")
    assert out.exit_code == 0, out.output
    assert "(k*k*channels + 1)*filters = (3*3*1 + 1)*64 = 640" in out.stdout
    assert result_of("conv", "-k", "3", "--filters", "64", "-c", "1")["params"] == 640


def test_conv_params_32_filters_on_rgb_is_896():
    assert result_of("conv", "-k", "3", "--filters", "32", "-c", "3")["params"] == 896


def test_conv_with_input_and_filters_gives_shape_params_and_macs():
    result = result_of("conv", "-i", "28", "-k", "3", "--filters", "64", "-c", "1")
    # the Fashion-MNIST CNN's first layer: 26*26 positions x 9 taps x 64 filters
    assert result == {"output": [26, 26, 64], "params": 640, "macs": 26 * 26 * 9 * 64}


def test_dense_1600_to_128():
    out = run("dense", "--in", "1600", "--out", "128")
    assert out.exit_code == 0, out.output
    assert "(1600 + 1)*128 = 204,928" in out.stdout
    assert result_of("dense", "--in", "1600", "--out", "128") == {
        "output": [128], "params": 204_928, "macs": 204_800}
    assert result_of("dense", "--in", "128", "--out", "10", "--no-bias")["params"] == 1280


# -- padding, stride, dilation, non-square -----------------------------------------------
@pytest.mark.parametrize(
    ("args", "output"),
    [
        (["-i", "28", "-k", "3", "-p", "same"], [28, 28]),
        (["-i", "28", "-k", "3", "-s", "2", "-p", "same"], [14, 14]),
        (["-i", "27", "-k", "3", "-s", "2", "-p", "same"], [14, 14]),
        (["-i", "28", "-k", "3", "-s", "2"], [13, 13]),
        (["-i", "28", "-k", "3", "-p", "1"], [28, 28]),
        # the lab's "224x224 image, 7x7 conv, stride 2" with 3 pixels of padding
        (["-i", "224", "-k", "7", "-s", "2", "-p", "3"], [112, 112]),
        (["-i", "28", "-k", "3", "-d", "2"], [24, 24]),
        (["-i", "28x32", "-k", "3x5"], [26, 28]),
        (["-i", "28X32", "-k", "3", "-s", "1x2"], [26, 15]),
        (["-i", "100", "-k", "5", "--dims", "1"], [96]),
    ],
)
def test_conv_output_size(args, output):
    assert result_of("conv", *args)["output"] == output


def test_non_square_conv_shows_each_axis_and_params():
    out = run("conv", "-i", "28x32", "-k", "3x5", "--filters", "8", "-c", "3")
    assert out.exit_code == 0, out.output
    assert "output height" in out.stdout and "output width" in out.stdout
    assert "(kh*kw*channels + 1)*filters = (3*5*3 + 1)*8 = 368" in out.stdout


def test_no_bias_and_1d_params():
    assert result_of("conv", "-k", "3", "--filters", "64", "-c", "1",
                     "--no-bias")["params"] == 576
    assert result_of("conv", "-k", "5", "--filters", "8", "-c", "2",
                     "--dims", "1")["params"] == (5 * 2 + 1) * 8


def test_pool_stride_and_same_padding():
    assert result_of("pool", "-i", "13", "--pool", "3", "-s", "2")["output"] == [6, 6]
    assert result_of("pool", "-i", "13", "--pool", "2", "-p", "same")["output"] == [7, 7]
    assert "stride defaults to the pool size" in run("pool", "-i", "26").stdout


@pytest.mark.parametrize(
    ("text", "args"),
    [
        ("28x28x1 conv8k3", ["-i", "28", "-k", "3"]),
        ("28x28x1 conv8k5s2", ["-i", "28", "-k", "5", "-s", "2"]),
        ("28x28x1 conv8k3s2same", ["-i", "28", "-k", "3", "-s", "2", "-p", "same"]),
        ("30x30x1 conv8k3d3", ["-i", "30", "-k", "3", "-d", "3"]),
        ("28x28x1 pad2 conv8k5s2", ["-i", "28", "-k", "5", "-s", "2", "-p", "2"]),
        ("28x28x1 pad1 conv8k3x5", ["-i", "28", "-k", "3x5", "-p", "1"]),
    ],
)
def test_calc_agrees_with_the_audit(text, args):
    """calc's arithmetic and the op's shape rule are separate code; they must agree."""
    spatial = list(audit(text, boards=[]).layers[-1].output_shape[:-1])
    assert result_of("conv", *args)["output"] == spatial


# -- errors and the arena note -----------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["conv", "-i", "2", "-k", "3"], "kernel 3 is larger than input 2"),
        (["conv", "-i", "4", "-k", "3", "-d", "2"], "3 (dilated to 5) is larger than input 4"),
        (["conv", "-i", "2", "-k", "7", "-p", "1"], "padded by 1"),
        (["conv", "-i", "0", "-k", "3"], "--input must be >= 1"),
        (["conv", "-i", "28", "-k", "-3"], "--kernel must be >= 1"),
        (["conv", "-i", "28", "-k", "3", "-s", "0"], "--stride must be >= 1"),
        (["conv", "-i", "28", "-k", "3x3x3"], "3 axes"),
        (["conv", "-i", "28", "-k", "three"], "not a size"),
        (["conv", "-i", "28", "-k", "3", "-p", "full"], "--padding 'full'"),
        (["conv", "-i", "28", "-k", "3", "-p", "-1"], "--padding must be >= 0"),
        (["conv", "-k", "3", "--filters", "0", "-c", "1"], "--filters must be >= 1"),
        (["conv", "-k", "3", "--filters", "8"], "needs --channels"),
        (["conv", "-k", "3"], "nothing to calculate"),
        (["conv", "-i", "28x28", "-k", "3", "--dims", "1"], "--dims 1"),
        (["conv", "-i", "28", "-k", "3", "--dims", "3"], "--dims must be 1 or 2"),
        (["conv", "-i", "28", "-k", "3", "--format", "xml"], "unknown format"),
        (["pool", "-i", "1", "--pool", "2"], "pool 2 is larger than input 1"),
        (["pool", "-i", "26", "--pool", "0"], "--pool must be >= 1"),
        (["dense", "--in", "0", "--out", "10"], "--in must be >= 1"),
        (["dense", "--in", "10", "--out", "-2"], "--out must be >= 1"),
    ],
)
def test_calc_errors_exit_2_with_one_line(args, needle):
    out = run(*args)
    assert out.exit_code == 2, out.output
    assert out.stderr.startswith("error: ")
    assert len(out.stderr.strip().splitlines()) == 1
    assert needle in out.stderr, out.stderr
    assert "Traceback" not in out.output + out.stderr


def test_arena_explains_and_points_to_check():
    out = run("arena")
    assert out.exit_code == 0
    assert "no rule of thumb" in out.stdout
    assert "cnnaudit check" in out.stdout


def test_json_has_the_working():
    out = run("conv", "-i", "28", "-k", "3", "--format", "json")
    doc = json.loads(out.stdout)
    assert doc["calc"] == "conv"
    assert doc["steps"][0]["substituted"] == "floor((28 - 3) / 1) + 1"
    assert doc["steps"][0]["value"] == 26


def test_python_api_raises_usage_error():
    assert calc.dense(n_in=1600, n_out=128).result["params"] == 204_928
    with pytest.raises(UsageError):
        calc.conv(input="3", kernel="5")
