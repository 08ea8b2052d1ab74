""".tflite files judged by the TFLite converter and interpreter.

The tests build Keras models, convert them (float32, full int8, float16, dynamic range),
and compare what cnnaudit reads with the TFLite interpreter's tensor details, the file's
own bytes and an independent MAC count from the Keras model.
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cnnaudit import audit
from cnnaudit.errors import CnnauditError
from cnnaudit.frontends.tflite_file import load_tflite_file
from cnnaudit.verdict import Verdict

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


def _seq(layers: Callable[[], list[Any]], shape: tuple[int, ...]) -> Callable[[], Any]:
    # batch 1, as models for microcontrollers are converted (no run-time shape ops)
    return lambda: keras.Sequential([keras.Input(shape, batch_size=1), *layers()])


def _residual() -> Any:
    i = keras.Input((16, 16, 3), batch_size=1)
    s = L.Conv2D(8, 3, padding="same", activation="relu")(i)
    b = L.Conv2D(8, 3, padding="same")(s)
    x = L.Activation("relu")(L.Add()([s, b]))
    return keras.Model(i, L.Dense(4)(L.GlobalAveragePooling2D()(x)))


def _inception() -> Any:
    i = keras.Input((16, 16, 4), batch_size=1)
    a = L.Conv2D(4, 1, activation="relu")(i)
    b = L.Conv2D(4, 3, padding="same", activation="relu6")(i)
    c = L.MaxPooling2D(3, strides=1, padding="same")(i)
    x = L.Concatenate()([a, b, c])
    return keras.Model(i, L.Dense(3, activation="softmax")(L.GlobalMaxPooling2D()(x)))


CORPUS: dict[str, Callable[[], Any]] = {
    "fashion": _seq(lambda: [L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(),
                             L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(), L.Flatten(),
                             L.Dense(128, activation="relu"), L.Dropout(0.5),
                             L.Dense(10, activation="softmax")], shape=(28, 28, 1)),
    "strided_same": _seq(lambda: [L.Conv2D(8, 3, strides=2, padding="same"),
                                  L.BatchNormalization(), L.ReLU(6.0),
                                  L.AveragePooling2D(2), L.Flatten(), L.Dense(5)],
                         shape=(32, 32, 3)),
    "depthwise_separable": _seq(lambda: [L.Conv2D(8, 3, padding="same"),
                                         L.DepthwiseConv2D(3, depth_multiplier=2),
                                         L.SeparableConv2D(16, 3, padding="same",
                                                           activation="relu"),
                                         L.GlobalAveragePooling2D(), L.Dense(4)],
                                shape=(24, 24, 3)),
    "conv1d": _seq(lambda: [L.Conv1D(8, 5, activation="relu"), L.MaxPooling1D(2),
                            L.Conv1D(8, 3, padding="same"), L.GlobalAveragePooling1D(),
                            L.Dense(3)], shape=(64, 6)),
    "residual": _residual,
    "inception": _inception,
    "autoencoder": _seq(lambda: [L.Conv2D(8, 3, strides=2, padding="same"),
                                 L.Conv2DTranspose(8, 3, strides=2, padding="same"),
                                 L.ZeroPadding2D(1), L.Cropping2D(1),
                                 L.Conv2D(1, 3, padding="same", activation="sigmoid")],
                        shape=(16, 16, 1)),
    "dense_rank3": _seq(lambda: [L.Dense(8, activation="tanh"), L.Flatten(), L.Dense(2)],
                        shape=(10, 4)),
    "mlp": _seq(lambda: [L.Dense(32, activation="relu"), L.Dense(16), L.LeakyReLU(),
                         L.Dense(4, activation="softmax")], shape=(20,)),
    "padding_pool": _seq(lambda: [L.ZeroPadding2D(((1, 0), (0, 1))), L.Conv2D(4, 2),
                                  L.MaxPooling2D(2, strides=1), L.Flatten(), L.Dense(3)],
                         shape=(9, 9, 2)),
    "hard_swish": _seq(lambda: [L.Conv2D(8, 3), L.Activation("hard_swish"),
                                L.Conv2D(8, 1, activation="sigmoid"),
                                L.GlobalAveragePooling2D(), L.Dense(2)], shape=(12, 12, 3)),
    "mobilenet025": lambda: keras.applications.MobileNet(
        input_tensor=keras.Input((96, 96, 3), batch_size=1), alpha=0.25, weights=None,
        classes=2),
}


def _randomize(model: Any) -> None:
    """Non-zero weights everywhere: the converter drops all-zero biases."""
    rng = np.random.default_rng(0)
    for w in model.weights:
        if "moving_variance" in w.path:
            w.assign(rng.uniform(0.5, 1.5, w.shape).astype("float32"))
        else:
            w.assign(rng.normal(0, 0.1, w.shape).astype("float32"))


def _convert(model: Any, mode: str) -> bytes:
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode in ("int8", "dynamic", "float16"):
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "int8":
        shape = tuple(model.inputs[0].shape[1:])
        rng = np.random.default_rng(1)
        conv.representative_dataset = lambda: (
            [rng.random((1, *shape), dtype=np.float32)] for _ in range(8))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    if mode == "float16":
        conv.target_spec.supported_types = [tf.float16]
    return conv.convert()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Path]]:
    out = tmp_path_factory.mktemp("tflite_corpus")
    built: dict[str, tuple[Any, Path]] = {}
    for name, make in CORPUS.items():
        model = make()
        _randomize(model)
        for mode in ("float32", "int8"):
            path = out / f"{name}_{mode}.tflite"
            path.write_bytes(_convert(model, mode))
            built[f"{name}_{mode}"] = (model, path)
    big = CORPUS["fashion"]()
    _randomize(big)
    for mode in ("float16", "dynamic"):
        path = out / f"fashion_{mode}.tflite"
        path.write_bytes(_convert(big, mode))
        built[f"fashion_{mode}"] = (big, path)
    return built


def _keras_macs(model: Any) -> int:
    """MACs counted from the Keras model's own layers (independent of cnnaudit)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += _keras_macs(layer)
            continue
        if not layer._inbound_nodes or isinstance(layer, L.InputLayer):
            continue
        node = layer._inbound_nodes[0]
        out = tuple(node.output_tensors[0].shape[1:])
        cin = node.input_tensors[0].shape[-1]
        cfg = layer.get_config()
        if isinstance(layer, L.SeparableConv2D):
            mid = cin * cfg["depth_multiplier"]
            spatial = math.prod(out[:-1])
            total += spatial * mid * math.prod(cfg["kernel_size"]) + spatial * mid * out[-1]
        elif isinstance(layer, L.DepthwiseConv2D):
            total += math.prod(out) * math.prod(cfg["kernel_size"])
        elif isinstance(layer, L.Conv2DTranspose):
            total += math.prod(node.input_tensors[0].shape[1:]) * math.prod(
                cfg["kernel_size"]) * cfg["filters"]
        elif isinstance(layer, (L.Conv1D, L.Conv2D)):
            total += math.prod(out) * math.prod(cfg["kernel_size"]) * cin // cfg["groups"]
        elif isinstance(layer, L.Dense):
            total += math.prod(out) * cin
    return total


def _interpreter_facts(path: Path) -> tuple[list[tuple[int, ...]], int]:
    """Output shapes of every operator in execution order, and the bytes of every constant
    tensor, as the TFLite interpreter reports them."""
    interp = tf.lite.Interpreter(model_path=str(path))
    details = {d["index"]: d for d in interp.get_tensor_details()}
    ops = interp._get_ops_details()
    produced = {t for op in ops for t in op["outputs"]}
    inputs = {d["index"] for d in interp.get_input_details()}
    shapes = []
    for op in ops:
        for t in op["outputs"]:
            shape = tuple(int(d) for d in details[t]["shape"])
            shapes.append(shape[1:] if len(shape) >= 2 and shape[0] == 1 else shape)
    constant = 0
    seen: set[int] = set()
    for op in ops:
        for position, t in enumerate(op["inputs"]):
            if t < 0 or t in produced or t in inputs or t in seen:
                continue
            seen.add(t)
            d = details[t]
            if d["dtype"] in (np.int32, np.int64) and not (
                    (op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
                    and position == 2) or (op["op_name"] == "TRANSPOSE_CONV" and position == 3)):
                continue  # shape-like operands (RESHAPE's new shape, PAD's paddings)
            constant += int(np.prod(d["shape"])) * np.dtype(d["dtype"]).itemsize
    return shapes, constant


@pytest.mark.parametrize("case", [f"{n}_{m}" for n in CORPUS for m in ("float32", "int8")]
                         + ["fashion_float16", "fashion_dynamic"])
def test_tflite_matches_the_interpreter(corpus, case):
    model, path = corpus[case]
    report = audit(path, boards=[])
    shapes, constant_bytes = _interpreter_facts(path)
    ours = [layer.output_shape for layer in report.layers if layer.type != "input"]
    assert ours == shapes
    m = report.model
    assert m.flash_bytes == path.stat().st_size
    assert m.flash_breakdown["weights"] + m.flash_breakdown["biases"] == constant_bytes
    assert m.macs == _keras_macs(model)
    expected_dtype = {"int8": "int8", "float32": "float32", "float16": "float16",
                      "dynamic": "int8"}[case.rsplit("_", 1)[1]]
    assert m.dtype == expected_dtype


def test_dynamic_batch_is_flagged(tmp_path):
    model = keras.Sequential([keras.Input((5, 5, 2)), L.Flatten(), L.Dense(3)])
    _randomize(model)
    path = tmp_path / "dyn.tflite"
    path.write_bytes(_convert(model, "float32"))
    report = audit(path, boards=[])
    assert [f.rule for f in report.findings] == ["fixed_batch"]


def test_int8_model_flags_nothing_and_fits(corpus):
    _, path = corpus["mobilenet025_int8"]
    report = audit(path, boards=["nano33"])
    assert report.findings == ()
    assert report.boards[0].verdict in (Verdict.PASS, Verdict.WARN)
    assert all(layer.info.startswith("int8") for layer in report.layers
               if layer.type in ("CONV_2D", "DEPTHWISE_CONV_2D"))
    assert any("per-channel" in layer.info for layer in report.layers)


def test_float16_and_dynamic_range_models_fail_every_board(corpus):
    for case, rule in (("fashion_float16", "float16_weights"),
                       ("fashion_dynamic", "no_hybrid_kernels")):
        report = audit(corpus[case][1], boards=["nano33", "esp32s3"])
        assert {f.rule for f in report.findings if f.severity == "error"} == {rule}, case
        assert all(b.verdict is Verdict.FAIL for b in report.boards)
        assert all(any("will not run" in r for r in b.reasons) for b in report.boards)


def test_custom_op_fails_every_board(tmp_path):
    class Cumprod(keras.layers.Layer):
        def call(self, x):
            return tf.math.cumprod(x, axis=-1)

    i = keras.Input((8,))
    model = keras.Model(i, Cumprod()(L.Dense(8)(i)))
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS,
                                      tf.lite.OpsSet.SELECT_TF_OPS]
    path = tmp_path / "flex.tflite"
    path.write_bytes(conv.convert())
    result = subprocess.run([sys.executable, "-m", "cnnaudit", "check", str(path)],
                            capture_output=True, text=True, check=False,
                            env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 1
    report = audit(path)
    assert len(report.boards) >= 12
    assert all(b.verdict is Verdict.FAIL for b in report.boards)
    assert all("FlexCumprod" in " ".join(b.reasons) for b in report.boards)


def test_resolver_lists_exactly_the_ops(corpus):
    _, path = corpus["mobilenet025_int8"]
    result = subprocess.run([sys.executable, "-m", "cnnaudit", "resolver", str(path), "-b",
                             "nano33"], capture_output=True, text=True, check=True)
    interp = tf.lite.Interpreter(model_path=str(path))
    names = {op["op_name"] for op in interp._get_ops_details()}
    calls = [line.strip() for line in result.stdout.splitlines()
             if line.strip().startswith("resolver.Add")]
    assert len(calls) == len(names)
    assert f"MicroMutableOpResolver<{len(names)}>" in result.stdout
    assert "resolver.AddConv2D();" in calls and "resolver.AddDepthwiseConv2D();" in calls
    arena = audit(path, boards=[]).model.arena_bytes
    size = int(result.stdout.split("kTensorArenaSize = ")[1].split(";")[0])
    assert arena * 1.1 <= size < arena * 1.1 + 1024


# -- damaged files ------------------------------------------------------------------------
def _mutants(data: bytes, n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = [data[:k] for k in (0, 4, 8, 16, 64, len(data) // 2, len(data) - 1)]
    for _ in range(n):
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(b))
            b[pos] = rng.randrange(256) if rng.random() < 0.5 else b[pos] ^ (1 << rng.randrange(8))
        out.append(bytes(b))
    return out


@pytest.mark.parametrize("case", ["fashion_int8", "residual_float32"])
def test_damaged_files_never_crash_or_hang(corpus, case, tmp_path):
    data = corpus[case][1].read_bytes()
    path = tmp_path / "mutant.tflite"
    for i, mutant in enumerate(_mutants(data, 300, seed=hash(case) % 1000)):
        path.write_bytes(mutant)
        start = time.perf_counter()
        try:
            load_tflite_file(path)
        except CnnauditError as exc:
            assert "\n" not in str(exc)
        assert time.perf_counter() - start < 2.0, f"mutant {i} took too long"


def test_not_a_flatbuffer_exits_2(tmp_path):
    path = tmp_path / "x.tflite"
    path.write_bytes(b"PK\x03\x04 this is a zip, not a flatbuffer" * 10)
    result = subprocess.run([sys.executable, "-m", "cnnaudit", "check", str(path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "TFL3" in result.stderr
