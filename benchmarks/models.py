"""The benchmark's models: one MobileNetV1-sized spec (a dict, also written as YAML) and the
Keras / .tflite files built from keras.applications with TensorFlow.

`python benchmarks/models.py CACHE_DIR` builds the missing files into CACHE_DIR; run.py calls
it in a subprocess so that the benchmark process itself never imports TensorFlow.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

# MobileNetV1 (alpha 0.25, 96x96x3): (pointwise filters, depthwise stride) per block.
_MNV1_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]
ALPHA = 0.25
INPUT = (96, 96, 3)
CLASSES = 2


def mobilenet_v1_spec() -> dict[str, Any]:
    """A MobileNetV1-sized spec: conv stem, 13 depthwise/pointwise pairs with batch norm +
    relu6, global average pooling, dense: 83 spec layers, 27 of them convolutions."""

    def bn_relu6() -> list[Any]:
        return [{"batch_norm": {}}, "relu6"]

    layers: list[Any] = [{"conv2d": {"filters": int(32 * ALPHA), "kernel": 3, "strides": 2,
                                     "padding": "same", "use_bias": False}}, *bn_relu6()]
    for filters, stride in _MNV1_BLOCKS:
        layers += [{"depthwise_conv2d": {"kernel": 3, "strides": stride, "padding": "same",
                                         "use_bias": False}}, *bn_relu6(),
                   {"conv2d": {"filters": int(filters * ALPHA), "kernel": 1,
                               "use_bias": False}}, *bn_relu6()]
    layers += ["global_avg_pool2d", {"dense": {"units": CLASSES, "activation": "softmax"}}]
    return {"name": "mobilenet_v1_025_96", "input": list(INPUT), "layers": layers}


def spec_yaml() -> str:
    """The spec as YAML text (flow style per layer, as a person would write it)."""
    spec = mobilenet_v1_spec()
    lines = [f"name: {spec['name']}", f"input: {spec['input']}", "layers:"]
    for layer in spec["layers"]:
        if isinstance(layer, str):
            lines.append(f"  - {layer}")
        else:
            (kind, args), = layer.items()
            body = ", ".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}"
                             for k, v in args.items())
            lines.append(f"  - {kind}: {{{body}}}")
    return "\n".join(lines) + "\n"


def keras_from_spec(keras: Any) -> Any:
    """The same network in Keras (batch 1, as models for microcontrollers are converted)."""
    L = keras.layers
    x = i = keras.Input(INPUT, batch_size=1)
    for layer in mobilenet_v1_spec()["layers"]:
        kind, args = (layer, {}) if isinstance(layer, str) else next(iter(layer.items()))
        if kind == "conv2d":
            x = L.Conv2D(args["filters"], args["kernel"], strides=args.get("strides", 1),
                         padding=args.get("padding", "valid"), use_bias=args["use_bias"])(x)
        elif kind == "depthwise_conv2d":
            x = L.DepthwiseConv2D(args["kernel"], strides=args["strides"],
                                  padding=args["padding"], use_bias=args["use_bias"])(x)
        elif kind == "batch_norm":
            x = L.BatchNormalization()(x)
        elif kind == "relu6":
            x = L.ReLU(6.0)(x)
        elif kind == "global_avg_pool2d":
            x = L.GlobalAveragePooling2D()(x)
        elif kind == "dense":
            x = L.Dense(args["units"], activation=args["activation"])(x)
        else:  # pragma: no cover
            raise ValueError(kind)
    return keras.Model(i, x, name="mobilenet_v1_025_96")


def he_init(model: Any) -> Any:
    """Re-draw every conv/dense kernel with He scaling (std sqrt(2 / fan_in), fan_in = what
    one output reads). Keras's default Glorot init makes activations vanish through 27
    relu6 layers; the int8 converter then gives SOFTMAX an input scale so small that TFLite
    Micro aborts in QuantizeMultiplierGreaterThanOne. Trained weights do not have this."""
    import numpy as np

    rng = np.random.default_rng(0)
    for layer in _leaf_layers(model):
        kind = type(layer).__name__
        if kind not in ("Conv2D", "DepthwiseConv2D", "Dense"):
            continue
        weights = layer.get_weights()
        k = weights[0]
        fan_in = k.shape[0] * k.shape[1] if kind == "DepthwiseConv2D" else int(
            np.prod(k.shape[:-1]))
        weights[0] = rng.normal(0.0, (2.0 / fan_in) ** 0.5, k.shape).astype("float32")
        layer.set_weights(weights)
    return model


def _leaf_layers(model: Any) -> list[Any]:
    out = []
    for layer in model.layers:
        out += _leaf_layers(layer) if hasattr(layer, "layers") else [layer]
    return out


def convert(tf: Any, model: Any, int8: bool) -> bytes:
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        import numpy as np

        he_init(model)
        shape = tuple(model.inputs[0].shape[1:])
        rng = np.random.default_rng(0)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: (
            [rng.random((1, *shape), dtype=np.float32)] for _ in range(4))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    return conv.convert()


# file name -> what it is (run.py prints these)
FILES = {
    "spec_mnv1.yaml": "MobileNetV1-sized spec (alpha 0.25, 96x96x3), 83 spec layers",
    "mnv2_035_96.keras": "keras.applications.MobileNetV2 alpha 0.35, 96x96x3",
    "mnv2_035_96.h5": "the same MobileNetV2 0.35, legacy .h5",
    "resnet50_224.keras": "keras.applications.ResNet50, 224x224x3, weights=None",
    "mnv1_025_96_int8.tflite": "keras.applications.MobileNet alpha 0.25, 96x96x3, full int8",
    "mnv2_100_224_f32.tflite": "keras.applications.MobileNetV2 alpha 1.0, 224x224x3, float32",
    "spec_mnv1_int8.tflite": "the spec's network built in Keras, converted to full int8",
}


def build(cache: Path) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    spec = cache / "spec_mnv1.yaml"
    if not spec.exists():
        spec.write_text(spec_yaml())
    missing = [name for name in FILES if not (cache / name).exists()]
    if not missing:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    apps = keras.applications

    def save(name: str, make: Any) -> None:
        if (cache / name).exists():
            return
        print(f"  building {name} ...", file=sys.stderr, flush=True)
        tmp = cache / f"tmp-{name}"
        result = make()
        if isinstance(result, bytes):
            tmp.write_bytes(result)
        else:
            result.save(tmp)
        tmp.replace(cache / name)
        keras.backend.clear_session()

    def inp(shape: tuple[int, ...]) -> Any:
        return keras.Input(shape, batch_size=1)

    save("mnv2_035_96.keras", lambda: apps.MobileNetV2((96, 96, 3), alpha=0.35, weights=None))
    save("mnv2_035_96.h5", lambda: apps.MobileNetV2((96, 96, 3), alpha=0.35, weights=None))
    save("resnet50_224.keras", lambda: apps.ResNet50(weights=None))
    save("mnv1_025_96_int8.tflite", lambda: convert(tf, apps.MobileNet(
        input_tensor=inp((96, 96, 3)), alpha=0.25, weights=None, classes=2), int8=True))
    save("mnv2_100_224_f32.tflite", lambda: convert(tf, apps.MobileNetV2(
        input_tensor=inp((224, 224, 3)), alpha=1.0, weights=None), int8=False))
    save("spec_mnv1_int8.tflite", lambda: convert(tf, keras_from_spec(keras), int8=True))


if __name__ == "__main__":
    build(Path(sys.argv[1]))
