"""One-line specs (`cnnaudit check "28x28x1 conv8k3 ..."`) and specs on stdin (`-`)."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import EXAMPLES
from typer.testing import CliRunner

from cnnaudit import audit
from cnnaudit.cli import app
from cnnaudit.errors import ShapeError, SpecError
from cnnaudit.frontends import load
from cnnaudit.frontends.oneliner import graph_from_oneliner, spec_from_oneliner

runner = CliRunner()
ENV = {"COLUMNS": "160", "NO_COLOR": "1"}
FASHION_YAML = EXAMPLES / "fashion_mnist_cnn.yaml"
FASHION = ("28x28x1 conv64k3:relu maxpool2 conv64k3:relu maxpool2 flatten dense128:relu "
           "dropout0.5 dense10:softmax")


def run(*args: str, stdin: str | None = None):
    return runner.invoke(app, list(args), input=stdin, env=ENV)


def layer(text: str, index: int = 1):
    """The node a one-liner builds for its `index`-th layer (0 = the input)."""
    return graph_from_oneliner(text).nodes[index]


# -- the lab's numbers ------------------------------------------------------------------
def test_fashion_mnist_cnn_one_liner_has_the_labs_params_and_macs():
    result = run("check", FASHION, "--board", "nano33", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["model"]["params"] == 243_786
    assert doc["model"]["macs"] == 5_056_000
    assert doc["model"]["source"] == "<one-liner>"
    assert doc["boards"][0]["id"] == "nano33"


def test_the_labs_conv_and_pool_sizes_through_a_one_liner():
    report = audit("28x28x1 conv64k3 maxpool2", boards=[])
    assert [x.output_shape for x in report.layers] == [(28, 28, 1), (26, 26, 64), (13, 13, 64)]
    assert report.layers[1].params == 640
    assert audit("32x32x3 conv32k3", boards=[]).model.params == 896


def test_layers_command_reads_a_one_liner():
    result = run("layers", "28x28x1 conv64k3 maxpool2")
    assert result.exit_code == 0, result.output
    assert "26x26x64" in result.stdout and "13x13x64" in result.stdout


# -- one IR path: a one-liner and its YAML give the same audit ---------------------------
def test_one_liner_builds_the_same_graph_as_its_yaml():
    ours = graph_from_oneliner(FASHION)
    theirs = load(str(FASHION_YAML))
    assert [(n.name, n.op, dict(n.attrs), n.inputs) for n in ours.nodes] == [
        (n.name, n.op, dict(n.attrs), n.inputs) for n in theirs.nodes]
    assert ours.name == "one_liner" and ours.source == "<one-liner>"


def test_one_liner_and_yaml_json_reports_are_identical_but_for_source_and_name():
    a = json.loads(run("check", FASHION, "-b", "nano33,esp32", "-f", "json").stdout)
    b = json.loads(run("check", str(FASHION_YAML), "-b", "nano33,esp32", "-f", "json").stdout)
    assert (a["model"]["source"], b["model"]["source"]) == ("<one-liner>", str(FASHION_YAML))
    assert (a["model"]["name"], b["model"]["name"]) == ("one_liner", "fashion_mnist_cnn")
    # `line` is where a layer is written in its source: YAML lines here, none in a one-liner.
    assert [x["line"] for x in a["layers"]] == [None] * len(a["layers"])
    assert all(x["line"] for x in b["layers"])
    _drop_name_dependent_flash(a, b)
    for doc in (a, b):
        del doc["model"]["source"], doc["model"]["name"]
        for x in doc["layers"]:
            del x["line"]
    assert a == b


def _drop_name_dependent_flash(a: dict, b: dict) -> None:
    """The converter writes the model's name into every tensor name, so the flash estimate
    (and what depends on it) grows a little with a longer name; drop those after checking
    the difference is only that."""
    longer = len(b["model"]["name"]) - len(a["model"]["name"])
    extra = b["model"]["flash_bytes"] - a["model"]["flash_bytes"]
    assert 0 < extra <= (longer + 4) * 4 * len(a["layers"])
    for doc in (a, b):
        del doc["model"]["flash_bytes"], doc["model"]["flash_breakdown"]["overhead"]
        for board in doc["boards"]:
            del board["flash_bytes"], board["headroom_pct"]


def test_one_liner_and_yaml_dict_reports_differ_only_in_source_and_name():
    spec = yaml.safe_load(FASHION_YAML.read_text())  # a plain dict: no line numbers
    a, b = audit(FASHION, ["nano33"]).to_dict(), audit(spec, ["nano33"]).to_dict()
    _drop_name_dependent_flash(a, b)
    diff = {k for k in a["model"] if a["model"][k] != b["model"][k]}
    assert diff == {"source", "name"}
    del a["model"], b["model"]
    assert a == b


# -- the grammar ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "op", "attrs"),
    [
        ("28x28x1 conv8k3", "conv2d",
         {"filters": 8, "kernel": (3, 3), "strides": (1, 1), "padding": "valid",
          "activation": "linear", "use_bias": True}),
        ("28x28x1 conv8k3x5s2same:relu6", "conv2d",
         {"kernel": (3, 5), "strides": (2, 2), "padding": "same", "activation": "relu6"}),
        ("28x28x1 Conv2D8K3", "conv2d", {"filters": 8, "kernel": (3, 3)}),
        ("28x28x1 conv8k3d2g1nobias", "conv2d", {"dilation": (2, 2), "use_bias": False}),
        ("128x6 conv16k5d2causal", "conv1d",
         {"filters": 16, "kernel": (5,), "dilation": (2,), "padding": "causal"}),
        ("128x6 conv1d16k5", "conv1d", {"filters": 16, "kernel": (5,)}),
        ("28x28x1 dw3m2", "depthwise_conv2d", {"kernel": (3, 3), "depth_multiplier": 2}),
        ("28x28x1 dwconvk3s2same:relu6", "depthwise_conv2d",
         {"kernel": (3, 3), "strides": (2, 2), "padding": "same", "activation": "relu6"}),
        ("128x6 dw5", "depthwise_conv1d", {"kernel": (5,)}),
        ("28x28x1 sep16k3same", "separable_conv2d", {"filters": 16, "padding": "same"}),
        ("128x6 sepconv16k3", "separable_conv1d", {"filters": 16, "kernel": (3,)}),
        ("28x28x1 deconv8k3s2same", "conv2d_transpose",
         {"filters": 8, "strides": (2, 2), "padding": "same"}),
        ("28x28x1 convT8k3s2", "conv2d_transpose", {"filters": 8, "strides": (2, 2)}),
        ("128x6 deconv4k3", "conv1d_transpose", {"filters": 4}),
        ("28x28x1 maxpool2", "max_pool2d", {"pool": (2, 2), "strides": (2, 2)}),
        ("28x28x1 avgpool3s2same", "avg_pool2d",
         {"pool": (3, 3), "strides": (2, 2), "padding": "same"}),
        ("28x28x1 maxpool", "max_pool2d", {"pool": (2, 2)}),
        ("128x6 maxpool4", "max_pool1d", {"pool": (4,)}),
        ("128x6 avgpool1d2", "avg_pool1d", {"pool": (2,)}),
        ("28x28x1 gap", "global_avg_pool2d", {}),
        ("28x28x1 gmp", "global_max_pool2d", {}),
        ("128x6 gap", "global_avg_pool1d", {}),
        ("28x28x1 flatten", "flatten", {}),
        ("784 dense10:softmax", "dense", {"units": 10, "activation": "softmax"}),
        ("784 fc10nobias", "dense", {"units": 10, "use_bias": False}),
        ("784 dropout0.25", "dropout", {"rate": 0.25}),
        ("784 dropout.1", "dropout", {"rate": 0.1}),
        ("28x28x1 bn", "batch_norm", {}),
        ("28x28x1 relu", "relu", {"activation": "relu"}),
        ("28x28x1 relu6", "relu6", {"activation": "relu6"}),
        ("28x28x1 gelu", "activation", {"activation": "gelu"}),
        ("28x28x1 upsample2", "upsampling2d", {"size": (2, 2)}),
        ("128x6 up3", "upsampling1d", {"size": (3,)}),
        ("28x28x1 pad1x2", "zero_padding2d", {"padding": ((1, 1), (2, 2))}),
        ("28x28x1 GlobalAveragePooling2D", "global_avg_pool2d", {}),
    ],
)
def test_token_maps_to_op_and_arguments(text, op, attrs):
    node = layer(text)
    assert node.op == op
    for key, value in attrs.items():
        assert node.attrs[key] == value, key


def test_rank_comes_from_the_input_unless_the_token_says():
    assert spec_from_oneliner("28x28x1 maxpool1d2")["layers"] == [{"max_pool1d": {"pool": 2}}]
    assert spec_from_oneliner("128x6 conv2d8k3")["layers"] == [
        {"conv2d": {"filters": 8, "kernel": 3}}]


@pytest.mark.parametrize(
    ("text", "shapes"),
    [
        ("28x28x1 conv8k3s2same", [(14, 14, 8)]),
        ("28x28x1 conv8k3x5", [(26, 24, 8)]),
        ("28x28x1 deconv4k3s2same", [(56, 56, 4)]),
        ("28x28x1 upsample2 pad1", [(56, 56, 1), (58, 58, 1)]),
        ("28x28x2 dw3m3 gap", [(26, 26, 6), (6,)]),
        ("100x3 conv8k5 maxpool2 flatten", [(96, 8), (48, 8), (384,)]),
        ("28x28x1, conv8k3, flatten", [(26, 26, 8), (5408,)]),
    ],
)
def test_one_liner_shapes(text, shapes):
    assert [x.output_shape for x in audit(text, boards=[]).layers[1:]] == shapes


def test_layer_names_are_kerass_automatic_names():
    graph = graph_from_oneliner("28x28x1 conv8k3 relu conv8k3 relu maxpool2 flatten dense10")
    assert [n.name for n in graph.nodes] == [
        "input", "conv2d", "relu", "conv2d_1", "relu_1", "max_pool2d", "flatten", "dense"]


# -- errors -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "needles"),
    [
        # a typo inside a token: named with its position, with the form it should take
        ("28x28x1 conv64k3 maxpool2 conv6kk3",
         ["token 4 'conv6kk3'", "kernel", "e.g. conv64k3s2same:relu"]),
        ("28x28x1 maxpol2", ["token 2 'maxpol2'", "unknown layer", "did you mean 'maxpool2'"]),
        ("28x28x1 convv8k3", ["token 2 'convv8k3'", "did you mean 'conv8k3'"]),
        ("28x28x1 conv8k3 gapp", ["token 3 'gapp'", "did you mean 'gap'"]),
        ("28x28x1 frobnicate", ["token 2 'frobnicate'", "unknown layer"]),
        ("28x28x1 conv8k3:relu7", ["token 2 'conv8k3:relu7'", "unknown activation 'relu7'",
                                   "did you mean"]),
        ("28x28x1 bn:relu", ["token 2 'bn:relu'", "no ':activation'"]),
        ("28x28x1 dense10k3", ["token 2 'dense10k3'", "takes no 'k'"]),
        ("28x28x1 conv8k3 flatten 10x10", ["token 4 '10x10'", "first token"]),
        ("28x28x1 conv8k3k5", ["token 2 'conv8k3k5'", "kernel given twice"]),
        ("28x28x1 dw3k5", ["token 2 'dw3k5'", "kernel given twice"]),
        # bad numbers
        ("28x28x1 conv0k3", ["token 2 'conv0k3'", "filters", ">= 1"]),
        ("28x28x1 conv8k0", ["token 2 'conv8k0'", "kernel"]),
        ("28x28x1 conv8", ["token 2 'conv8'", "missing", "kernel"]),
        ("784 dropout0.5.5", ["token 2 'dropout0.5.5'", "cannot read '.5'"]),
        ("28x0x1 flatten", ["token 1 '28x0x1'", ">= 1"]),
        ("28xx1 flatten", ["token 1 '28xx1'", "input shape"]),
        # no input shape
        ("conv8k3 flatten dense10", ["token 1 'conv8k3'", "starts with the input shape"]),
        ("28x28x1", ["no layers"]),
        # shape errors name the token too
        ("3x3x1 conv4k5", ["token 2 'conv4k5'", "kernel 5 larger than input 3"]),
        ("28x28x1 flatten conv8k3", ["token 3 'conv8k3'", "rank-3 input"]),
        ("5x5x1 conv4k3 maxpool2 maxpool2", ["token 4 'maxpool2'", "pool 2 larger than input 1"]),
    ],
)
def test_malformed_one_liner_exits_2_with_the_token_named(text, needles):
    result = run("check", text, "-b", "nano33")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: <one-liner>: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output + result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)


def test_errors_are_typed():
    with pytest.raises(SpecError) as spec_error:
        graph_from_oneliner("28x28x1 conv6kk3")
    assert spec_error.value.file == "<one-liner>"
    with pytest.raises(ShapeError):
        graph_from_oneliner("3x3x1 conv4k5")


# -- specs on stdin ---------------------------------------------------------------------
def test_yaml_spec_on_stdin():
    result = run("check", "-", "-b", "nano33", "-f", "json", stdin=FASHION_YAML.read_text())
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["model"]["source"] == "<stdin>"
    assert doc["model"]["name"] == "fashion_mnist_cnn"
    assert doc["model"]["params"] == 243_786


def test_json_spec_on_stdin():
    spec = {"input": [32, 32, 3], "layers": [
        {"conv2d": {"filters": 32, "kernel": 3}}, "global_avg_pool2d", {"dense": 10}]}
    result = run("check", "-", "-b", "nano33", "-f", "json", stdin=json.dumps(spec))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["model"]["source"] == "<stdin>"
    # (3*3*3 + 1)*32 conv + (32 + 1)*10 dense
    assert doc["model"]["params"] == 896 + 330
    assert doc["model"]["output_shapes"] == [[10]]


def test_layers_command_reads_stdin():
    result = run("layers", "-", stdin=FASHION_YAML.read_text())
    assert result.exit_code == 0, result.output
    assert "13x13x64" in result.stdout


def test_bad_spec_on_stdin_names_stdin_and_line():
    result = run("check", "-", stdin="input: [28, 28, 1]\nlayers:\n  - conv3d: 4\n")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: <stdin>:3: unknown layer 'conv3d'")
    assert "Traceback" not in result.output + result.stderr
