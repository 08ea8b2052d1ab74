"""Keras as the oracle for shapes and parameter counts of YAML specs.

Each case is a hand-written pair: a Keras model built here (every layer named) and the
YAML spec that describes the same network with the same layer names. The spec is written
to a file and audited by path, so the YAML frontend is what is tested. Keras is the judge:
total and trainable parameters, and for every layer its output shape (batch omitted) and
``count_params()``. Nothing here computes an expected value with cnnaudit code.

CI sets CNNAUDIT_REQUIRE_ORACLES=1, so a missing Keras fails there instead of skipping.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

pytestmark = pytest.mark.slow

_REQUIRE = os.environ.get("CNNAUDIT_REQUIRE_ORACLES") == "1"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
try:
    import keras
except ImportError as exc:  # the test extra is not installed
    keras = None
    _KERAS_MISSING = f"keras cannot be imported ({exc}); pip install -e '.[test]'"
    L = None
else:
    _KERAS_MISSING = ""
    L = keras.layers


def _need_keras() -> None:
    """Skip without Keras locally; under CNNAUDIT_REQUIRE_ORACLES=1 (CI) fail instead."""
    if keras is None:
        if _REQUIRE:
            pytest.fail(f"CNNAUDIT_REQUIRE_ORACLES=1 but {_KERAS_MISSING}", pytrace=False)
        pytest.skip(_KERAS_MISSING)


def test_oracle_available_when_required() -> None:
    """With CNNAUDIT_REQUIRE_ORACLES=1 the Keras oracle can never be silently skipped."""
    if not _REQUIRE:
        pytest.skip("CNNAUDIT_REQUIRE_ORACLES is not set")
    assert keras is not None, f"CNNAUDIT_REQUIRE_ORACLES=1 but {_KERAS_MISSING}"


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], keras.Model]
    spec: str
    total_params: int | None = None  # a hand-checked total, asserted on top of Keras's


CASES: list[Case] = []


def case(spec: str, total_params: int | None = None):
    def deco(build: Callable[[], keras.Model]) -> Callable[[], keras.Model]:
        CASES.append(Case(build.__name__, build, spec, total_params))
        return build

    return deco


# ----------------------------------------------------------------------------------
# 1. The lab's Fashion-MNIST CNN in snake_case. The layers the lab leaves unnamed
#    (Flatten, Dropout) are bare / scalar-shorthand items here: Keras's automatic
#    names (flatten, dropout) are the names the report must use.
@case(
    """
name: fashion_mnist_cnn
input: [28, 28, 1]
layers:
  - conv2d: {name: conv1, filters: 64, kernel: 3, activation: relu}
  - max_pool2d: {name: pool1, pool: 2}
  - conv2d: {name: conv2, filters: 64, kernel: [3, 3], activation: relu}
  - max_pool2d: {name: pool2, pool: [2, 2]}
  - flatten
  - dense: {name: fc1, units: 128, activation: relu}
  - dropout: 0.5
  - dense: {name: output, units: 10, activation: softmax}
""",
    total_params=243_786,
)
def fashion_mnist_cnn():
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            L.Conv2D(64, (3, 3), activation="relu", name="conv1"),
            L.MaxPooling2D((2, 2), name="pool1"),
            L.Conv2D(64, (3, 3), activation="relu", name="conv2"),
            L.MaxPooling2D((2, 2), name="pool2"),
            L.Flatten(name="flatten"),
            L.Dense(128, activation="relu", name="fc1"),
            L.Dropout(0.5, name="dropout"),
            L.Dense(10, activation="softmax", name="output"),
        ],
        name="fashion_mnist_cnn",
    )


# 2. The lab's "efficient edge CNN" (the lab claims 7,818 params; it has 52,810).
#    Keras class names and Keras argument names.
@case(
    """
name: efficient_edge_cnn
input: [48, 48, 1]
layers:
  - Conv2D: {name: conv1, filters: 8, kernel_size: 3, activation: relu}
  - MaxPooling2D: {name: pool1, pool_size: 2}
  - Conv2D: {name: conv2, filters: 16, kernel_size: [3, 3], activation: relu}
  - MaxPooling2D: {name: pool2, pool_size: [2, 2], strides: 2}
  - Flatten: {name: flatten}
  - Dense: {name: fc1, units: 32, activation: relu}
  - Dense: {name: output, units: 10, activation: softmax}
""",
    total_params=52_810,
)
def efficient_edge_cnn():
    return keras.Sequential(
        [
            keras.Input((48, 48, 1)),
            L.Conv2D(8, 3, activation="relu", name="conv1"),
            L.MaxPooling2D(2, name="pool1"),
            L.Conv2D(16, (3, 3), activation="relu", name="conv2"),
            L.MaxPooling2D((2, 2), strides=2, name="pool2"),
            L.Flatten(name="flatten"),
            L.Dense(32, activation="relu", name="fc1"),
            L.Dense(10, activation="softmax", name="output"),
        ],
        name="efficient_edge_cnn",
    )


# 3. Convolution geometry: same/valid on odd sizes, strides 2, dilation, non-square
#    kernels and strides, no bias (both spellings), pooling with stride != pool.
@case(
    """
name: conv_geometry
input: [129, 113, 3]
layers:
  - conv2d: {name: c1, filters: 16, kernel: 3, stride: 2, padding: same}
  - conv2d: {name: c2, filters: 16, kernel: [3, 5], padding: valid, bias: false}
  - conv2d: {name: c3, filters: 24, kernel: 3, dilation: 2, padding: same, activation: relu}
  - conv2d: {name: c4, filters: 24, kernel_size: [5, 3], dilation_rate: [2, 1], use_bias: false}
  - max_pool2d: {name: p1, pool: 3, stride: 2}
  - conv2d: {name: c5, filters: 32, kernel: [1, 3], strides: [2, 1], padding: valid}
  - conv2d: {name: c6, filters: 32, kernel: 3, strides: 2, padding: valid}
  - avg_pool2d: {name: p2, pool: 2, padding: same}
  - max_pool2d: {name: p3, pool_size: [2, 3], strides: 1, padding: same}
  - avg_pool2d: {name: p4, pool: [2, 1], strides: [1, 2], padding: valid}
  - flatten: {name: flat}
  - dense: {name: head, units: 10, use_bias: false}
""",
)
def conv_geometry():
    return keras.Sequential(
        [
            keras.Input((129, 113, 3)),
            L.Conv2D(16, 3, strides=2, padding="same", name="c1"),
            L.Conv2D(16, (3, 5), padding="valid", use_bias=False, name="c2"),
            L.Conv2D(24, 3, dilation_rate=2, padding="same", activation="relu", name="c3"),
            L.Conv2D(24, (5, 3), dilation_rate=(2, 1), use_bias=False, name="c4"),
            L.MaxPooling2D(3, strides=2, name="p1"),
            L.Conv2D(32, (1, 3), strides=(2, 1), padding="valid", name="c5"),
            L.Conv2D(32, 3, strides=2, padding="valid", name="c6"),
            L.AveragePooling2D(2, padding="same", name="p2"),
            L.MaxPooling2D((2, 3), strides=1, padding="same", name="p3"),
            L.AveragePooling2D((2, 1), strides=(1, 2), padding="valid", name="p4"),
            L.Flatten(name="flat"),
            L.Dense(10, use_bias=False, name="head"),
        ],
        name="conv_geometry",
    )


# 4. Grouped, depthwise (depth_multiplier 2) and separable (depth_multiplier 2)
#    convolutions, Keras class names.
@case(
    """
name: grouped_depthwise
input: [32, 32, 16]
layers:
  - Conv2D: {name: g1, filters: 32, kernel_size: 3, groups: 4, padding: same}
  - DepthwiseConv2D: {name: dw1, kernel_size: 3, depth_multiplier: 2, strides: 2, padding: same}
  - SeparableConv2D: {name: sep1, filters: 48, kernel_size: 3, depth_multiplier: 2, use_bias: false}
  - DepthwiseConv2D: {name: dw2, kernel_size: [3, 5], dilation_rate: 2, use_bias: false}
  - Conv2D: {name: g2, filters: 16, kernel_size: 1, groups: 8, use_bias: false}
  - separable_conv2d: {name: sep2, filters: 24, kernel: [3, 1], stride: 2, padding: same}
  - GlobalAveragePooling2D: {name: gap}
  - Dense: {name: head, units: 5, activation: softmax}
""",
)
def grouped_depthwise():
    return keras.Sequential(
        [
            keras.Input((32, 32, 16)),
            L.Conv2D(32, 3, groups=4, padding="same", name="g1"),
            L.DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same", name="dw1"),
            L.SeparableConv2D(48, 3, depth_multiplier=2, use_bias=False, name="sep1"),
            L.DepthwiseConv2D((3, 5), dilation_rate=2, use_bias=False, name="dw2"),
            L.Conv2D(16, 1, groups=8, use_bias=False, name="g2"),
            L.SeparableConv2D(24, (3, 1), strides=2, padding="same", name="sep2"),
            L.GlobalAveragePooling2D(name="gap"),
            L.Dense(5, activation="softmax", name="head"),
        ],
        name="grouped_depthwise",
    )


# 5. Transposed convolutions: stride 2 valid and same, kernel smaller than stride,
#    non-square kernel and stride, no bias.
@case(
    """
name: transposed
input: [5, 7, 8]
layers:
  - Conv2DTranspose: {name: t1, filters: 16, kernel_size: 3, strides: 2, padding: valid}
  - Conv2DTranspose: {name: t2, filters: 8, kernel_size: 3, strides: 2, padding: same}
  - conv2d_transpose: {name: t3, filters: 4, kernel: 1, stride: 2, padding: valid}
  - conv2d_transpose: {name: t4, filters: 4, kernel: [2, 3], strides: [2, 1], padding: same,
                       bias: false}
  - conv2d_transpose: {name: t5, filters: 2, kernel: 2, stride: 3, padding: valid,
                       activation: sigmoid}
  - conv2d_transpose: {name: t6, filters: 2, kernel: 1, stride: 2, padding: same}
""",
)
def transposed():
    return keras.Sequential(
        [
            keras.Input((5, 7, 8)),
            L.Conv2DTranspose(16, 3, strides=2, padding="valid", name="t1"),
            L.Conv2DTranspose(8, 3, strides=2, padding="same", name="t2"),
            L.Conv2DTranspose(4, 1, strides=2, padding="valid", name="t3"),
            L.Conv2DTranspose(4, (2, 3), strides=(2, 1), padding="same", use_bias=False, name="t4"),
            L.Conv2DTranspose(2, 2, strides=3, padding="valid", activation="sigmoid", name="t5"),
            L.Conv2DTranspose(2, 1, strides=2, padding="same", name="t6"),
        ],
        name="transposed",
    )


# 6. 1-D: causal dilated convolutions (TCN-like), strided valid conv, 1-D pooling,
#    global average pooling; the input is declared as an `input` layer.
@case(
    """
name: tcn_1d
layers:
  - input: {name: signal, shape: [128, 12]}
  - conv1d: {name: c1, filters: 16, kernel: 3, padding: causal, dilation: 2, activation: relu}
  - conv1d: {name: c2, filters: 16, kernel: 3, padding: causal, dilation: 4, activation: relu}
  - max_pool1d: {name: p1, pool: 2}
  - conv1d: {name: c3, filters: 32, kernel: 5, stride: 2, padding: valid}
  - avg_pool1d: {name: p2, pool: 3, stride: 2, padding: same}
  - conv1d: {name: c4, filters: 32, kernel: 3, padding: same, bias: false}
  - global_avg_pool1d: {name: gap}
  - dense: {name: head, units: 4, activation: softmax}
""",
)
def tcn_1d():
    return keras.Sequential(
        [
            keras.Input((128, 12), name="signal"),
            L.Conv1D(16, 3, padding="causal", dilation_rate=2, activation="relu", name="c1"),
            L.Conv1D(16, 3, padding="causal", dilation_rate=4, activation="relu", name="c2"),
            L.MaxPooling1D(2, name="p1"),
            L.Conv1D(32, 5, strides=2, padding="valid", name="c3"),
            L.AveragePooling1D(3, strides=2, padding="same", name="p2"),
            L.Conv1D(32, 3, padding="same", use_bias=False, name="c4"),
            L.GlobalAveragePooling1D(name="gap"),
            L.Dense(4, activation="softmax", name="head"),
        ],
        name="tcn_1d",
    )


# 7. 1-D with Keras spellings: dilated same conv, strided pooling, global max pooling
#    with keepdims, then Dense on the rank-2 (1, C) result.
@case(
    """
name: keyword_spotting_1d
input: [49, 10]
layers:
  - Conv1D: {name: c1, filters: 8, kernel_size: 4, padding: same, dilation_rate: 2, use_bias: false}
  - MaxPooling1D: {name: p1, pool_size: 3, strides: 2, padding: valid}
  - Conv1D: {name: c2, filters: 12, kernel_size: 3, strides: 1, padding: causal}
  - AveragePooling1D: {name: p2, pool_size: 2}
  - global_max_pool1d: {name: gmp, keepdims: true}
  - Dense: {name: fc, units: 3}
  - Flatten: {name: flat}
""",
)
def keyword_spotting_1d():
    return keras.Sequential(
        [
            keras.Input((49, 10)),
            L.Conv1D(8, 4, padding="same", dilation_rate=2, use_bias=False, name="c1"),
            L.MaxPooling1D(3, strides=2, padding="valid", name="p1"),
            L.Conv1D(12, 3, strides=1, padding="causal", name="c2"),
            L.AveragePooling1D(2, name="p2"),
            L.GlobalMaxPooling1D(keepdims=True, name="gmp"),
            L.Dense(3, name="fc"),
            L.Flatten(name="flat"),
        ],
        name="keyword_spotting_1d",
    )


# 8. Normalisation: batch norm with center/scale off (non-trainable moving stats count
#    as params), layer norm with and without center.
@case(
    """
name: norms
input: [16, 16, 8]
layers:
  - conv2d: {name: c1, filters: 16, kernel: 3, padding: same, bias: false}
  - batch_norm: {name: bn1}
  - activation: {name: act1, activation: relu}
  - conv2d: {name: c2, filters: 16, kernel: 3, padding: same, use_bias: false}
  - batch_norm: {name: bn2, center: false}
  - BatchNormalization: {name: bn3, scale: false}
  - batch_norm: {name: bn4, center: false, scale: false}
  - layer_norm: {name: ln1}
  - LayerNormalization: {name: ln2, center: false}
  - global_max_pool2d: {name: gmp}
  - dense: {name: head, units: 10}
""",
)
def norms():
    return keras.Sequential(
        [
            keras.Input((16, 16, 8)),
            L.Conv2D(16, 3, padding="same", use_bias=False, name="c1"),
            L.BatchNormalization(name="bn1"),
            L.Activation("relu", name="act1"),
            L.Conv2D(16, 3, padding="same", use_bias=False, name="c2"),
            L.BatchNormalization(center=False, name="bn2"),
            L.BatchNormalization(scale=False, name="bn3"),
            L.BatchNormalization(center=False, scale=False, name="bn4"),
            L.LayerNormalization(name="ln1"),
            L.LayerNormalization(center=False, name="ln2"),
            L.GlobalMaxPooling2D(name="gmp"),
            L.Dense(10, name="head"),
        ],
        name="norms",
    )


# 9. Dense on rank-3 input (applies to the last axis), reshape with -1, layer norm on
#    a sequence, dropout.
@case(
    """
name: dense_sequence
input: [10, 20]
layers:
  - dense: {name: d1, units: 32, activation: relu}
  - layer_norm: {name: ln}
  - reshape: {name: r1, target_shape: [-1, 8]}
  - dense: {name: d2, units: 4, bias: false}
  - reshape: {name: r2, target_shape: [20, 2, 4]}
  - Dense: {name: d3, units: 6, activation: tanh}
  - Reshape: {name: r3, target_shape: [-1]}
  - dropout: {name: drop, rate: 0.2}
  - dense: {name: head, units: 5}
""",
)
def dense_sequence():
    return keras.Sequential(
        [
            keras.Input((10, 20)),
            L.Dense(32, activation="relu", name="d1"),
            L.LayerNormalization(name="ln"),
            L.Reshape((-1, 8), name="r1"),
            L.Dense(4, use_bias=False, name="d2"),
            L.Reshape((20, 2, 4), name="r2"),
            L.Dense(6, activation="tanh", name="d3"),
            L.Reshape((-1,), name="r3"),
            L.Dropout(0.2, name="drop"),
            L.Dense(5, name="head"),
        ],
        name="dense_sequence",
    )


# 10. ResNet-style residual blocks (graph form): identity add and a strided projection
#     shortcut.
@case(
    """
name: resnet_blocks
input: {name: image, shape: [32, 32, 3]}
layers:
  - conv2d: {name: stem, filters: 16, kernel: 3, padding: same, bias: false}
  - batch_norm: {name: stem_bn}
  - activation: {name: stem_relu, activation: relu}
  - conv2d: {name: b1_conv1, filters: 16, kernel: 3, padding: same, bias: false}
  - batch_norm: {name: b1_bn1}
  - activation: {name: b1_relu1, activation: relu}
  - conv2d: {name: b1_conv2, filters: 16, kernel: 3, padding: same, bias: false}
  - batch_norm: {name: b1_bn2}
  - add: {name: b1_add, inputs: [stem_relu, b1_bn2]}
  - activation: {name: b1_out, activation: relu}
  - conv2d: {name: b2_conv1, filters: 32, kernel: 3, stride: 2, padding: same, bias: false}
  - batch_norm: {name: b2_bn1}
  - activation: {name: b2_relu1, activation: relu}
  - conv2d: {name: b2_conv2, filters: 32, kernel: 3, padding: same, bias: false}
  - batch_norm: {name: b2_bn2}
  - conv2d: {name: b2_proj, filters: 32, kernel: 1, stride: 2, bias: false, inputs: [b1_out]}
  - batch_norm: {name: b2_proj_bn}
  - add: {name: b2_add, inputs: [b2_bn2, b2_proj_bn]}
  - activation: {name: b2_out, activation: relu}
  - global_avg_pool2d: {name: gap}
  - dense: {name: head, units: 10, activation: softmax}
""",
)
def resnet_blocks():
    image = keras.Input((32, 32, 3), name="image")
    x = L.Conv2D(16, 3, padding="same", use_bias=False, name="stem")(image)
    x = L.BatchNormalization(name="stem_bn")(x)
    stem = L.Activation("relu", name="stem_relu")(x)
    x = L.Conv2D(16, 3, padding="same", use_bias=False, name="b1_conv1")(stem)
    x = L.BatchNormalization(name="b1_bn1")(x)
    x = L.Activation("relu", name="b1_relu1")(x)
    x = L.Conv2D(16, 3, padding="same", use_bias=False, name="b1_conv2")(x)
    x = L.BatchNormalization(name="b1_bn2")(x)
    x = L.Add(name="b1_add")([stem, x])
    b1 = L.Activation("relu", name="b1_out")(x)
    x = L.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="b2_conv1")(b1)
    x = L.BatchNormalization(name="b2_bn1")(x)
    x = L.Activation("relu", name="b2_relu1")(x)
    x = L.Conv2D(32, 3, padding="same", use_bias=False, name="b2_conv2")(x)
    x = L.BatchNormalization(name="b2_bn2")(x)
    s = L.Conv2D(32, 1, strides=2, use_bias=False, name="b2_proj")(b1)
    s = L.BatchNormalization(name="b2_proj_bn")(s)
    x = L.Add(name="b2_add")([x, s])
    x = L.Activation("relu", name="b2_out")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(10, activation="softmax", name="head")(x)
    return keras.Model(image, out, name="resnet_blocks")


# 11. Inception-style module: branches concatenated on channels (axis -1 and the Keras
#     positive axis 3, which counts the batch), plus a concat along height (axis 1).
@case(
    """
name: inception
input: {name: image, shape: [28, 28, 64]}
layers:
  - Conv2D: {name: b1, filters: 32, kernel_size: 1, activation: relu}
  - Conv2D: {name: b2a, filters: 16, kernel_size: 1, activation: relu, inputs: [image]}
  - Conv2D: {name: b2b, filters: 24, kernel_size: 3, padding: same, activation: relu}
  - Conv2D: {name: b3a, filters: 8, kernel_size: 1, activation: relu, inputs: [image]}
  - Conv2D: {name: b3b, filters: 12, kernel_size: 5, padding: same, activation: relu}
  - MaxPooling2D: {name: b4a, pool_size: 3, strides: 1, padding: same, inputs: [image]}
  - Conv2D: {name: b4b, filters: 16, kernel_size: 1, activation: relu}
  - Concatenate: {name: mix, axis: -1, inputs: [b1, b2b, b3b, b4b]}
  - concatenate: {name: mix_skip, axis: 3, inputs: [mix, image]}
  - Conv2D: {name: reduce, filters: 32, kernel_size: 3, strides: 2, padding: same}
  - MaxPooling2D: {name: pool, pool_size: 2, inputs: [mix_skip]}
  - Conv2D: {name: pool_proj, filters: 32, kernel_size: 1}
  - Concatenate: {name: stack_h, axis: 1, inputs: [reduce, pool_proj]}
  - GlobalMaxPooling2D: {name: gmp}
  - Dense: {name: head, units: 10, activation: softmax}
""",
)
def inception():
    image = keras.Input((28, 28, 64), name="image")
    b1 = L.Conv2D(32, 1, activation="relu", name="b1")(image)
    b2 = L.Conv2D(16, 1, activation="relu", name="b2a")(image)
    b2 = L.Conv2D(24, 3, padding="same", activation="relu", name="b2b")(b2)
    b3 = L.Conv2D(8, 1, activation="relu", name="b3a")(image)
    b3 = L.Conv2D(12, 5, padding="same", activation="relu", name="b3b")(b3)
    b4 = L.MaxPooling2D(3, strides=1, padding="same", name="b4a")(image)
    b4 = L.Conv2D(16, 1, activation="relu", name="b4b")(b4)
    mix = L.Concatenate(axis=-1, name="mix")([b1, b2, b3, b4])
    mix = L.Concatenate(axis=3, name="mix_skip")([mix, image])
    red = L.Conv2D(32, 3, strides=2, padding="same", name="reduce")(mix)
    pool = L.MaxPooling2D(2, name="pool")(mix)
    pool = L.Conv2D(32, 1, name="pool_proj")(pool)
    x = L.Concatenate(axis=1, name="stack_h")([red, pool])
    x = L.GlobalMaxPooling2D(name="gmp")(x)
    out = L.Dense(10, activation="softmax", name="head")(x)
    return keras.Model(image, out, name="inception")


# 12. MobileNetV3-style inverted residual blocks with squeeze-excitation: a (1, 1, C)
#     branch (global average pooling with keepdims -> 1x1 convs -> hard sigmoid)
#     multiplied into the (H, W, C) feature map by broadcasting. The second block's
#     hard sigmoid is spelt the way Keras's MobileNetV3 does it: relu6(x + 3) / 6.
@case(
    """
name: mobilenet_v3_se
input: {name: image, shape: [56, 56, 16]}
layers:
  - conv2d: {name: e1_expand, filters: 64, kernel: 1, bias: false}
  - batch_norm: {name: e1_expand_bn}
  - activation: {name: e1_expand_act, activation: hard_swish}
  - depthwise_conv2d: {name: e1_dw, kernel: 5, stride: 2, padding: same, bias: false}
  - batch_norm: {name: e1_dw_bn}
  - activation: {name: e1_dw_act, activation: hard_swish}
  - global_avg_pool2d: {name: e1_se_pool, keepdims: true}
  - conv2d: {name: e1_se_reduce, filters: 16, kernel: 1, activation: relu}
  - conv2d: {name: e1_se_expand, filters: 64, kernel: 1}
  - activation: {name: e1_se_gate, activation: hard_sigmoid}
  - multiply: {name: e1_se_mul, inputs: [e1_dw_act, e1_se_gate]}
  - conv2d: {name: e1_project, filters: 24, kernel: 1, bias: false}
  - batch_norm: {name: e1_project_bn}
  - conv2d: {name: e2_expand, filters: 72, kernel: 1, bias: false}
  - batch_norm: {name: e2_expand_bn}
  - activation: {name: e2_expand_act, activation: relu}
  - DepthwiseConv2D: {name: e2_dw, kernel_size: 3, padding: same, use_bias: false}
  - BatchNormalization: {name: e2_dw_bn}
  - Activation: {name: e2_dw_act, activation: relu}
  - GlobalAveragePooling2D: {name: e2_se_pool, keepdims: true}
  - Conv2D: {name: e2_se_reduce, filters: 24, kernel_size: 1, activation: relu}
  - Conv2D: {name: e2_se_expand, filters: 72, kernel_size: 1}
  - Rescaling: {name: e2_se_plus3, scale: 1.0, offset: 3.0}
  - Activation: {name: e2_se_relu6, activation: relu6}
  - rescaling: {name: e2_se_gate, scale: 0.16666666666666666}
  - Multiply: {name: e2_se_mul, inputs: [e2_dw_act, e2_se_gate]}
  - conv2d: {name: e2_project, filters: 24, kernel: 1, bias: false}
  - batch_norm: {name: e2_project_bn}
  - Add: {name: e2_add, inputs: [e1_project_bn, e2_project_bn]}
  - conv2d: {name: head_conv, filters: 96, kernel: 1, activation: hard_swish}
  - global_avg_pool2d: {name: head_pool, keepdims: false}
  - dense: {name: head, units: 10, activation: softmax}
""",
)
def mobilenet_v3_se():
    image = keras.Input((56, 56, 16), name="image")
    x = L.Conv2D(64, 1, use_bias=False, name="e1_expand")(image)
    x = L.BatchNormalization(name="e1_expand_bn")(x)
    x = L.Activation("hard_swish", name="e1_expand_act")(x)
    x = L.DepthwiseConv2D(5, strides=2, padding="same", use_bias=False, name="e1_dw")(x)
    x = L.BatchNormalization(name="e1_dw_bn")(x)
    x = L.Activation("hard_swish", name="e1_dw_act")(x)
    s = L.GlobalAveragePooling2D(keepdims=True, name="e1_se_pool")(x)
    s = L.Conv2D(16, 1, activation="relu", name="e1_se_reduce")(s)
    s = L.Conv2D(64, 1, name="e1_se_expand")(s)
    s = L.Activation("hard_sigmoid", name="e1_se_gate")(s)
    x = L.Multiply(name="e1_se_mul")([x, s])
    x = L.Conv2D(24, 1, use_bias=False, name="e1_project")(x)
    b1 = L.BatchNormalization(name="e1_project_bn")(x)
    x = L.Conv2D(72, 1, use_bias=False, name="e2_expand")(b1)
    x = L.BatchNormalization(name="e2_expand_bn")(x)
    x = L.Activation("relu", name="e2_expand_act")(x)
    x = L.DepthwiseConv2D(3, padding="same", use_bias=False, name="e2_dw")(x)
    x = L.BatchNormalization(name="e2_dw_bn")(x)
    x = L.Activation("relu", name="e2_dw_act")(x)
    s = L.GlobalAveragePooling2D(keepdims=True, name="e2_se_pool")(x)
    s = L.Conv2D(24, 1, activation="relu", name="e2_se_reduce")(s)
    s = L.Conv2D(72, 1, name="e2_se_expand")(s)
    s = L.Rescaling(1.0, offset=3.0, name="e2_se_plus3")(s)
    s = L.Activation("relu6", name="e2_se_relu6")(s)
    s = L.Rescaling(1.0 / 6.0, name="e2_se_gate")(s)
    x = L.Multiply(name="e2_se_mul")([x, s])
    x = L.Conv2D(24, 1, use_bias=False, name="e2_project")(x)
    x = L.BatchNormalization(name="e2_project_bn")(x)
    x = L.Add(name="e2_add")([b1, x])
    x = L.Conv2D(96, 1, activation="hard_swish", name="head_conv")(x)
    x = L.GlobalAveragePooling2D(keepdims=False, name="head_pool")(x)
    out = L.Dense(10, activation="softmax", name="head")(x)
    return keras.Model(image, out, name="mobilenet_v3_se")


# 13. Two inputs, two outputs: an image branch and a metadata branch merged by
#     subtract / concatenate, a classification and a regression head.
@case(
    """
name: multi_io
inputs:
  - {name: image, shape: [32, 32, 3]}
  - {name: meta, shape: [10]}
layers:
  - conv2d: {name: img_conv, filters: 8, kernel: 3, stride: 2, padding: same, activation: relu,
             inputs: [image]}
  - conv2d: {name: img_conv2, filters: 16, kernel: 3, stride: 2, padding: same, activation: relu}
  - global_max_pool2d: {name: img_pool}
  - dense: {name: meta_fc, units: 16, activation: relu, inputs: [meta]}
  - subtract: {name: diff, inputs: [img_pool, meta_fc]}
  - multiply: {name: prod, inputs: [img_pool, meta_fc]}
  - concatenate: {name: merged, inputs: [img_pool, meta_fc, diff, prod]}
  - dense: {name: trunk, units: 32, activation: relu}
  - dense: {name: cls, units: 5, activation: softmax}
  - dense: {name: reg, units: 1, inputs: [trunk]}
outputs: [cls, reg]
""",
)
def multi_io():
    image = keras.Input((32, 32, 3), name="image")
    meta = keras.Input((10,), name="meta")
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="img_conv")(image)
    x = L.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="img_conv2")(x)
    img = L.GlobalMaxPooling2D(name="img_pool")(x)
    m = L.Dense(16, activation="relu", name="meta_fc")(meta)
    diff = L.Subtract(name="diff")([img, m])
    prod = L.Multiply(name="prod")([img, m])
    x = L.Concatenate(name="merged")([img, m, diff, prod])
    trunk = L.Dense(32, activation="relu", name="trunk")(x)
    cls = L.Dense(5, activation="softmax", name="cls")(trunk)
    reg = L.Dense(1, name="reg")(trunk)
    return keras.Model([image, meta], [cls, reg], name="multi_io")


# 14. Convolutional autoencoder: zero padding (int and asymmetric), strided encoder,
#     upsampling (square and non-square), transposed conv, cropping back to 28x28.
@case(
    """
name: autoencoder
input: [28, 28, 1]
layers:
  - zero_padding2d: {name: pad, padding: 2}
  - conv2d: {name: enc1, filters: 16, kernel: 3, stride: 2, padding: same, activation: relu}
  - conv2d: {name: enc2, filters: 8, kernel: 3, stride: 2, padding: same, activation: relu}
  - max_pool2d: {name: bottleneck, pool: 2}
  - upsampling2d: {name: up1, size: 2}
  - upsampling2d: {name: up2, size: 2}
  - conv2d_transpose: {name: dec1, filters: 16, kernel: 3, stride: 2, padding: same,
                       activation: relu}
  - cropping2d: {name: crop, cropping: 2}
  - zero_padding2d: {name: pad_asym, padding: [[1, 2], [0, 3]]}
  - cropping2d: {name: crop_asym, cropping: [[1, 2], [0, 3]]}
  - upsampling2d: {name: up_w, size: [1, 2]}
  - cropping2d: {name: crop_w, cropping: [[0, 0], [14, 14]]}
  - conv2d: {name: recon, filters: 1, kernel: 3, padding: same, activation: sigmoid}
""",
)
def autoencoder():
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            L.ZeroPadding2D(2, name="pad"),
            L.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="enc1"),
            L.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="enc2"),
            L.MaxPooling2D(2, name="bottleneck"),
            L.UpSampling2D(2, name="up1"),
            L.UpSampling2D(2, name="up2"),
            L.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu", name="dec1"),
            L.Cropping2D(2, name="crop"),
            L.ZeroPadding2D(((1, 2), (0, 3)), name="pad_asym"),
            L.Cropping2D(((1, 2), (0, 3)), name="crop_asym"),
            L.UpSampling2D((1, 2), name="up_w"),
            L.Cropping2D(((0, 0), (14, 14)), name="crop_w"),
            L.Conv2D(1, 3, padding="same", activation="sigmoid", name="recon"),
        ],
        name="autoencoder",
    )


# 15. MobileNetV1 (alpha 0.25, 96x96 RGB): rescaling to [-1, 1], a strided stem and the
#     13 depthwise-separable blocks, relu6 throughout.
_MBV1_BLOCKS = [  # (pointwise filters, depthwise stride)
    (16, 1),
    (32, 2),
    (32, 1),
    (64, 2),
    (64, 1),
    (128, 2),
    (128, 1),
    (128, 1),
    (128, 1),
    (128, 1),
    (128, 1),
    (256, 2),
    (256, 1),
]


@case(
    """
name: mobilenet_v1_025
input: [96, 96, 3]
layers:
  - rescaling: {name: rescale, scale: 0.00784313725490196, offset: -1.0}
  - conv2d: {name: conv1, filters: 8, kernel: 3, stride: 2, padding: same, activation: relu6}
  - depthwise_conv2d: {name: dw1, kernel: 3, padding: same, activation: relu6}
  - conv2d: {name: pw1, filters: 16, kernel: 1, activation: relu6}
  - depthwise_conv2d: {name: dw2, kernel: 3, stride: 2, padding: same, activation: relu6}
  - conv2d: {name: pw2, filters: 32, kernel: 1, activation: relu6}
  - depthwise_conv2d: {name: dw3, kernel: 3, padding: same, activation: relu6}
  - conv2d: {name: pw3, filters: 32, kernel: 1, activation: relu6}
  - depthwise_conv2d: {name: dw4, kernel: 3, stride: 2, padding: same, activation: relu6}
  - conv2d: {name: pw4, filters: 64, kernel: 1, activation: relu6}
  - depthwise_conv2d: {name: dw5, kernel: 3, padding: same, activation: relu6}
  - conv2d: {name: pw5, filters: 64, kernel: 1, activation: relu6}
  - depthwise_conv2d: {name: dw6, kernel: 3, stride: 2, padding: same, activation: relu6}
  - conv2d: {name: pw6, filters: 128, kernel: 1, activation: relu6}
  - depthwise_conv2d: {name: dw7, kernel: 3, padding: same, activation: relu6}
  - conv2d: {name: pw7, filters: 128, kernel: 1, activation: relu6}
  - depthwise_conv2d: {name: dw8, kernel: 3, padding: same, activation: relu6}
  - conv2d: {name: pw8, filters: 128, kernel: 1, activation: relu6}
  - depthwise_conv2d: {name: dw9, kernel: 3, padding: same, activation: relu6}
  - conv2d: {name: pw9, filters: 128, kernel: 1, activation: relu6}
  - depthwise_conv2d: {name: dw10, kernel: 3, padding: same, activation: relu6}
  - conv2d: {name: pw10, filters: 128, kernel: 1, activation: relu6}
  - depthwise_conv2d: {name: dw11, kernel: 3, padding: same, activation: relu6}
  - conv2d: {name: pw11, filters: 128, kernel: 1, activation: relu6}
  - depthwise_conv2d: {name: dw12, kernel: 3, stride: 2, padding: same, activation: relu6}
  - conv2d: {name: pw12, filters: 256, kernel: 1, activation: relu6}
  - depthwise_conv2d: {name: dw13, kernel: 3, padding: same, activation: relu6}
  - conv2d: {name: pw13, filters: 256, kernel: 1, activation: relu6}
  - global_avg_pool2d: {name: gap}
  - dropout: {name: drop, rate: 0.001}
  - dense: {name: predictions, units: 10, activation: softmax}
""",
)
def mobilenet_v1_025():
    layers = [
        keras.Input((96, 96, 3)),
        L.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale"),
        L.Conv2D(8, 3, strides=2, padding="same", activation="relu6", name="conv1"),
    ]
    for i, (filters, stride) in enumerate(_MBV1_BLOCKS, start=1):
        layers.append(
            L.DepthwiseConv2D(3, strides=stride, padding="same", activation="relu6", name=f"dw{i}")
        )
        layers.append(L.Conv2D(filters, 1, activation="relu6", name=f"pw{i}"))
    layers += [
        L.GlobalAveragePooling2D(name="gap"),
        L.Dropout(0.001, name="drop"),
        L.Dense(10, activation="softmax", name="predictions"),
    ]
    return keras.Sequential(layers, name="mobilenet_v1_025")


# 16. Every listed activation, as a layer and as an argument; two unnamed scalar-form
#     `activation:` items get Keras's automatic names (activation, activation_1).
@case(
    """
name: activations
input: [64]
layers:
  - dense: {name: d_relu, units: 32, activation: relu}
  - activation: {name: a_relu6, activation: relu6}
  - dense: {name: d_leaky, units: 32, activation: leaky_relu}
  - Activation: {name: a_sigmoid, activation: sigmoid}
  - dense: {name: d_tanh, units: 16, activation: tanh}
  - activation: {name: a_hswish, activation: hard_swish}
  - dense: {name: d_swish, units: 16, activation: swish}
  - activation: {name: a_linear, activation: linear}
  - dense: {name: d_linear, units: 8, activation: linear, use_bias: false}
  - activation: {name: a_leaky, activation: leaky_relu}
  - activation: {name: a_tanh, activation: tanh}
  - activation: {name: a_swish, activation: swish}
  - activation: relu
  - activation: tanh
  - dense: {name: d_relu6, units: 8, activation: relu6}
  - dense: {name: d_hswish, units: 8, activation: hard_swish}
  - dense: {name: d_sigmoid, units: 8, activation: sigmoid}
  - activation: {name: a_softmax, activation: softmax}
""",
)
def activations():
    return keras.Sequential(
        [
            keras.Input((64,)),
            L.Dense(32, activation="relu", name="d_relu"),
            L.Activation("relu6", name="a_relu6"),
            L.Dense(32, activation="leaky_relu", name="d_leaky"),
            L.Activation("sigmoid", name="a_sigmoid"),
            L.Dense(16, activation="tanh", name="d_tanh"),
            L.Activation("hard_swish", name="a_hswish"),
            L.Dense(16, activation="swish", name="d_swish"),
            L.Activation("linear", name="a_linear"),
            L.Dense(8, activation="linear", use_bias=False, name="d_linear"),
            L.Activation("leaky_relu", name="a_leaky"),
            L.Activation("tanh", name="a_tanh"),
            L.Activation("swish", name="a_swish"),
            L.Activation("relu", name="activation"),  # Keras's automatic names
            L.Activation("tanh", name="activation_1"),
            L.Dense(8, activation="relu6", name="d_relu6"),
            L.Dense(8, activation="hard_swish", name="d_hswish"),
            L.Dense(8, activation="sigmoid", name="d_sigmoid"),
            L.Activation("softmax", name="a_softmax"),
        ],
        name="activations",
    )


# 17. Keras class names for the data-movement and merge layers (graph form).
@case(
    """
name: keras_spellings
input: {name: image, shape: [20, 20, 3]}
layers:
  - Rescaling: {name: rescale, scale: 0.00392156862745098}
  - ZeroPadding2D: {name: pad, padding: [2, 3]}
  - Conv2D: {name: conv, filters: 8, kernel_size: 3, padding: same, use_bias: false}
  - BatchNormalization: {name: bn, center: false}
  - Activation: {name: act, activation: swish}
  - Cropping2D: {name: crop, cropping: [1, 2]}
  - UpSampling2D: {name: up, size: [2, 1]}
  - Conv2D: {name: branch_a, filters: 8, kernel_size: 1}
  - Conv2D: {name: branch_b, filters: 8, kernel_size: [3, 1], padding: same, inputs: [up]}
  - Add: {name: add, inputs: [up, branch_a, branch_b]}
  - Subtract: {name: sub, inputs: [add, branch_a]}
  - Multiply: {name: mul, inputs: [sub, branch_b, up]}
  - Concatenate: {name: cat, axis: -1, inputs: [mul, add]}
  - LayerNormalization: {name: ln}
  - Reshape: {name: reshape, target_shape: [-1, 16]}
  - Dense: {name: token_fc, units: 4, activation: relu}
  - Flatten: {name: flat}
  - Dense: {name: head, units: 2, activation: softmax}
""",
)
def keras_spellings():
    image = keras.Input((20, 20, 3), name="image")
    x = L.Rescaling(1.0 / 255, name="rescale")(image)
    x = L.ZeroPadding2D((2, 3), name="pad")(x)
    x = L.Conv2D(8, 3, padding="same", use_bias=False, name="conv")(x)
    x = L.BatchNormalization(center=False, name="bn")(x)
    x = L.Activation("swish", name="act")(x)
    x = L.Cropping2D((1, 2), name="crop")(x)
    up = L.UpSampling2D((2, 1), name="up")(x)
    a = L.Conv2D(8, 1, name="branch_a")(up)
    b = L.Conv2D(8, (3, 1), padding="same", name="branch_b")(up)
    add = L.Add(name="add")([up, a, b])
    sub = L.Subtract(name="sub")([add, a])
    mul = L.Multiply(name="mul")([sub, b, up])
    x = L.Concatenate(axis=-1, name="cat")([mul, add])
    x = L.LayerNormalization(name="ln")(x)
    x = L.Reshape((-1, 16), name="reshape")(x)
    x = L.Dense(4, activation="relu", name="token_fc")(x)
    x = L.Flatten(name="flat")(x)
    out = L.Dense(2, activation="softmax", name="head")(x)
    return keras.Model(image, out, name="keras_spellings")


# 18. Transfer learning: a frozen feature extractor (trainable: false) under a trainable
#     head; Keras counts the frozen layers' weights as non-trainable.
@case(
    """
name: frozen_backbone
input: [32, 32, 3]
layers:
  - conv2d: {name: f_conv1, filters: 16, kernel: 3, padding: same, activation: relu,
             trainable: false}
  - batch_norm: {name: f_bn1, trainable: false}
  - max_pool2d: {name: f_pool1, pool: 2}
  - conv2d: {name: f_conv2, filters: 32, kernel: 3, padding: same, activation: relu,
             trainable: false}
  - global_avg_pool2d: {name: gap}
  - dense: {name: fc, units: 16, activation: relu}
  - dense: {name: head, units: 3, activation: softmax}
""",
)
def frozen_backbone():
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            L.Conv2D(16, 3, padding="same", activation="relu", trainable=False, name="f_conv1"),
            L.BatchNormalization(trainable=False, name="f_bn1"),
            L.MaxPooling2D(2, name="f_pool1"),
            L.Conv2D(32, 3, padding="same", activation="relu", trainable=False, name="f_conv2"),
            L.GlobalAveragePooling2D(name="gap"),
            L.Dense(16, activation="relu", name="fc"),
            L.Dense(3, activation="softmax", name="head"),
        ],
        name="frozen_backbone",
    )


# 19. Odds and ends: depthwise with depth_multiplier 3, stride 2, valid, on odd sizes; a
#     non-square pool with default strides; Add broadcasting a (1, 1, C) tensor; concat
#     on width (axis -2); reshape with -1 last; strided causal grouped Conv1D; keepdims
#     1-D pooling; batch and layer norm on a rank-1 tensor.
@case(
    """
name: odds_and_ends
input: {name: x, shape: [15, 11, 6]}
layers:
  - DepthwiseConv2D: {name: dwv, kernel_size: 3, strides: 2, padding: valid, depth_multiplier: 3}
  - max_pool2d: {name: pool_nsq, pool: [2, 3]}
  - global_avg_pool2d: {name: gp, keepdims: true, inputs: [dwv]}
  - conv2d: {name: gp_conv, filters: 18, kernel: 1}
  - add: {name: add_bcast, inputs: [dwv, gp_conv]}
  - concatenate: {name: cat_w, axis: -2, inputs: [add_bcast, dwv]}
  - reshape: {name: rows, target_shape: [7, -1]}
  - conv1d: {name: c1d, filters: 12, kernel: 3, strides: 2, padding: causal, groups: 6}
  - GlobalAveragePooling1D: {name: gap1, keepdims: true}
  - flatten: {name: flat}
  - batch_norm: {name: bn_vec}
  - layer_norm: {name: ln_vec, scale: false}
  - dense: {name: out, units: 3}
  - GlobalMaxPooling2D: {name: side_gmp, inputs: [pool_nsq]}
outputs: [out, side_gmp]
""",
)
def odds_and_ends():
    x_in = keras.Input((15, 11, 6), name="x")
    dwv = L.DepthwiseConv2D(3, strides=2, padding="valid", depth_multiplier=3, name="dwv")(x_in)
    pool = L.MaxPooling2D((2, 3), name="pool_nsq")(dwv)
    gp = L.GlobalAveragePooling2D(keepdims=True, name="gp")(dwv)
    gp = L.Conv2D(18, 1, name="gp_conv")(gp)
    x = L.Add(name="add_bcast")([dwv, gp])
    x = L.Concatenate(axis=-2, name="cat_w")([x, dwv])
    x = L.Reshape((7, -1), name="rows")(x)
    x = L.Conv1D(12, 3, strides=2, padding="causal", groups=6, name="c1d")(x)
    x = L.GlobalAveragePooling1D(keepdims=True, name="gap1")(x)
    x = L.Flatten(name="flat")(x)
    x = L.BatchNormalization(name="bn_vec")(x)
    x = L.LayerNormalization(scale=False, name="ln_vec")(x)
    out = L.Dense(3, name="out")(x)
    side = L.GlobalMaxPooling2D(name="side_gmp")(pool)
    return keras.Model(x_in, [out, side], name="odds_and_ends")


# ----------------------------------------------------------------------------------
def _keras_truth(model: keras.Model) -> dict[str, tuple[tuple[int, ...], int]]:
    """Each non-input layer's (output shape without batch, count_params())."""
    truth: dict[str, tuple[tuple[int, ...], int]] = {}
    for layer in model.layers:
        if isinstance(layer, L.InputLayer):
            continue
        shape = tuple(layer.output.shape[1:])
        assert all(isinstance(d, int) for d in shape), (layer.name, shape)
        truth[layer.name] = (shape, int(layer.count_params()))
    return truth


def _is_graph_input(layer) -> bool:
    """A report row for a graph input (Keras's InputLayer, which the comparison skips)."""
    return getattr(layer, "inputs", None) == () or str(layer.type).lower() in (
        "input",
        "inputlayer",
    )


def _trainable(model: keras.Model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def test_corpus_is_wide_enough() -> None:
    names = [c.name for c in CASES]
    assert len(CASES) >= 14
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_keras_side_builds(case: Case) -> None:
    """The Keras half alone: it builds and its hand-checked totals hold."""
    _need_keras()
    model = case.build()
    assert model.name == case.name
    if case.total_params is not None:
        assert model.count_params() == case.total_params
    _keras_truth(model)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_spec_matches_keras(case: Case, tmp_path) -> None:
    _need_keras()
    from cnnaudit import audit

    model = case.build()
    path = tmp_path / f"{case.name}.yaml"
    path.write_text(case.spec.lstrip(), encoding="utf-8")
    report = audit(str(path), boards=[])

    by_name = {layer.name: layer for layer in report.layers}
    truth = _keras_truth(model)
    problems: list[str] = []
    extra = sorted(
        name for name, got in by_name.items() if name not in truth and not _is_graph_input(got)
    )
    if extra:
        problems.append(f"layers Keras does not have: {extra}")
    for name, (shape, params) in truth.items():
        got = by_name.get(name)
        if got is None:
            problems.append(f"{name}: missing from the report (has {sorted(by_name)})")
            continue
        got_shape = tuple(int(d) for d in got.output_shape)
        if got_shape != shape:
            problems.append(f"{name} ({got.type}): output_shape {got_shape}, Keras {shape}")
        if int(got.params) != params:
            problems.append(f"{name} ({got.type}): params {got.params}, Keras {params}")
    assert not problems, f"{case.name} disagrees with Keras:\n  " + "\n  ".join(problems)

    assert report.model.params == model.count_params()
    assert report.model.trainable_params == _trainable(model)
    if case.total_params is not None:
        assert report.model.params == case.total_params
