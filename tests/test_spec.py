"""The YAML spec frontend: both forms, Keras spellings, and one clear error per mistake."""

from __future__ import annotations

import pytest
from conftest import EXAMPLES

from cnnaudit import audit
from cnnaudit.errors import CnnauditError, ShapeError, SpecError


def test_sequential_and_graph_forms_agree(write_spec):
    seq = write_spec("""
input: [32, 32, 3]
layers:
  - conv2d: {filters: 8, kernel: 3, padding: same}
  - max_pool2d: 2
  - flatten
  - dense: 10
""", "seq.yaml")
    graph = write_spec("""
input: {name: image, shape: [32, 32, 3]}
layers:
  - conv2d: {name: c, inputs: [image], filters: 8, kernel: 3, padding: same}
  - max_pool2d: {name: p, inputs: c, pool: 2}
  - flatten: {name: f, inputs: [p]}
  - dense: {name: d, inputs: [f], units: 10}
outputs: [d]
""", "graph.yaml")
    a, b = audit(seq, boards=[]), audit(graph, boards=[])
    assert [x.output_shape for x in a.layers] == [x.output_shape for x in b.layers]
    assert a.model.params == b.model.params == 8 * 27 + 8 + 16 * 16 * 8 * 10 + 10


def test_keras_spelling_is_accepted(write_spec):
    path = write_spec("""
input: [28, 28, 1]
layers:
  - Conv2D: {filters: 4, kernel_size: [3, 3], strides: [1, 1], use_bias: false,
             dilation_rate: 1, kernel_initializer: he_normal, padding: valid}
  - MaxPooling2D: {pool_size: [2, 2]}
  - DepthwiseConv2D: {kernel_size: 3, depth_multiplier: 2, padding: same}
  - GlobalAveragePooling2D
  - Dense: {units: 10, activation: softmax}
""")
    report = audit(path, boards=[])
    assert [layer.type for layer in report.layers][1:] == [
        "conv2d", "max_pool2d", "depthwise_conv2d", "global_avg_pool2d", "dense"]
    assert report.layers[-1].output_shape == (10,)


def test_auto_names_follow_keras_and_skip_taken_names(write_spec):
    path = write_spec("""
input: [8]
layers:
  - dense: {units: 4, name: dense_1}
  - dense: 4
  - dense: 4
""")
    names = [layer.name for layer in audit(path, boards=[]).layers]
    assert names == ["input", "dense_1", "dense", "dense_2"]


def test_multiple_inputs_and_outputs(write_spec):
    path = write_spec("""
inputs:
  - {name: a, shape: [16]}
  - {name: b, shape: [8]}
layers:
  - dense: {name: da, inputs: a, units: 4}
  - dense: {name: db, inputs: b, units: 4}
  - add: {name: s, inputs: [da, db]}
  - dense: {name: head1, units: 2}
  - dense: {name: head2, inputs: s, units: 3}
outputs: [head1, head2]
""")
    report = audit(path, boards=[])
    assert report.model.input_shapes == ((16,), (8,))
    assert report.model.output_shapes == ((2,), (3,))


def test_unused_layer_is_reported_not_counted(write_spec):
    path = write_spec("""
input: {name: x, shape: [16]}
layers:
  - dense: {name: side, units: 100}
  - dense: {name: main, inputs: x, units: 2}
""")
    report = audit(path, boards=[])
    assert report.model.params == 34
    assert any("side" in w for w in report.warnings)


def test_json_spec_is_accepted(write_spec):
    path = write_spec('{"input": [4], "layers": [{"dense": 2}]}', "m.json")
    assert audit(path, boards=[]).model.params == 10


ERRORS = [
    # (spec, error class, line, substrings)
    ("input: [28, 28, 1]\nlayers:\n  - conv2d: {filters: 8, kernel: 3}\n  - conv2dd: 3\n",
     SpecError, 4, ["unknown layer 'conv2dd'", "did you mean 'conv2d'"]),
    ("input: [28, 28, 1]\nlayers:\n  - conv2d: {filters: 8, kernal: 3}\n",
     SpecError, 3, ["unknown argument 'kernal'", "did you mean 'kernel'"]),
    ("input: [28, 28, 1]\nlayers:\n  - conv2d:\n      filters: 8\n      kernel: three\n",
     SpecError, 5, ["argument 'kernel'", "expected an integer"]),
    ("input: [28, 28, 1]\nlayers:\n  - conv2d: {kernel: 3}\n",
     SpecError, 3, ["missing required argument 'filters'"]),
    ("layers:\n  - dense: 3\n", SpecError, None, ["no input shape"]),
    ("input: [12]\nlayers:\n  - dense: 2\n  - conv2d: {filters: 4, kernel: 5}\n",
     ShapeError, 4, ["needs a rank-3 input"]),
    ("input: [3, 3, 1]\nlayers:\n  - conv2d: {filters: 4, kernel: 5}\n",
     ShapeError, 3, ["kernel 5 larger than input 3 with padding valid"]),
    ("input: [8]\nlayers:\n  - dense: {name: a, units: 2}\n  - add: {inputs: [a, b]}\n",
     SpecError, 4, ["input 'b', which does not exist"]),
    ("input: {name: x, shape: [8]}\nlayers:\n  - dense: {name: a, inputs: b, units: 8}\n"
     "  - dense: {name: b, inputs: a, units: 8}\n",
     SpecError, None, ["cycle", "a -> b -> a"]),
    ("input: [8]\nlayers:\n  - dense: {name: a, units: 2}\n  - dense: {name: a, units: 2}\n",
     SpecError, 4, ["duplicate layer name 'a'", "line 3"]),
    ("input: {name: x, shape: [4, 4, 2]}\nlayers:\n  - conv2d: {name: c, filters: 3, kernel: 1}\n"
     "  - concatenate: {inputs: [x, c], axis: 1}\n",
     ShapeError, 4, ["differ outside the concatenation axis"]),
    ("input: {name: x, shape: [4, 4, 2]}\nlayers:\n  - conv2d: {name: c, filters: 3, kernel: 1}\n"
     "  - add: {inputs: [x, c]}\n",
     ShapeError, 4, ["do not match"]),
    ("input: [8]\nlayers:\n  - add: {}\n", SpecError, 3, ["at least 2 input"]),
    ("input: [8]\nlayers: [\n", SpecError, None, ["invalid YAML"]),
    ("input: [8]\ninput: [9]\nlayers: [dense]\n", SpecError, 2, ["duplicate key 'input'"]),
    ("inptu: [8]\nlayers: [flatten]\n", SpecError, 1, ["unknown top-level key", "'input'"]),
    ("name: CI\non: [push]\njobs: {}\n", SpecError, 1,
     ["not a cnnaudit model spec", "no `layers:`"]),
    ("input: [8, 0]\nlayers: [flatten]\n", SpecError, 1, ["must be >= 1"]),
    ("input: [28, 28, 1]\nlayers:\n  - conv2d: {filters: 8, kernel: 3, strides: 2, "
     "dilation_rate: 2}\n", SpecError, 3, ["dilation"]),
    ("input: [28, 28, 1]\nlayers:\n  - conv2d: {filters: 8, kernel: 3, data_format: "
     "channels_first}\n", SpecError, 3, ["channels-last"]),
    ("input: [4, 4, 4]\nlayers:\n  - reshape: [3, -1]\n", ShapeError, 3, ["cannot reshape"]),
    ("input: [8]\nlayers:\n  - dense: {units: 4, activation: relux}\n",
     SpecError, 3, ["unknown activation 'relux'"]),
]


@pytest.mark.parametrize(("text", "kind", "line", "needles"), ERRORS)
def test_errors_say_what_and_where(write_spec, text, kind, line, needles):
    path = write_spec(text)
    with pytest.raises(kind) as info:
        audit(path, boards=[])
    err = info.value
    assert err.file == str(path)
    if line is not None:
        assert err.line == line, str(err)
    message = str(err)
    assert "\n" not in message
    for needle in needles:
        assert needle in message


def test_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(CnnauditError):
        audit(tmp_path / "nope.yaml", boards=[])


def test_yaml_tags_are_never_constructed(write_spec):
    path = write_spec("input: !!python/object/apply:os.system ['echo pwned']\nlayers: [flatten]\n")
    with pytest.raises(SpecError):
        audit(path, boards=[])


def test_name_and_inputs_may_sit_beside_the_layer_type(write_spec):
    path = write_spec("""
input: {name: x, shape: [8]}
layers:
  - dense: {units: 4}
    name: left
  - dense: 4
    name: right
    inputs: x
  - add: {}
    inputs: [left, right]
""")
    report = audit(path, boards=[])
    assert [layer.name for layer in report.layers] == ["x", "left", "right", "add"]


def test_auto_names_follow_the_spelling_written(write_spec):
    path = write_spec("""
input: [8, 8, 1]
layers:
  - MaxPooling2D
  - max_pool2d
  - BatchNormalization
  - Flatten
""")
    names = [layer.name for layer in audit(path, boards=[]).layers]
    assert names == ["input", "max_pooling2d", "max_pool2d", "batch_normalization", "flatten"]


def test_fast_and_counting_yaml_readers_agree(monkeypatch):
    """libyaml (specs up to 1 MiB) and the pure-Python counting composer (larger texts)
    must read every example identically, line numbers included, and refuse the same
    alias bomb (the fast reader names the line of the collection using the alias)."""
    from cnnaudit.frontends import yaml_text

    def read(text: str):
        data = yaml_text.parse_text(text, "x.yaml")
        return repr(data), [getattr(data, "key_lines", None)]

    bomb = "a: &a [1, 1]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n"
    strict = yaml_text.Limits(max_yaml_aliases=4)
    for path in sorted(EXAMPLES.glob("*.yaml")):
        text = path.read_text()
        fast = read(text)
        monkeypatch.setattr(yaml_text, "_FAST_MAX_CHARS", 0)
        slow = read(text)
        monkeypatch.undo()
        assert fast == slow, path.name
    messages = []
    for chars in (1 << 20, 0):
        monkeypatch.setattr(yaml_text, "_FAST_MAX_CHARS", chars)
        with pytest.raises(SpecError) as info:
            yaml_text.parse_text(bomb, "bomb.yaml", strict)
        messages.append(str(info.value))
    assert [m.split(": ", 1)[1] for m in messages] == [
        "more than 4 YAML aliases (an alias bomb?); refusing"] * 2
