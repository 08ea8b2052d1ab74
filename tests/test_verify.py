"""`cnnaudit verify` end to end, through the console entry point: the real converter and
the TFLite Micro interpreter judge the estimate (issue 5's "Done when" on the lab's
Fashion-MNIST CNN). Slow: it builds and converts a model with TensorFlow."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from conftest import EXAMPLES

import cnnaudit

pytestmark = pytest.mark.slow


def run(*args: str) -> subprocess.CompletedProcess[str]:
    if not os.environ.get("CNNAUDIT_REQUIRE_ORACLES"):
        pytest.importorskip("tflite_micro")
        pytest.importorskip("tensorflow")
    return subprocess.run([sys.executable, "-m", "cnnaudit", *args], capture_output=True,
                          text=True, check=False, timeout=900,
                          env={**os.environ, "COLUMNS": "200"})


def test_verify_the_lab_cnn_agrees_with_the_judges():
    spec = str(EXAMPLES / "fashion_mnist_cnn.yaml")
    done = run("verify", spec)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    rows = {name: line for name in ("smallest working arena, 64-bit host",
                                    "flash (.tflite bytes)", "operators (type and shape)")
            for line in out.splitlines() if name in line}
    assert len(rows) == 3 and all(" ok " in line for line in rows.values()), out
    # the estimate column is the audit's own number
    flash_estimate = int(re.findall(r"[\d,]+", rows["flash (.tflite bytes)"])[0]
                         .replace(",", ""))
    assert flash_estimate == cnnaudit.audit(spec, []).model.flash_bytes


def test_verify_refuses_an_unknown_model_in_one_line():
    done = run("verify", str(EXAMPLES / "no_such_model.yaml"))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
