"""Fast paths (rule memos, precomputed tables, per-node keys) must not change any number:
every example audited with them on (cold and warm) equals the report built with every
fast path switched off (ops/memo.py ENABLED)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

import cnnaudit
from cnnaudit import api
from cnnaudit.ops import memo

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml")) + sorted(
    (ROOT / "examples" / "mlperf").glob("*.yaml"))
DTYPES = ("int8", "float32", "float16")


def _reference(model: object, dtype: str) -> dict:
    memo.ENABLED = False
    try:
        api._REPORTS.clear()
        return cnnaudit.audit(copy.deepcopy(model), None, dtype=dtype).to_dict()
    finally:
        memo.ENABLED = True
        api._REPORTS.clear()


def _fast(model: object, dtype: str) -> dict:
    api._REPORTS.clear()
    return cnnaudit.audit(copy.deepcopy(model), None, dtype=dtype).to_dict()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_match_reference(path: Path) -> None:
    for dtype in DTYPES:
        want = _reference(str(path), dtype)
        memo.clear()
        assert _fast(str(path), dtype) == want, (path.name, dtype, "cold")
        assert _fast(str(path), dtype) == want, (path.name, dtype, "warm")


def test_candidate_stream_matches_reference() -> None:
    """Variants of one net (as a search loop makes them) share layers: warm memos across
    distinct candidates must give each one its own numbers."""
    base = yaml.safe_load((ROOT / "examples" / "mlperf" / "vww_mobilenet_v1.yaml").read_text())
    specs = []
    for width, side in ((8, 96), (16, 96), (8, 112), (24, 128), (16, 96)):
        layers = [{"conv2d": {**layer["conv2d"], "filters": width}}
                  if isinstance(layer, dict) and "conv2d" in layer else layer
                  for layer in base["layers"]]
        specs.append({**base, "input": [side, side, base["input"][2]], "layers": layers})
    for dtype in ("int8", "float32"):
        want = [_reference(s, dtype) for s in specs]
        memo.clear()
        assert [_fast(s, dtype) for s in specs] == want


def test_examples_as_dicts_match_reference() -> None:
    """A spec given as a plain dict takes every fast path (its layers' readings, nodes and
    operators are shared between audits): every example, audited one after another with
    warm memos, in every dtype, twice, equals its reference."""
    specs = [yaml.safe_load(p.read_text()) for p in EXAMPLES]
    for dtype in DTYPES:
        want = [_reference(s, dtype) for s in specs]
        memo.clear()
        for _ in range(2):
            got = [_fast(s, dtype) for s in specs]
            for path, g, w in zip(EXAMPLES, got, want, strict=True):
                assert g == w, (path.name, dtype)


def test_renamed_model_is_not_confused_with_the_first() -> None:
    """Flash depends on the model's and layers' names: a candidate that differs only in
    names must not be answered with the numbers kept for the first."""
    base = yaml.safe_load((ROOT / "examples" / "mlperf" / "vww_mobilenet_v1.yaml").read_text())
    renamed = {**base, "name": "a_much_longer_model_name_than_before"}
    want = [_reference(s, "int8") for s in (base, renamed)]
    memo.clear()
    assert [_fast(s, "int8") for s in (base, renamed)] == want
    assert want[0]["model"]["flash_bytes"] != want[1]["model"]["flash_bytes"]


def test_a_candidate_made_of_known_layers_skips_the_device_passes(monkeypatch) -> None:
    """The search-loop fast path: once every layer of a candidate has been audited with
    its input shapes, a new candidate made of them (here: the same net renamed, so the
    report cache cannot answer) is assembled from the answers kept on its shared nodes;
    the lowered graph's shapes are never inferred again."""
    from cnnaudit.passes import shapes

    base = yaml.safe_load((ROOT / "examples" / "mlperf" / "vww_mobilenet_v1.yaml").read_text())
    memo.clear()
    api._REPORTS.clear()
    first = cnnaudit.audit(base, None).to_dict()
    lowered: list[str] = []
    real = shapes.infer_shapes

    def counting(graph):  # type: ignore[no-untyped-def]
        if graph.format == "lowered":
            lowered.append(graph.name)
        return real(graph)

    monkeypatch.setattr(shapes, "infer_shapes", counting)
    renamed = cnnaudit.audit({**base, "name": "vww_renamed"}, None).to_dict()
    assert lowered == []
    assert renamed["model"]["arena_bytes"] == first["model"]["arena_bytes"]
    assert renamed["model"]["flash_bytes"] != first["model"]["flash_bytes"]  # names differ
