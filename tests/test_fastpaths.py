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
