"""The accuracy corpus: varied architectures as cnnaudit specs (plus two keras.applications
models), shared by tests/test_accuracy.py and scripts/accuracy.py (docs/accuracy.md).

Each entry is a spec dict, or a callable returning a Keras model (for keras.applications),
which the caller saves as .keras and audits through the Keras frontend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _mobilenet_v1(alpha_filters: int = 8) -> dict[str, Any]:
    layers: list[Any] = [
        {"conv2d": {"filters": alpha_filters, "kernel": 3, "strides": 2, "padding": "same",
                    "use_bias": False}}, "batch_norm", "relu6"]
    for filters, stride in ((16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1)):
        layers += [{"depthwise_conv2d": {"kernel": 3, "strides": stride, "padding": "same",
                                         "use_bias": False}}, "batch_norm", "relu6",
                   {"conv2d": {"filters": filters, "kernel": 1, "use_bias": False}},
                   "batch_norm", "relu6"]
    layers += ["global_avg_pool2d", {"dropout": 0.1}, {"dense": {"units": 3,
                                                                  "activation": "softmax"}}]
    return {"name": "mobilenet_v1_spec", "input": [96, 96, 3], "layers": layers}


SPECS: dict[str, dict[str, Any]] = {
    "fashion_mnist": {"input": [28, 28, 1], "layers": [
        {"conv2d": {"filters": 64, "kernel": 3, "activation": "relu"}}, {"max_pool2d": 2},
        {"conv2d": {"filters": 64, "kernel": 3, "activation": "relu"}}, {"max_pool2d": 2},
        "flatten", {"dense": {"units": 128, "activation": "relu"}}, {"dropout": 0.5},
        {"dense": {"units": 10, "activation": "softmax"}}]},
    "efficient_edge": {"input": [48, 48, 1], "layers": [
        {"conv2d": {"filters": 8, "kernel": 3, "activation": "relu"}}, {"max_pool2d": 2},
        {"conv2d": {"filters": 16, "kernel": 3, "activation": "relu"}}, {"max_pool2d": 2},
        "flatten", {"dense": {"units": 32, "activation": "relu"}},
        {"dense": {"units": 10, "activation": "softmax"}}]},
    "cifar_gap_bn": {"input": [32, 32, 3], "layers": [
        {"conv2d": {"filters": 16, "kernel": 3, "padding": "same", "activation": "relu"}},
        {"conv2d": {"filters": 16, "kernel": 3, "padding": "same", "use_bias": False}},
        "batch_norm", "relu", {"max_pool2d": 2},
        {"conv2d": {"filters": 32, "kernel": 3, "padding": "same", "activation": "relu"}},
        {"max_pool2d": 2}, {"conv2d": {"filters": 64, "kernel": 3, "padding": "same"}},
        "global_avg_pool2d", {"dense": {"units": 10, "activation": "softmax"}}]},
    "residual": {"input": {"name": "image", "shape": [32, 32, 3]}, "layers": [
        {"conv2d": {"name": "stem", "filters": 16, "kernel": 3, "padding": "same",
                    "activation": "relu"}},
        {"conv2d": {"name": "a", "filters": 16, "kernel": 3, "padding": "same",
                    "activation": "relu"}},
        {"conv2d": {"name": "b", "filters": 16, "kernel": 3, "padding": "same"}},
        {"add": {"name": "sum", "inputs": ["stem", "b"], "activation": "relu"}},
        {"conv2d": {"filters": 32, "kernel": 3, "strides": 2, "padding": "same"}},
        "global_avg_pool2d", {"dense": {"units": 10, "activation": "softmax"}}]},
    "ds_cnn_kws": {"input": [49, 10, 1], "layers": [
        {"conv2d": {"filters": 32, "kernel": [10, 4], "strides": 2, "padding": "same"}},
        "batch_norm", "relu",
        *[x for _ in range(3) for x in (
            {"depthwise_conv2d": {"kernel": 3, "padding": "same"}}, "batch_norm", "relu",
            {"conv2d": {"filters": 32, "kernel": 1}}, "batch_norm", "relu")],
        {"avg_pool2d": {"pool": [25, 5]}}, "flatten",
        {"dense": {"units": 12, "activation": "softmax"}}]},
    "separable": {"input": [64, 64, 3], "layers": [
        {"conv2d": {"filters": 8, "kernel": 3, "strides": 2, "padding": "same"}},
        {"separable_conv2d": {"filters": 16, "kernel": 3, "padding": "same",
                              "activation": "relu"}},
        {"separable_conv2d": {"filters": 32, "kernel": 3, "strides": 2, "padding": "same",
                              "activation": "relu"}},
        {"max_pool2d": 2}, "global_max_pool2d", {"dense": 4}]},
    "conv1d_imu": {"input": [128, 6], "layers": [
        {"conv1d": {"filters": 16, "kernel": 5, "activation": "relu"}}, {"max_pool1d": 2},
        {"conv1d": {"filters": 16, "kernel": 3, "padding": "causal", "dilation": 2}},
        {"avg_pool1d": 2}, "global_avg_pool1d", {"dense": {"units": 5,
                                                            "activation": "softmax"}}]},
    "inception": {"input": {"name": "x", "shape": [24, 24, 8]}, "layers": [
        {"conv2d": {"name": "b1", "inputs": "x", "filters": 8, "kernel": 1,
                    "activation": "relu"}},
        {"conv2d": {"name": "b3", "inputs": "x", "filters": 8, "kernel": 3,
                    "padding": "same", "activation": "relu"}},
        {"max_pool2d": {"name": "bp", "inputs": "x", "pool": 3, "strides": 1,
                        "padding": "same"}},
        {"concatenate": {"name": "cat", "inputs": ["b1", "b3", "bp"]}},
        {"conv2d": {"filters": 16, "kernel": 1}}, "global_avg_pool2d", {"dense": 3}]},
    "autoencoder_nearest": {"input": [28, 28, 1], "layers": [
        {"conv2d": {"filters": 8, "kernel": 3, "strides": 2, "padding": "same",
                    "activation": "relu"}},
        {"conv2d": {"filters": 8, "kernel": 3, "strides": 2, "padding": "same"}},
        {"upsampling2d": 2}, {"conv2d": {"filters": 8, "kernel": 3, "padding": "same"}},
        {"upsampling2d": 2}, {"conv2d": {"filters": 1, "kernel": 3, "padding": "same",
                                         "activation": "sigmoid"}}]},
    "autoencoder_transpose": {"input": [28, 28, 1], "layers": [
        {"conv2d": {"filters": 8, "kernel": 3, "strides": 2, "padding": "same",
                    "activation": "relu"}},
        {"zero_padding2d": 1}, {"cropping2d": 1},
        {"conv2d_transpose": {"filters": 8, "kernel": 3, "strides": 2, "padding": "same"}},
        {"upsampling2d": {"size": 1, "mode": "bilinear"}},
        {"conv2d": {"filters": 1, "kernel": 3, "padding": "same",
                    "activation": "sigmoid"}}]},
    "mlp": {"input": [40], "layers": [
        {"dense": {"units": 64, "activation": "relu"}}, {"dense": {"units": 32}},
        "leaky_relu", {"dense": {"units": 4, "activation": "softmax"}}]},
    "squeeze_excite": {"input": {"name": "x", "shape": [16, 16, 16]}, "layers": [
        {"global_avg_pool2d": {"name": "sq", "keepdims": True}},
        {"conv2d": {"name": "ex", "filters": 16, "kernel": 1, "activation": "hard_sigmoid"}},
        {"multiply": {"name": "gate", "inputs": ["x", "ex"]}},
        {"conv2d": {"filters": 8, "kernel": 1, "activation": "hard_swish"}},
        "global_avg_pool2d", {"dense": 2}]},
    "multi_io": {"inputs": [{"name": "image", "shape": [32, 32, 1]},
                            {"name": "imu", "shape": [64, 6]}], "layers": [
        {"conv2d": {"name": "c", "inputs": "image", "filters": 8, "kernel": 3,
                    "strides": 2, "activation": "relu"}},
        {"global_avg_pool2d": {"name": "cv"}},
        {"conv1d": {"name": "s", "inputs": "imu", "filters": 8, "kernel": 5,
                    "activation": "relu"}},
        {"global_max_pool1d": {"name": "sv"}},
        {"concatenate": {"name": "cat", "inputs": ["cv", "sv"]}},
        {"dense": {"name": "h1", "units": 4, "activation": "softmax"}},
        {"dense": {"name": "h2", "inputs": "cat", "units": 1, "activation": "sigmoid"}}],
        "outputs": ["h1", "h2"]},
    "person_detect_stem": {"input": [96, 96, 1], "layers": [
        {"conv2d": {"filters": 8, "kernel": 3, "strides": 2, "padding": "same",
                    "activation": "relu6"}},
        {"depthwise_conv2d": {"kernel": 3, "padding": "same", "activation": "relu6"}},
        {"conv2d": {"filters": 16, "kernel": 1, "activation": "relu6"}},
        {"depthwise_conv2d": {"kernel": 3, "strides": 2, "padding": "same",
                              "activation": "relu6"}},
        {"conv2d": {"filters": 32, "kernel": 1, "activation": "relu6"}},
        "global_avg_pool2d", {"dense": 2}]},
    "mobilenet_v1_spec": _mobilenet_v1(),
}


def _app(name: str, shape: tuple[int, ...], **kwargs: Any) -> Callable[[], Any]:
    def build() -> Any:
        import keras

        return getattr(keras.applications, name)(
            input_tensor=keras.Input(shape, batch_size=1), weights=None, **kwargs)

    return build


APPLICATIONS: dict[str, Callable[[], Any]] = {
    "keras_mobilenet_025": _app("MobileNet", shape=(96, 96, 3), alpha=0.25, classes=3),
    "keras_mobilenet_v2_035": _app("MobileNetV2", shape=(96, 96, 3), alpha=0.35, classes=3),
}
