"""Saved Keras models (.keras, Keras 3 .h5, tf.keras 2.x .h5) judged by Keras itself.

The tests build the corpus, save it, and compare cnnaudit's params and every layer's
output shape with what Keras reports. A guard runs the audits in a process where
TensorFlow and Keras cannot be imported; hostile files must be refused without running.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cnnaudit import audit
from cnnaudit.errors import SpecError

pytestmark = pytest.mark.slow

try:
    import keras
except ImportError:  # pragma: no cover - CI sets CNNAUDIT_REQUIRE_ORACLES
    keras = None

needs_keras = pytest.mark.skipif(keras is None and not os.environ.get("CNNAUDIT_REQUIRE_ORACLES"),
                                 reason="Keras is not installed")
L = keras.layers if keras is not None else None


# -- the corpus -------------------------------------------------------------------------
def _app(name: str, **kw: Any) -> Callable[[], Any]:
    return lambda: getattr(keras.applications, name)(weights=None, **kw)


def _sequential_cnn() -> Any:
    return keras.Sequential([
        keras.Input((28, 28, 1)), L.Conv2D(16, 3, activation="relu"), L.MaxPooling2D(),
        L.Conv2D(32, 3, padding="same"), L.BatchNormalization(), L.ReLU(6.0),
        L.GlobalAveragePooling2D(), L.Dropout(0.2), L.Dense(10, activation="softmax"),
    ], name="seq_cnn")


def _residual() -> Any:
    i = keras.Input((32, 32, 3), name="image")
    s = L.Conv2D(16, 3, padding="same", activation="relu", name="stem")(i)
    a = L.Conv2D(16, 3, padding="same", activation="relu", name="a")(s)
    b = L.Conv2D(16, 3, padding="same", name="b")(a)
    x = L.Add(name="sum")([s, b])
    x = L.Activation("relu", name="act")(x)
    x = L.SeparableConv2D(32, 3, strides=2, padding="same", name="sep")(x)
    x = L.GlobalMaxPooling2D(name="gmp")(x)
    return keras.Model(i, L.Dense(10, name="head")(x), name="residual")


def _nested_shared_multi_io() -> Any:
    inner = keras.Sequential([keras.Input((8,)), L.Dense(4, name="i1")], name="inner")
    a, b = keras.Input((8,), name="a"), keras.Input((8,), name="b")
    shared = L.Dense(8, name="shared")
    y1, y2 = inner(shared(a)), inner(shared(b))
    cat = L.Concatenate(name="cat")([y1, y2])
    return keras.Model([a, b], [L.Dense(3, name="out1")(cat), y1], name="nested_shared")


def _backbone_in_functional() -> Any:
    backbone = keras.applications.MobileNetV2(input_shape=(64, 64, 3), alpha=0.35,
                                              include_top=False, weights=None)
    i = keras.Input((64, 64, 3), name="pixels")
    x = L.Rescaling(1 / 127.5, offset=-1, name="scale")(i)
    x = backbone(x)
    x = L.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(i, L.Dense(5, name="cls")(x), name="transfer")


def _squeeze_excite_ops() -> Any:
    i = keras.Input((16, 16, 8), name="x")
    s = L.GlobalAveragePooling2D(keepdims=True, name="sq")(i)
    s = L.Conv2D(8, 1, name="ex")(s)
    s = L.ReLU(6.0, name="r6")(s + 3.0) * (1.0 / 6.0)  # hard sigmoid as keras.src.ops
    y = L.Multiply(name="gate")([i, s])
    return keras.Model(i, L.Conv2D(4, 1, name="proj")(y), name="se_ops")


def _conv1d() -> Any:
    i = keras.Input((128, 6), name="imu")
    x = L.Conv1D(16, 5, padding="causal", dilation_rate=2, name="c1")(i)
    x = L.DepthwiseConv1D(3, name="dw")(x)
    x = L.MaxPooling1D(2, name="mp")(x)
    x = L.LayerNormalization(name="ln")(x)
    x = L.GlobalAveragePooling1D(name="gap")(x)
    return keras.Model(i, L.Dense(4, name="d")(x), name="imu_1d")


def _autoencoder() -> Any:
    i = keras.Input((28, 28, 1), name="img")
    x = L.ZeroPadding2D(2, name="pad")(i)
    x = L.Conv2D(8, 3, strides=2, padding="same", name="enc")(x)
    x = L.Conv2DTranspose(8, 3, strides=2, padding="same", name="dec")(x)
    x = L.UpSampling2D(name="up")(x)
    x = L.Cropping2D(((2, 2), (2, 2)), name="crop")(x)
    x = L.Conv2D(1, 3, padding="same", name="out")(x)
    return keras.Model(i, x, name="autoencoder")


def _frozen() -> Any:
    m = keras.Sequential([keras.Input((20,)), L.Dense(16, name="d1"), L.Dense(4, name="d2")],
                         name="frozen")
    m.get_layer("d1").trainable = False
    return m


CORPUS: dict[str, Callable[[], Any]] = {
    "seq_cnn": _sequential_cnn,
    "residual": _residual,
    "nested_shared": _nested_shared_multi_io,
    "transfer": _backbone_in_functional,
    "se_ops": _squeeze_excite_ops,
    "imu_1d": _conv1d,
    "autoencoder": _autoencoder,
    "frozen": _frozen,
    "mobilenet": _app("MobileNet", input_shape=(96, 96, 3), alpha=0.25),
    "mobilenet_v2": _app("MobileNetV2", input_shape=(96, 96, 3), alpha=0.35),
    "mobilenet_v3_small": _app("MobileNetV3Small", input_shape=(96, 96, 3), minimalistic=False),
    "mobilenet_v3_large": _app("MobileNetV3Large", input_shape=(64, 64, 3)),
    "efficientnet_b0": _app("EfficientNetB0", input_shape=(64, 64, 3)),
    "resnet50": _app("ResNet50", input_shape=(64, 64, 3)),
    "densenet121": _app("DenseNet121", input_shape=(64, 64, 3)),
    "nasnet_mobile": _app("NASNetMobile", input_shape=(96, 96, 3)),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Path, Path]]:
    if keras is None:
        pytest.fail("Keras is required for the oracle tests (pip install -e '.[test]')")
    out = tmp_path_factory.mktemp("keras_corpus")
    built = {}
    for name, make in CORPUS.items():
        model = make()
        model.save(out / f"{name}.keras")
        model.save(out / f"{name}.h5")
        built[name] = (model, out / f"{name}.keras", out / f"{name}.h5")
    return built


def _expected_layers(model: Any, prefix: str = "") -> dict[str, tuple[int, ...]]:
    """Every call of every layer, named as cnnaudit names it: `prefix/layer`, `layer@k`."""
    out: dict[str, tuple[int, ...]] = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.Model):
            out.update(_expected_layers(layer, prefix + layer.name + "/"))
            continue
        calls = [n for n in layer._inbound_nodes if n.operation is layer]
        for k, node in enumerate(calls):
            name = prefix + (layer.name if k == 0 else f"{layer.name}@{k}")
            out[name] = tuple(node.output_tensors[0].shape[1:])
    return out


@needs_keras
@pytest.mark.parametrize("fmt", ["keras", "h5"])
@pytest.mark.parametrize("name", list(CORPUS))
def test_params_and_shapes_equal_keras(corpus, name, fmt):
    model, keras_path, h5_path = corpus[name]
    report = audit(keras_path if fmt == "keras" else h5_path, boards=[])
    assert report.model.params == model.count_params()
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    assert report.model.trainable_params == trainable
    got = {layer.name: layer.output_shape for layer in report.layers}
    expected = _expected_layers(model)
    wrong = {n: (s, got.get(n)) for n, s in expected.items() if got.get(n) != s}
    assert not wrong, f"layer shapes differ (keras, cnnaudit): {wrong}"
    assert not [w for w in report.warnings if "stores" in w], report.warnings


def test_tf_keras_2_h5_files(tmp_path):
    """Legacy tf.keras 2.x .h5: nested-list inbound nodes, batch_input_shape, TFOpLambda."""
    tf_keras = pytest.importorskip("tf_keras") if not os.environ.get(
        "CNNAUDIT_REQUIRE_ORACLES") else __import__("tf_keras")
    K = tf_keras
    inner = K.Sequential([K.layers.Dense(4, name="i1", input_shape=(8,))], name="inner")
    a, b = K.Input((8,), name="a"), K.Input((8,), name="b")
    shared = K.layers.Dense(8, name="shared")
    cat = K.layers.Concatenate(name="cat")([inner(shared(a)), inner(shared(b))])
    nested = K.Model([a, b], [(cat + 3.0) * (1 / 6)], name="k2_nested")
    models = {
        "k2_nested": nested,
        "k2_seq": K.Sequential([K.layers.Conv2D(8, 3, input_shape=(28, 28, 1)),
                                K.layers.Flatten(), K.layers.Dense(10)]),
        "k2_mobilenet_v2": K.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35,
                                                      weights=None),
        "k2_mobilenet_v3_small": K.applications.MobileNetV3Small(input_shape=(96, 96, 3),
                                                                 weights=None),
    }
    for name, model in models.items():
        path = tmp_path / f"{name}.h5"
        model.save(path)
        report = audit(path, boards=[])
        assert report.model.params == model.count_params(), name
        assert report.model.output_shapes == tuple(
            tuple(o.shape[1:]) for o in model.outputs), name
        assert not report.warnings, (name, report.warnings)


# -- guard: no TensorFlow, no Keras -----------------------------------------------------------
BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'):
            raise ImportError('blocked by the test: ' + name)
sys.meta_path.insert(0, Block())
sys.argv = ['cnnaudit'] + sys.argv[1:]
from cnnaudit.cli import main
main()
"""


@needs_keras
@pytest.mark.parametrize("name", ["mobilenet_v2", "nested_shared", "se_ops"])
def test_audit_runs_where_tensorflow_cannot_be_imported(corpus, name):
    model, keras_path, h5_path = corpus[name]
    for path in (keras_path, h5_path):
        result = subprocess.run([sys.executable, "-c", BLOCKER, "check", str(path), "-b",
                                 "nano33", "-f", "json"], capture_output=True, text=True,
                                check=False)
        assert result.returncode in (0, 1), result.stderr
        assert json.loads(result.stdout)["model"]["params"] == model.count_params()


# -- hostile and odd files ------------------------------------------------------------------
@needs_keras
def test_lambda_is_never_executed(tmp_path):
    marker = tmp_path / "ran.txt"

    def touch(x):  # would leave a marker if anything ever ran it
        marker.write_text("ran")
        return x * 2.0

    i = keras.Input((4,), name="x")
    hidden = L.Lambda(touch, name="evil_mid")(L.Dense(4, name="d")(i))
    tail = L.Lambda(touch, name="evil_tail")(L.Dense(3, name="d2")(hidden))
    model = keras.Model(i, tail, name="lambdas")
    path = tmp_path / "lambda.keras"
    model.save(path)
    marker.unlink()

    cmd = [sys.executable, "-m", "cnnaudit", "check", str(path), "-b", "nano33"]
    refused = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert refused.returncode == 2
    assert "evil_tail" in refused.stderr and "Lambda" in refused.stderr
    assert "--override evil_tail=" in refused.stderr
    assert "Traceback" not in refused.stderr

    report = audit(path, boards=[], overrides={"evil_tail": (3,)})
    assert report.layers[-1].output_shape == (3,)
    assert report.model.params == 4 * 4 + 4 + 4 * 3 + 3
    assert any("evil_mid" in w and "not executed" in w for w in report.warnings)
    assert not marker.exists()


def test_zip_bomb_is_refused(tmp_path):
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", b" " * (40 * 1024 * 1024))
    with pytest.raises(SpecError) as info:
        audit(path, boards=[])
    assert "zip bomb" in str(info.value)


def test_deeply_nested_config_is_refused(tmp_path):
    path = tmp_path / "deep.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", '{"a":' * 100_000 + "1" + "}" * 100_000)
    with pytest.raises(SpecError) as info:
        audit(path, boards=[])
    assert "nested too deeply" in str(info.value)


def test_models_nested_beyond_the_limit_are_refused(tmp_path):
    config: dict[str, Any] = {"class_name": "Sequential", "config": {"name": "m0", "layers": [
        {"class_name": "InputLayer", "config": {"name": "in", "batch_shape": [None, 4]}},
        {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}}
    for depth in range(1, 40):
        config = {"class_name": "Sequential", "config": {"name": f"m{depth}", "layers": [
            {"class_name": "InputLayer", "config": {"name": "in", "batch_shape": [None, 4]}},
            config]}}
    path = tmp_path / "matryoshka.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", json.dumps(config))
    with pytest.raises(SpecError) as info:
        audit(path, boards=[])
    assert "nested more than" in str(info.value)


@pytest.mark.parametrize(("name", "data"), [
    ("garbage.keras", b"not a zip at all"),
    ("garbage.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 64),
    ("empty.h5", b""),
])
def test_corrupt_files_exit_2_without_traceback(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    result = subprocess.run([sys.executable, "-m", "cnnaudit", "check", str(path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


@needs_keras
def test_override_from_the_command_line(tmp_path):
    i = keras.Input((4,), name="x")
    out = L.Lambda(lambda t: t * 2.0, name="double")(L.Dense(3, name="d")(i))
    path = tmp_path / "lam.h5"
    keras.Model(i, out).save(path)
    base = [sys.executable, "-m", "cnnaudit", "check", str(path), "-b", "nano33", "-f", "json"]
    ok = subprocess.run([*base, "--override", "double=[3]"], capture_output=True, text=True,
                        check=False)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["model"]["output_shapes"] == [[3]]
    bad = subprocess.run([*base, "--override", "double=three"], capture_output=True, text=True,
                         check=False)
    assert bad.returncode == 2 and "cannot read --override" in bad.stderr
    typo = subprocess.run([*base, "--override", "dubble=[3]"], capture_output=True, text=True,
                          check=False)
    assert typo.returncode == 2 and "--override double=" in typo.stderr
