"""The lowering pass against the TFLite converter: same operators, same order.

Each model is built with Keras, saved as .keras (so cnnaudit reads it through its own
frontend), converted by the TFLite converter at float32 and int8, and the operator
sequence the interpreter reports is compared with the lowered graph's.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from cnnaudit import audit
from cnnaudit.verify import convert

pytestmark = pytest.mark.slow

try:
    import keras
    import tensorflow as tf
except ImportError:  # pragma: no cover
    keras = tf = None
if keras is None and os.environ.get("CNNAUDIT_REQUIRE_ORACLES"):
    raise RuntimeError("TensorFlow is required for the oracle tests")
if keras is None:
    pytest.skip("TensorFlow is not installed", allow_module_level=True)

L = keras.layers


def seq(shape: tuple[int, ...], *layers: Any) -> Callable[[], Any]:
    return lambda: keras.Sequential([keras.Input(shape, batch_size=1), *layers])


def _residual() -> Any:
    i = keras.Input((8, 8, 4), batch_size=1)
    a = L.Conv2D(4, 1)(i)
    b = L.Conv2D(4, 3, padding="same", use_bias=False)(i)
    b = L.BatchNormalization()(b)
    s = L.ReLU()(L.Add()([a, b]))
    g = L.GlobalAveragePooling2D(keepdims=True)(s)
    m = L.Multiply()([s, g])
    c = L.Concatenate()([m, i])
    return keras.Model(i, L.Dense(3, activation="softmax")(L.GlobalMaxPooling2D()(c)))


def _multi_io() -> Any:
    a = keras.Input((8,), batch_size=1, name="a")
    b = keras.Input((4,), batch_size=1, name="b")
    x = L.Concatenate()([L.Dense(4, activation="relu")(a), b])
    return keras.Model([a, b], [L.Dense(2)(x), L.Dense(3, activation="sigmoid")(x)])


CASES: dict[str, Callable[[], Any]] = {
    "conv_bn_relu": seq((16, 16, 3), L.Conv2D(8, 3, use_bias=False), L.BatchNormalization(),
                        L.ReLU(), L.MaxPooling2D(), L.Flatten(), L.Dropout(0.2),
                        L.Dense(4, activation="softmax")),
    "activations": seq((8, 8, 3), L.Conv2D(4, 1, activation="relu6"),
                       L.Activation("sigmoid"), L.Activation("tanh"),
                       L.Activation("hard_swish"), L.LeakyReLU(), L.Activation("swish"),
                       L.Activation("hard_sigmoid"), L.Softmax()),
    "separable_depthwise": seq((16, 16, 3), L.SeparableConv2D(8, 3, padding="same"),
                               L.DepthwiseConv2D(3, depth_multiplier=2, activation="relu"),
                               L.AveragePooling2D(2), L.GlobalAveragePooling2D()),
    "standalone_bn": seq((8, 8, 3), L.MaxPooling2D(), L.BatchNormalization()),
    "padding_upsampling": seq((8, 8, 2), L.ZeroPadding2D(1), L.Cropping2D(1),
                              L.UpSampling2D(2), L.UpSampling2D(2, interpolation="bilinear"),
                              L.Conv2DTranspose(4, 3, strides=2, padding="same")),
    "rescaling_folds": seq((8, 8, 3), L.Rescaling(1 / 255.0), L.Conv2D(4, 3)),
    "conv1d": seq((32, 4), L.Conv1D(8, 3, activation="relu"), L.MaxPooling1D(2),
                  L.AveragePooling1D(2), L.Conv1D(8, 3, padding="causal", dilation_rate=2),
                  L.GlobalAveragePooling1D(), L.Dense(2)),
    "conv1d_separable": seq((32, 4), L.DepthwiseConv1D(3), L.SeparableConv1D(8, 3),
                            L.GlobalMaxPooling1D()),
    "dense_rank3": seq((10, 4), L.Dense(8, activation="tanh"), L.Flatten(), L.Dense(2)),
    "layer_norm_permute": seq((6, 8), L.LayerNormalization(), L.Permute((2, 1)),
                              L.Reshape((48,))),
    "residual_se": _residual,
    "multi_io": _multi_io,
    "mobilenet025": lambda: keras.applications.MobileNet(
        input_tensor=keras.Input((64, 64, 3), batch_size=1), alpha=0.25, weights=None,
        classes=3),
}


def _converted_ops(model: Any, int8: bool) -> list[str]:
    """The operators the TFLite converter writes (through verify's converter call, which
    only configures the converter: int8 with random calibration data and int8 I/O)."""
    data = convert(model, "int8" if int8 else "float32")
    interp = tf.lite.Interpreter(model_content=data)
    return [op["op_name"] for op in interp._get_ops_details()]


@pytest.mark.parametrize("dtype", ["float32", "int8"])
@pytest.mark.parametrize("name", list(CASES))
def test_lowering_matches_the_converter(name, dtype, tmp_path):
    model = CASES[name]()
    rng = np.random.default_rng(0)
    for w in model.weights:  # the converter drops all-zero biases; keep them all real
        w.assign(rng.normal(0, 0.1, w.shape).astype("float32")
                 + (1.0 if "variance" in w.path else 0.0))
    path = tmp_path / f"{name}.keras"
    model.save(path)
    expected = _converted_ops(model, dtype == "int8")
    report = audit(path, boards=[], dtype=dtype)
    ours = [s.type for s in report.timeline if s.type != "input"]
    assert ours == expected
