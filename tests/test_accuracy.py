"""Arena and flash against the real judges, on the accuracy corpus.

For every model and dtype: cnnaudit's estimate from the spec (or .keras) graph, and from
the converted .tflite, must agree with the TFLite Micro interpreter's smallest working
arena (spec: 5 %; .tflite: 2 % or 512 bytes) and the converter's file size. A model the
converter or the interpreter cannot run must be one cnnaudit already flags as not runnable.

Flash: within 3 % of the converter's file size (the tolerance `cnnaudit verify` uses), also
on the small models where tensor names and tables are most of the file (docs/accuracy.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cnnaudit import audit, frontends
from cnnaudit.verify import FLASH_TOLERANCE, CaseResult, measure_case

pytestmark = pytest.mark.slow

try:
    import keras  # noqa: F401
    import tflite_micro  # noqa: F401
except ImportError:  # pragma: no cover
    if os.environ.get("CNNAUDIT_REQUIRE_ORACLES"):
        raise
    pytest.skip("TensorFlow / tflite-micro are not installed", allow_module_level=True)

from accuracy_corpus import APPLICATIONS, SPECS  # noqa: E402

FLASH_BOUND_PCT = 100 * FLASH_TOLERANCE
CASES = [(name, dtype) for name in [*SPECS, *APPLICATIONS] for dtype in ("int8", "float32")]


def _graph(name: str, tmp_path: Path):
    if name in SPECS:
        return frontends.load(SPECS[name], name=name)
    path = tmp_path / f"{name}.keras"
    APPLICATIONS[name]().save(path)
    return frontends.load(path)


@pytest.mark.parametrize(("name", "dtype"), CASES)
def test_arena_and_flash_match_the_judges(name, dtype, tmp_path):
    graph = _graph(name, tmp_path)
    result = measure_case(name, graph, dtype)
    if result.problem:
        # It cannot run on TFLite Micro: cnnaudit must say so before anyone converts it.
        report = audit(graph, ["nano33"], dtype=dtype)
        assert any(f.severity == "error" for f in report.findings), result.problem
        assert report.boards[0].verdict.value == "FAIL"
        return
    assert result.operators_match, "the lowering differs from the converter's operators"
    spec_err = CaseResult.error(result.arena_estimate, result.arena_measured)
    file_err = CaseResult.error(result.arena_from_file, result.arena_measured)
    flash_err = CaseResult.error(result.flash_estimate, result.flash_measured)
    assert abs(spec_err) <= 5.0, f"arena from the spec off by {spec_err:+.2f} %"
    assert abs(result.arena_from_file - result.arena_measured) <= max(
        0.02 * result.arena_measured, 512), f"arena from the .tflite off by {file_err:+.2f} %"
    assert abs(flash_err) <= FLASH_BOUND_PCT, f"flash off by {flash_err:+.2f} %"
