"""Each layer's shape, params and MACs rules, checked against hand-worked numbers."""

from __future__ import annotations

import pytest
from conftest import EXAMPLES

from cnnaudit import audit


def one(layer: dict, shape: list[int]):
    """Audit a one-layer model and return that layer's report."""
    report = audit({"input": shape, "layers": [layer]}, boards=[])
    return report.layers[-1]


@pytest.mark.parametrize(
    ("layer", "shape", "out", "params", "macs"),
    [
        # (3*3*3 + 1) * 32 = 896 (the lab's question 1); 30*30*32*27 MACs
        ({"conv2d": {"filters": 32, "kernel": 3}}, [32, 32, 3], (30, 30, 32), 896, 777600),
        # same padding, stride 2: ceil(28/2) = 14
        ({"conv2d": {"filters": 8, "kernel": 3, "strides": 2, "padding": "same"}},
         [28, 28, 1], (14, 14, 8), 80, 14 * 14 * 8 * 9),
        # non-square kernel, no bias: 3*5*4*6 = 360; out (10-3+1, 12-5+1)
        ({"conv2d": {"filters": 6, "kernel": [3, 5], "use_bias": False}},
         [10, 12, 4], (8, 8, 6), 360, 8 * 8 * 6 * 60),
        # dilation 2: effective kernel 5 -> 16-5+1 = 12
        ({"conv2d": {"filters": 4, "kernel": 3, "dilation_rate": 2}},
         [16, 16, 2], (12, 12, 4), 3 * 3 * 2 * 4 + 4, 12 * 12 * 4 * 18),
        # groups 4: kernel 3x3x(8/4)x16 = 288 + 16
        ({"conv2d": {"filters": 16, "kernel": 3, "groups": 4, "padding": "same"}},
         [8, 8, 8], (8, 8, 16), 304, 8 * 8 * 16 * 18),
        # depthwise with multiplier 2: 3*3*8*2 + 16 = 160
        ({"depthwise_conv2d": {"kernel": 3, "depth_multiplier": 2}},
         [10, 10, 8], (8, 8, 16), 160, 8 * 8 * 16 * 9),
        # separable: dw 3*3*8 = 72, pw 8*16 = 128, bias 16 -> 216
        ({"separable_conv2d": {"filters": 16, "kernel": 3, "padding": "same"}},
         [10, 10, 8], (10, 10, 16), 216, 100 * 8 * 9 + 100 * 8 * 16),
        # transposed, stride 2 same: 7 -> 14; params 3*3*16*32 + 16
        ({"conv2d_transpose": {"filters": 16, "kernel": 3, "strides": 2, "padding": "same"}},
         [7, 7, 32], (14, 14, 16), 4624, 7 * 7 * 32 * 9 * 16),
        # transposed valid: 7*2 + max(3-2, 0) = 15
        ({"conv2d_transpose": {"filters": 1, "kernel": 3, "strides": 2}},
         [7, 7, 1], (15, 15, 1), 10, 49 * 9),
        # transposed, kernel smaller than stride: 7*2 + 0 = 14
        ({"conv2d_transpose": {"filters": 2, "kernel": 1, "strides": 2}},
         [7, 7, 3], (14, 14, 2), 8, 49 * 3 * 2),
        # conv1d causal keeps length/stride; 5*6*16 + 16
        ({"conv1d": {"filters": 16, "kernel": 5, "padding": "causal", "strides": 2}},
         [128, 6], (64, 16), 496, 64 * 16 * 30),
        ({"dense": 128}, [1600], (128,), 204928, 204800),
        # dense on rank 3 acts on the last axis
        ({"dense": {"units": 4, "use_bias": False}}, [5, 6, 3], (5, 6, 4), 12, 30 * 12),
        ({"max_pool2d": 2}, [26, 26, 64], (13, 13, 64), 0, 0),
        ({"max_pool2d": 2}, [11, 11, 64], (5, 5, 64), 0, 0),
        ({"avg_pool2d": {"pool": 3, "strides": 2, "padding": "same"}}, [9, 9, 4], (5, 5, 4), 0, 0),
        ({"max_pool1d": {"pool_size": 4}}, [50, 3], (12, 3), 0, 0),
        ({"global_avg_pool2d": None}, [7, 7, 64], (64,), 0, 0),
        ({"global_max_pool2d": {"keepdims": True}}, [7, 7, 64], (1, 1, 64), 0, 0),
        ({"global_avg_pool1d": None}, [20, 5], (5,), 0, 0),
        ({"flatten": None}, [5, 5, 64], (1600,), 0, 0),
        ({"reshape": [-1, 8]}, [4, 4, 4], (8, 8), 0, 0),
        ({"batch_norm": None}, [8, 8, 16], (8, 8, 16), 64, 0),
        ({"batch_norm": {"center": False}}, [8, 8, 16], (8, 8, 16), 48, 0),
        ({"layer_norm": None}, [10, 32], (10, 32), 64, 0),
        ({"dropout": 0.5}, [10], (10,), 0, 0),
        ({"activation": "hard_swish"}, [4, 4, 2], (4, 4, 2), 0, 0),
        ({"relu6": None}, [4, 4, 2], (4, 4, 2), 0, 0),
        ({"zero_padding2d": {"padding": [[1, 2], [0, 3]]}}, [5, 5, 1], (8, 8, 1), 0, 0),
        ({"zero_padding2d": 1}, [5, 5, 1], (7, 7, 1), 0, 0),
        ({"cropping2d": {"cropping": [[1, 0], [2, 2]]}}, [8, 8, 3], (7, 4, 3), 0, 0),
        ({"upsampling2d": {"size": [2, 3]}}, [4, 4, 3], (8, 12, 3), 0, 0),
        ({"rescaling": {"scale": 0.00392, "offset": 0}}, [4, 4, 3], (4, 4, 3), 0, 0),
    ],
)
def test_layer_rules(layer, shape, out, params, macs):
    result = one(layer, shape)
    assert result.output_shape == out
    assert result.params == params
    assert result.macs == macs


def test_batch_norm_moving_stats_are_not_trainable():
    report = audit({"input": [4, 4, 8], "layers": ["batch_norm"]}, boards=[])
    assert report.model.params == 32
    assert report.model.trainable_params == 16


def test_trainable_false_freezes_a_layer():
    report = audit({"input": [10], "layers": [{"dense": {"units": 5, "trainable": False}},
                                              {"dense": 2}]}, boards=[])
    assert report.model.params == 55 + 12
    assert report.model.trainable_params == 12


def test_merges_broadcast_and_concatenate():
    spec = {
        "input": {"name": "x", "shape": [8, 8, 16]},
        "layers": [
            {"global_avg_pool2d": {"name": "squeeze", "keepdims": True}},
            {"conv2d": {"name": "excite", "filters": 16, "kernel": 1,
                        "activation": "hard_sigmoid"}},
            {"multiply": {"name": "scaled", "inputs": ["x", "excite"]}},
            {"subtract": {"name": "diff", "inputs": ["x", "scaled"]}},
            {"concatenate": {"name": "cat", "inputs": ["x", "diff", "scaled"]}},
            {"concatenate": {"name": "rows", "inputs": ["cat", "cat"], "axis": 1}},
        ],
    }
    layers = {layer.name: layer for layer in audit(spec, boards=[]).layers}
    assert layers["squeeze"].output_shape == (1, 1, 16)
    assert layers["excite"].params == 16 * 16 + 16
    assert layers["scaled"].output_shape == (8, 8, 16)
    assert layers["cat"].output_shape == (8, 8, 48)
    assert layers["rows"].output_shape == (16, 8, 48)


def test_fashion_mnist_lab_numbers():
    """LAB07's Fashion-MNIST CNN: the lab's own shapes, params and MACs."""
    report = audit(EXAMPLES / "fashion_mnist_cnn.yaml", boards=[])
    shapes = [layer.output_shape for layer in report.layers if layer.type != "input"]
    assert shapes[:5] == [(26, 26, 64), (13, 13, 64), (11, 11, 64), (5, 5, 64), (1600,)]
    assert report.model.params == 243_786
    # conv1 26*26*64*9 + conv2 11*11*64*576 + dense 1600*128 + 128*10
    assert report.model.macs == 389_376 + 4_460_544 + 204_800 + 1_280 == 5_056_000


def test_efficient_edge_cnn_has_52810_params_not_7818():
    report = audit(EXAMPLES / "efficient_edge_cnn.yaml", boards=[])
    assert report.model.params == 80 + 1_168 + 51_232 + 330 == 52_810


def test_cifar_example_meets_the_lab_exercise():
    report = audit(EXAMPLES / "cifar10_gap.yaml", boards=[])
    convs = [layer for layer in report.layers if layer.type == "conv2d"]
    assert len(convs) >= 3
    assert report.model.params < 50_000
    assert any(layer.type == "global_avg_pool2d" for layer in report.layers)


def test_weight_bytes_per_dtype():
    # conv 3x3x3x32 kernel (864) + 32 biases
    spec = {"input": [32, 32, 3], "layers": [{"conv2d": {"filters": 32, "kernel": 3}}]}
    by = audit(spec, boards=[]).model.weights_bytes_by_dtype
    assert by["float32"] == 896 * 4
    assert by["float16"] == 896 * 2
    # int8: 864 kernel bytes + 32 int32 biases + a (float32 scale, int64 zero point) per
    # output channel for the kernel and again for the bias
    assert by["int8"] == 864 + 32 * 4 + 2 * 32 * 12
