"""`cnnaudit suggest`: what dominates, transformations re-audited and ranked, `--apply`
writing a spec, and the spec writer's round trip.

Expected numbers come from formulas or from auditing a spec written here by hand, never
from the suggestion code's own output.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import replace

import pytest
from conftest import EXAMPLES
from typer.testing import CliRunner

from cnnaudit import frontends
from cnnaudit.api import analyse, audit
from cnnaudit.atomic import write_atomic
from cnnaudit.boards import load_boards, select
from cnnaudit.cli import app
from cnnaudit.errors import CnnauditError, UsageError
from cnnaudit.frontends.yaml_spec import graph_from_spec
from cnnaudit.frontends.yaml_text import parse_text
from cnnaudit.ir import verify
from cnnaudit.report import Report
from cnnaudit.spec_writer import dump_spec, graph_to_spec
from cnnaudit.suggest import METRICS, Advice, Metrics, advise, applied_spec, suggest
from cnnaudit.verdict import Verdict

FASHION = EXAMPLES / "fashion_mnist_cnn.yaml"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))
BOARDS = load_boards(())
NANO33 = select(BOARDS, ["nano33"])
runner = CliRunner()


def conv_params(k: int, cin: int, filters: int) -> int:
    return (k * k * cin + 1) * filters


def dense_params(n_in: int, n_out: int) -> int:
    return (n_in + 1) * n_out


def out_len(size: int, k: int, stride: int = 1) -> int:
    return (size - k) // stride + 1  # valid padding


def fashion_params(size: int = 28, stride: int = 1, c2: int = 64, hidden: int = 128) -> int:
    """The lab's Fashion-MNIST CNN, counted by hand: conv64k3, pool2, conv{c2}k3, pool2,
    flatten, dense{hidden}, dense10."""
    s = out_len(size, 3, stride) // 2
    s = out_len(s, 3) // 2
    return (conv_params(3, 1, 64) + conv_params(3, 64, c2) + dense_params(s * s * c2, hidden)
            + dense_params(hidden, 10))


def by_kind(advice: Advice, kind: str):
    found = [s for s in advice.suggestions if s.kind == kind]
    assert found, f"no {kind} suggestion among {[s.kind for s in advice.suggestions]}"
    return found


@pytest.fixture(scope="module")
def fashion_f32() -> Advice:
    return advise(str(FASHION), ["nano33"], dtype="float32")


def test_fashion_float32_fails_and_the_binding_resource_is_named(fashion_f32):
    assert fashion_params() == 243_786  # the formula agrees with the lab
    assert fashion_f32.report.model.params == fashion_params()
    assert not fashion_f32.fits
    assert fashion_f32.report.boards[0].verdict is Verdict.FAIL
    # flash is furthest over budget: model flash + reserve against the 1 MiB budget
    board = NANO33[0]
    flash_use = (fashion_f32.report.model.flash_bytes + board.flash_reserved_bytes) \
        / board.flash_budget_bytes
    ram_use = max((fashion_f32.report.model.arena_bytes + board.ram_reserved_bytes)
                  / board.ram_budget_bytes,
                  fashion_f32.report.model.arena_bytes / board.arena_max_bytes)
    assert fashion_f32.binding == ("flash" if flash_use > ram_use else "RAM")
    assert fashion_f32.binding_board == "nano33"


def test_dominant_layers_and_their_shares(fashion_f32):
    params = {s.layer: s for s in fashion_f32.dominant if s.metric == "params"}
    assert next(iter(params)) == "dense"  # the largest first
    assert params["dense"].value == dense_params(5 * 5 * 64, 128)
    assert params["dense"].share == pytest.approx(dense_params(1600, 128) / fashion_params())
    macs = [s for s in fashion_f32.dominant if s.metric == "macs"]
    assert macs[0].layer == "conv2d_1" and macs[0].value == 11 * 11 * 9 * 64 * 64
    # the arena peak and the tensors live there, largest first
    assert fashion_f32.report.model.peak_layer == "max_pool2d"
    assert fashion_f32.peak_tensors[0] == ("conv2d", 26 * 26 * 64 * 4)


def _applied(advice: Advice, rank: int, folder, dtype: str) -> Report:
    """Write suggestion `rank` as a spec file, then audit that file."""
    _, text = applied_spec(advice, rank, "new.yaml")
    path = folder / f"applied_{rank}.yaml"
    write_atomic(path, text)
    return audit(str(path), NANO33, dtype=dtype)


def test_gap_head_matches_a_hand_written_spec(fashion_f32, tmp_path):
    (gap,) = by_kind(fashion_f32, "gap_head")
    expected = conv_params(3, 1, 64) + conv_params(3, 64, 64) + dense_params(64, 10)
    assert gap.after.params == expected == 38_218
    assert gap.before.params == fashion_params()
    assert set(gap.layers) == {"flatten", "dense", "dense_1"}
    # The flash estimate counts tensor names, so the hand-written spec names its layers the
    # way the suggestion does (Keras's names for GlobalAveragePooling2D and the classifier).
    hand = audit(graph_from_spec(parse_text("""
name: fashion_mnist_cnn
input: [28, 28, 1]
layers:
  - conv2d: {filters: 64, kernel: 3, activation: relu}
  - max_pool2d: 2
  - conv2d: {filters: 64, kernel: 3, activation: relu}
  - max_pool2d: 2
  - GlobalAveragePooling2D
  - dropout: 0.5
  - dense: {name: dense_1, units: 10, activation: softmax}
""")), NANO33, dtype="float32")
    assert hand.model.params == expected
    assert (gap.after.flash, gap.after.arena, gap.after.macs) == (
        hand.model.flash_bytes, hand.model.arena_bytes, hand.model.macs)
    applied = _applied(fashion_f32, gap.rank, tmp_path, "float32")
    assert applied.model.params == expected
    assert (applied.model.flash_bytes, applied.model.arena_bytes) == (
        hand.model.flash_bytes, hand.model.arena_bytes)
    assert gap.after.flash < gap.before.flash


def test_int8_matches_auditing_the_model_at_int8(fashion_f32, tmp_path):
    (q,) = by_kind(fashion_f32, "int8")
    hand = audit(str(FASHION), NANO33, dtype="int8")
    applied = _applied(fashion_f32, q.rank, tmp_path, q.dtype)
    assert applied.model.params == fashion_params()
    assert (applied.model.flash_bytes, applied.model.arena_bytes) == (
        hand.model.flash_bytes, hand.model.arena_bytes)
    assert q.dtype == "int8"
    assert q.after.params == q.before.params == fashion_params()
    assert (q.after.flash, q.after.arena) == (hand.model.flash_bytes, hand.model.arena_bytes)
    assert q.flips == (("nano33", "FAIL", hand.boards[0].verdict.value),)
    assert "dtype int8" in q.note or "--dtype int8" in q.note


def test_graph_changes_match_their_formulas(fashion_f32):
    halved = {s.layers[0]: s for s in by_kind(fashion_f32, "halve_filters")}
    assert halved["conv2d_1"].after.params == fashion_params(c2=32)  # most MACs
    assert halved["dense"].after.params == fashion_params(hidden=64)  # most params
    (stride,) = by_kind(fashion_f32, "stride2")
    assert stride.layers == ("conv2d",)  # it writes the tensor live at the peak
    assert stride.after.params == fashion_params(stride=2)
    (small,) = by_kind(fashion_f32, "smaller_input")
    assert small.after.params == fashion_params(size=14)
    (sep,) = by_kind(fashion_f32, "separable")
    assert sep.layers == ("conv2d_1",)
    separable = 3 * 3 * 64 + 64 * 64 + 64  # depthwise, pointwise, bias
    assert sep.after.params == fashion_params() - conv_params(3, 64, 64) + separable


def test_first_conv_on_one_channel_is_not_made_separable(fashion_f32):
    assert all(s.layers != ("conv2d",) for s in fashion_f32.suggestions if s.kind == "separable")
    assert any(d.startswith("depthwise separable conv2d ") for d in fashion_f32.dropped)


def test_ranking_puts_board_flips_first(fashion_f32):
    fixed = [sum(1 for _, old, _ in s.flips if old == "FAIL") for s in fashion_f32.suggestions]
    assert fixed == sorted(fixed, reverse=True)
    assert fixed[0] == 1
    assert [s.rank for s in fashion_f32.suggestions] == list(
        range(1, len(fashion_f32.suggestions) + 1))
    # among those that flip nothing, more flash (the binding resource) saved ranks first
    rest = [s for s, n in zip(fashion_f32.suggestions, fixed, strict=True) if n == 0]
    saved = [s.before.flash - s.after.flash for s in rest]
    assert saved == sorted(saved, reverse=True)


def _claims_hold(advice: Advice) -> None:
    for s in advice.suggestions:
        assert s.reduces
        for metric in s.reduces:
            assert s.after.get(metric) < s.before.get(metric), (s.title, metric)


@pytest.mark.parametrize("dtype", ["float32", "int8"])
@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_every_suggestion_applies_and_reaudits(path, dtype, tmp_path):
    advice = advise(str(path), ["nano33", "wio-terminal"], dtype=dtype)
    _claims_hold(advice)
    for s in advice.suggestions:
        verify(s.graph)
        _, text = applied_spec(advice, s.rank, "new.yaml")
        out = tmp_path / f"{s.rank}.yaml"
        write_atomic(out, text)
        report = audit(str(out), ["nano33", "wio-terminal"], dtype=s.dtype)
        assert [(r.name, r.output_shape, r.params) for r in report.layers] == [
            (r.name, r.output_shape, r.params) for r in s.report.layers]
        assert report.model.params == s.after.params
        assert report.model.macs == s.after.macs
        assert report.model.flash_bytes == s.after.flash
        assert report.model.arena_bytes == s.after.arena
        assert [b.verdict for b in report.boards] == [b.verdict for b in s.report.boards]
        assert f"Deploy at dtype {s.dtype}" in out.read_text()


def test_a_model_that_fits_gets_only_harmless_optional_gains():
    advice = advise(str(FASHION), ["nano33"], dtype="int8")
    assert advice.report.boards[0].verdict is Verdict.PASS and advice.fits
    assert all(s.kind != "int8" for s in advice.suggestions)  # already int8
    for s in advice.suggestions:
        assert s.optional and not s.worsens
        for metric in METRICS:
            assert s.after.get(metric) <= s.before.get(metric), (s.title, metric)
    result = run("suggest", str(FASHION), "--board", "nano33")
    assert result.exit_code == 0
    assert "Already fits nano33 at int8: nothing needs to change" in result.stdout
    assert "Optional gains" in result.stdout


def test_a_small_model_that_fits_gets_nothing_harmful():
    advice = advise("32x32x1 conv4k3 gap dense10:softmax", ["esp32"], dtype="int8")
    assert advice.fits
    for s in advice.suggestions:
        assert all(s.after.get(m) <= s.before.get(m) for m in METRICS)
        assert not s.worsens


def test_pool_earlier_before_the_peak_convolution():
    spec = "64x64x3 conv8k3same:relu conv32k3same:relu maxpool2 gap dense10"
    advice = advise(spec, ["nano33"], dtype="float32")
    assert not advice.fits  # 64x64x32 float32 activations alone are 512 KiB
    (pool,) = by_kind(advice, "pool_earlier")
    assert pool.layers == ("conv2d_1",)
    nodes = [n.op for n in pool.graph.nodes]
    assert nodes[nodes.index("max_pool2d") + 1] == "conv2d"
    # by hand: conv2d_1 then reads 32x32x8 and writes 32x32x32; the MACs of both convs
    conv1 = 64 * 64 * 8 * 9 * 3
    conv2 = 32 * 32 * 32 * 9 * 8
    assert pool.after.macs == conv1 + conv2 + 32 * 10
    assert pool.after.arena < pool.before.arena


def test_halving_that_breaks_a_residual_add_is_dropped_not_suggested():
    # `back` has the most params and MACs; halving it leaves 32 channels to add to 64
    spec = {"name": "res", "input": [32, 32, 64], "layers": [
        {"conv2d": {"name": "thin", "filters": 8, "kernel": 1}},
        {"conv2d": {"name": "back", "filters": 64, "kernel": 3, "padding": "same"}},
        {"add": {"name": "sum", "inputs": ["input", "back"]}},
        {"global_avg_pool2d": {"name": "gap"}},
        {"dense": {"name": "out", "units": 4}}]}
    advice = advise(spec, ["nano33"], dtype="float32")
    assert all(s.layers != ("back",) or s.kind != "halve_filters" for s in advice.suggestions)
    assert any("halve back's filters" in d and "does not audit" in d for d in advice.dropped)


def test_tflite_graphs_are_refused_with_a_usage_error():
    graph = replace(frontends.load(str(FASHION)), format="tflite")
    with pytest.raises(UsageError, match="needs a spec or a Keras model"):
        suggest(graph, NANO33)
    with pytest.raises(UsageError, match="TFLite operators"):
        graph_to_spec(graph)


def test_latency_is_carried_when_the_audit_has_it():
    report = audit(str(FASHION), NANO33)
    assert report.boards[0].latency_ms is not None
    assert Metrics.of(report).latency_ms == report.boards[0].latency_ms
    plain = replace(NANO33[0], latency=())  # a profile that names no kernels
    assert Metrics.of(audit(str(FASHION), [plain])).latency_ms is None
    assert Metrics.of(Report(report.model, report.layers, ())).latency_ms is None


# -- the spec writer --------------------------------------------------------------------
@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_spec_writer_round_trips_every_example(path):
    graph = frontends.load(str(path))
    again = graph_from_spec(parse_text(dump_spec(graph, "a header\nof two lines"), "x"),
                            file="x")
    assert [(n.name, n.op, dict(n.attrs), n.inputs) for n in again.nodes] == [
        (n.name, n.op, dict(n.attrs), n.inputs) for n in graph.nodes]
    assert again.outputs == graph.outputs and again.name == graph.name
    a, b = analyse(graph, NANO33), analyse(again, NANO33)
    assert [(r.name, r.output_shape, r.params) for r in a.layers] == [
        (r.name, r.output_shape, r.params) for r in b.layers]
    assert (a.model.flash_bytes, a.model.arena_bytes) == (b.model.flash_bytes,
                                                          b.model.arena_bytes)


def test_spec_writer_keeps_frozen_layers_and_writes_short_arguments():
    graph = frontends.load({"input": [8, 8, 2], "layers": [
        {"conv2d": {"filters": 4, "kernel": [3, 3], "strides": [1, 1], "trainable": False}},
        {"max_pool2d": {"pool": 2, "strides": 2}}, "flatten", {"dense": 3}]})
    doc = graph_to_spec(graph)
    conv = doc["layers"][0]["conv2d"]
    assert conv == {"name": "conv2d", "filters": 4, "kernel": 3, "trainable": False}
    assert doc["layers"][1] == {"max_pool2d": {"name": "max_pool2d"}}
    assert doc["input"] == [8, 8, 2]
    assert graph_from_spec(doc).nodes[1].trainable is False


def test_spec_writer_refuses_shared_weights():
    graph = frontends.load(str(FASHION))
    nodes = list(graph.nodes)
    nodes[-1] = replace(nodes[-1], shares_weights_of="dense")
    with pytest.raises(UsageError, match="share weights"):
        graph_to_spec(replace(graph, nodes=tuple(nodes)))


def test_write_atomic_replaces_and_leaves_no_temporary(tmp_path):
    out = tmp_path / "new.yaml"
    out.write_text("old")
    write_atomic(out, "new text\n")
    assert out.read_text() == "new text\n"
    assert [p.name for p in tmp_path.iterdir()] == ["new.yaml"]
    with pytest.raises(CnnauditError, match="cannot write"):
        write_atomic(tmp_path / "no" / "such" / "dir.yaml", "x")


# -- the command line -------------------------------------------------------------------
def run(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "160", "NO_COLOR": "1"})


def test_cli_prints_the_ranked_list():
    result = run("suggest", str(FASHION), "--board", "nano33", "--dtype", "float32")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Suggestions, best first" in out
    assert "global average pooling instead of flatten" in out
    assert "quantize to int8" in out
    assert "nano33 FAIL->PASS" in out
    assert "dense 84%" in out  # 204,928 of 243,786 params
    assert "peak at max_pool2d" in out
    assert out.index("quantize to int8") < out.index("halve conv2d_1's filters")


def test_cli_apply_writes_a_spec_that_passes_where_the_original_failed(tmp_path):
    doc = json.loads(run("suggest", str(FASHION), "-b", "nano33", "--dtype", "float32",
                         "--format", "json").stdout)
    first = doc["suggestions"][0]
    assert first["boards_flipped"] == [{"board": "nano33", "before": "FAIL", "after": "PASS"}]
    new = tmp_path / "new.yaml"
    result = run("suggest", str(FASHION), "-b", "nano33", "--dtype", "float32",
                 "--apply", "1", "-o", str(new))
    assert result.exit_code == 0, result.output
    assert f"wrote {new}" in result.stdout
    assert run("check", str(FASHION), "--board", "nano33", "--dtype", "float32").exit_code == 1
    assert run("check", str(new), "--board", "nano33", "--dtype", first["dtype"]).exit_code == 0
    # the best change to the graph itself passes at float32 too
    graph_change = next(s for s in doc["suggestions"]
                        if s["dtype"] == "float32" and s["boards_flipped"])
    new2 = tmp_path / "graph.yaml"
    assert run("suggest", str(FASHION), "-b", "nano33", "--dtype", "float32", "--apply",
               str(graph_change["rank"]), "-o", str(new2)).exit_code == 0
    assert run("check", str(new2), "--board", "nano33", "--dtype", "float32").exit_code == 0


def test_cli_json_is_consistent(fashion_f32):
    doc = json.loads(run("suggest", str(FASHION), "-b", "nano33", "--dtype", "float32",
                         "-f", "json").stdout)
    assert doc["fits"] is False and doc["binding"] == fashion_f32.binding
    assert doc["now"]["params"] == fashion_params()
    assert [s["kind"] for s in doc["suggestions"]] == [s.kind for s in fashion_f32.suggestions]
    for s in doc["suggestions"]:
        for metric in s["reduces"]:
            key = metric if metric in ("params", "macs") else f"{metric}_bytes"
            assert s["after"][key] < s["before"][key]


@pytest.mark.parametrize(("args", "needle"), [
    (["--apply", "1"], "go together"),
    (["--apply", "99", "-o", "x.yaml"], "there are"),
    (["--format", "xml"], "unknown format"),
    (["--board", "nano34"], "did you mean 'nano33'"),
])
def test_cli_usage_errors_are_one_line(args, needle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["suggest", str(FASHION), *args])
    assert result.exit_code == 2
    assert needle in result.output and result.output.count("\n") == 1
    assert not (tmp_path / "x.yaml").exists()


def test_cli_suggest_on_a_keras_file(tmp_path):
    layers = [
        {"class_name": "InputLayer", "config": {"name": "in", "batch_shape": [None, 48, 48, 1]}},
        {"class_name": "Conv2D", "config": {"name": "c1", "filters": 32, "kernel_size": [3, 3],
                                            "activation": "relu"}},
        {"class_name": "MaxPooling2D", "config": {"name": "p1", "pool_size": [2, 2]}},
        {"class_name": "Flatten", "config": {"name": "f"}},
        {"class_name": "Dense", "config": {"name": "out", "units": 10}},
    ]
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", json.dumps(
            {"class_name": "Sequential", "config": {"name": "seq", "layers": layers}}))
    advice = advise(str(path), ["nano33"], dtype="float32")
    assert advice.report.model.params == conv_params(3, 1, 32) + dense_params(23 * 23 * 32, 10)
    assert not advice.fits
    (gap,) = by_kind(advice, "gap_head")
    assert gap.after.params == conv_params(3, 1, 32) + dense_params(32, 10)
    new = tmp_path / "gap.yaml"
    assert run("suggest", str(path), "-b", "nano33", "--dtype", "float32", "--apply",
               str(gap.rank), "-o", str(new)).exit_code == 0
    assert audit(str(new), [], dtype="float32").model.params == gap.after.params


def test_layers_sharing_weights_are_left_alone():
    graph = frontends.load(str(FASHION))
    nodes = [replace(n, shares_weights_of="conv2d") if n.name == "conv2d_1" else n
             for n in graph.nodes]
    advice = suggest(replace(graph, nodes=tuple(nodes)), NANO33, dtype="float32")
    assert advice.suggestions
    for s in advice.suggestions:
        assert not {"conv2d", "conv2d_1"} & set(s.layers), s.title
    with pytest.raises(UsageError, match="share weights"):
        applied_spec(advice, 1, "new.yaml")


def test_a_model_with_little_headroom_is_told_so_and_gets_room():
    path = str(EXAMPLES / "residual_block.yaml")
    advice = advise(path, ["nano33"], dtype="float32")
    assert advice.report.boards[0].verdict is Verdict.WARN and not advice.fits
    assert advice.binding == "RAM"  # 198 KiB of arena in a 209 KiB block; flash is tiny
    best = advice.suggestions[0]
    assert best.flips == (("nano33", "WARN", "PASS"),)
    result = run("suggest", path, "-b", "nano33", "--dtype", "float32")
    assert "Fits, but with little headroom on nano33" in result.stdout
    assert "nano33 WARN->PASS" in result.stdout


def test_claims_that_do_not_hold_and_broken_graphs_are_never_suggested(monkeypatch):
    """Registered transformations that lie or break the graph are dropped with the reason;
    an honest one is kept."""
    import cnnaudit.suggest as sg

    def liar(ctx):  # claims params, but the graph is unchanged
        return [sg.Candidate("liar", (), ctx.graph, ctx.dtype, ("params",), "none")]

    def breaker(ctx):  # a 9x9 kernel on the 5x5x64 map before flatten: shapes fail
        pool = next(n for n in ctx.graph.nodes if n.name == "max_pool2d_1")
        conv = sg._with(replace(pool, name="too_big", inputs=pool.outputs,
                                outputs=("too_big",)), "conv2d", filters=4, kernel=(9, 9))
        nodes = list(ctx.graph.nodes)
        nodes.insert(nodes.index(pool) + 1, conv)
        flatten = nodes.index(next(n for n in nodes if n.op == "flatten"))
        nodes[flatten] = replace(nodes[flatten], inputs=("too_big",))
        return [sg.Candidate("breaker", ("too_big",), sg._rebuild(ctx, nodes), ctx.dtype,
                             ("params",), "none")]

    monkeypatch.setattr(sg, "TRANSFORMATIONS", [])
    for fn in (liar, breaker, sg.int8):
        sg.transformation(fn)
    advice = suggest(frontends.load(str(FASHION)), NANO33, dtype="float32")
    assert [s.kind for s in advice.suggestions] == ["int8"]
    assert any(d.startswith("liar: does not reduce params") for d in advice.dropped)
    assert any(d.startswith("breaker: the changed graph does not audit") and "too_big" in d
               for d in advice.dropped)


def test_cli_suggest_reads_the_project_file(tmp_path, monkeypatch):
    """Boards and dtype come from cnnaudit.yaml as they do for `check`; flags still win."""
    (tmp_path / "cnnaudit.yaml").write_text("boards: [nano33]\ndtype: float32\n")
    monkeypatch.chdir(tmp_path)
    path = str(EXAMPLES / "residual_block.yaml")
    doc = json.loads(run("suggest", path, "--format", "json").stdout)
    assert [b["id"] for b in doc["boards"]] == ["nano33"]
    assert doc["model"]["dtype"] == "float32"
    doc = json.loads(run("suggest", path, "--format", "json", "--dtype", "int8", "-b",
                         "esp32").stdout)
    assert [b["id"] for b in doc["boards"]] == ["esp32"] and doc["model"]["dtype"] == "int8"
    doc = json.loads(run("suggest", path, "--format", "json", "--no-config").stdout)
    assert len(doc["boards"]) > 1 and doc["model"]["dtype"] == "int8"
