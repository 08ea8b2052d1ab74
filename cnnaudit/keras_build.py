"""IR -> a Keras model, for `cnnaudit verify` only (imports Keras; never on an audit path).

The model is rebuilt from the audited graph, never loaded from the user's file, so nothing
in a model file runs even here. Weights are random (non-zero biases: the converter drops
all-zero ones, which a trained model does not have).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import CnnauditError
from .ir import Graph, Node

ACTIVATION_NAMES = {"swish": "silu", "hard_swish": "hard_silu", "linear": "linear"}


def _act(name: str) -> str:
    return ACTIVATION_NAMES.get(name, name)


def _conv_kwargs(a: dict[str, Any]) -> dict[str, Any]:
    return {"kernel_size": a["kernel"], "strides": a["strides"], "padding": a["padding"],
            "dilation_rate": a["dilation"], "use_bias": a["use_bias"],
            "activation": _act(a["activation"])}


def _pairs(value: Any) -> tuple[Any, ...]:
    return tuple(tuple(p) for p in value)


def _axis(axes: tuple[int, ...]) -> int | list[int]:
    return axes[0] if len(axes) == 1 else list(axes)


def _layer_for(node: Node, layers: Any) -> Callable[..., Any]:
    a = dict(node.attrs)
    name = node.name.replace("/", "_").replace("@", "_call")
    op = node.op
    makers: dict[str, Callable[[], Any]] = {
        "conv2d": lambda: layers.Conv2D(a["filters"], groups=a["groups"], **_conv_kwargs(a)),
        "conv1d": lambda: layers.Conv1D(a["filters"], groups=a["groups"], **_conv_kwargs(a)),
        "depthwise_conv2d": lambda: layers.DepthwiseConv2D(
            depth_multiplier=a["depth_multiplier"], **_conv_kwargs(a)),
        "depthwise_conv1d": lambda: layers.DepthwiseConv1D(
            depth_multiplier=a["depth_multiplier"], **_conv_kwargs(a)),
        "separable_conv2d": lambda: layers.SeparableConv2D(
            a["filters"], depth_multiplier=a["depth_multiplier"], **_conv_kwargs(a)),
        "separable_conv1d": lambda: layers.SeparableConv1D(
            a["filters"], depth_multiplier=a["depth_multiplier"], **_conv_kwargs(a)),
        "conv2d_transpose": lambda: layers.Conv2DTranspose(
            a["filters"], output_padding=a["output_padding"], **_conv_kwargs(a)),
        "conv1d_transpose": lambda: layers.Conv1DTranspose(
            a["filters"], output_padding=a["output_padding"], **_conv_kwargs(a)),
        "dense": lambda: layers.Dense(a["units"], use_bias=a["use_bias"],
                                      activation=_act(a["activation"])),
        "flatten": lambda: layers.Flatten(),
        "reshape": lambda: layers.Reshape(a["target_shape"]),
        "permute": lambda: layers.Permute(a["dims"]),
        "max_pool2d": lambda: layers.MaxPooling2D(a["pool"], a["strides"], a["padding"]),
        "max_pool1d": lambda: layers.MaxPooling1D(a["pool"], a["strides"], a["padding"]),
        "avg_pool2d": lambda: layers.AveragePooling2D(a["pool"], a["strides"], a["padding"]),
        "avg_pool1d": lambda: layers.AveragePooling1D(a["pool"], a["strides"], a["padding"]),
        "global_avg_pool2d": lambda: layers.GlobalAveragePooling2D(keepdims=a["keepdims"]),
        "global_avg_pool1d": lambda: layers.GlobalAveragePooling1D(keepdims=a["keepdims"]),
        "global_max_pool2d": lambda: layers.GlobalMaxPooling2D(keepdims=a["keepdims"]),
        "global_max_pool1d": lambda: layers.GlobalMaxPooling1D(keepdims=a["keepdims"]),
        "batch_norm": lambda: layers.BatchNormalization(
            axis=_axis(a["axis"]), center=a["center"], scale=a["scale"]),
        "layer_norm": lambda: layers.LayerNormalization(
            axis=list(a["axis"]), center=a["center"], scale=a["scale"],
            rms_scaling=a["rms_scaling"]),
        "dropout": lambda: layers.Dropout(a["rate"]),
        "rescaling": lambda: layers.Rescaling(a["scale"], a["offset"]),
        "concatenate": lambda: layers.Concatenate(axis=a["axis"]),
        "zero_padding2d": lambda: layers.ZeroPadding2D(_pairs(a["padding"])),
        "zero_padding1d": lambda: layers.ZeroPadding1D(tuple(a["padding"][0])),
        "cropping2d": lambda: layers.Cropping2D(_pairs(a["cropping"])),
        "cropping1d": lambda: layers.Cropping1D(tuple(a["cropping"][0])),
        "upsampling2d": lambda: layers.UpSampling2D(a["size"], interpolation=a["mode"]),
        "upsampling1d": lambda: layers.UpSampling1D(a["size"][0]),
        "add": lambda: layers.Add(), "subtract": lambda: layers.Subtract(),
        "multiply": lambda: layers.Multiply(), "maximum": lambda: layers.Maximum(),
        "minimum": lambda: layers.Minimum(), "average": lambda: layers.Average(),
    }
    if op in makers:
        layer = makers[op]()
    elif "activation" in a and op not in ("opaque", "scalar_math"):
        if a["activation"] == "leaky_relu":
            layer = layers.LeakyReLU(negative_slope=a.get("negative_slope", 0.3))
        else:
            layer = layers.Activation(_act(a["activation"]))
    else:
        raise CnnauditError(f"layer {node.name!r} ({op}) cannot be rebuilt for verification",
                            hint="verify the converted .tflite instead")
    layer.name = name
    return layer


def _scalar(keras: Any, x: Any, function: str, v: float) -> Any:
    if function == "add":
        return x + v
    if function == "subtract":
        return x - v
    if function == "multiply":
        return x * v
    if function == "divide":
        return x / v
    return getattr(keras.ops, function)(x, v)  # maximum, minimum, power


def build_keras(graph: Graph) -> Any:
    """A functional Keras model equal to `graph`, batch 1, random weights."""
    import keras
    import numpy as np

    tensors: dict[str, Any] = {}
    inputs = []
    for node in graph.nodes:
        if node.op == "input":
            t = keras.Input(tuple(node.attrs["shape"]), batch_size=1,
                            name=node.name.replace("/", "_"))
            inputs.append(t)
            tensors[node.outputs[0]] = t
            continue
        args = [tensors[t] for t in node.inputs]
        if node.op == "scalar_math":
            tensors[node.outputs[0]] = _scalar(keras, args[0], node.attrs["function"],
                                               node.attrs["value"])
            continue
        layer = _layer_for(node, keras.layers)
        out = layer(args if len(args) > 1 else args[0])
        merge_activation = node.attrs.get("activation")
        if node.op in ("add", "subtract", "multiply", "maximum", "minimum", "average") and \
                merge_activation not in (None, "linear"):
            out = keras.layers.Activation(_act(merge_activation))(out)
        tensors[node.outputs[0]] = out
    model = keras.Model(inputs, [tensors[t] for t in graph.outputs], name=graph.name)
    rng = np.random.default_rng(0)
    for w in model.weights:
        value = rng.normal(0.0, 0.1, w.shape)
        if "variance" in w.path:
            value = np.abs(value) + 0.5
        w.assign(value.astype("float32"))
    return model
