"""`cnnaudit diff` logic and the batch runner, in process (the CLI is tested end to end in
test_ci.py)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import EXAMPLES

from cnnaudit import audit
from cnnaudit.batch import PARALLEL_ABOVE, expand_models, plan_jobs, run_job, run_jobs
from cnnaudit.budgets import Budgets, Settings
from cnnaudit.diff import MetricChange, diff_reports
from cnnaudit.verdict import Verdict

FASHION = EXAMPLES / "fashion_mnist_cnn.yaml"


@pytest.fixture(scope="module")
def base():
    return audit(FASHION, ["nano33", "esp32"])


def test_a_model_against_itself_has_no_change(base):
    d = diff_reports(base, base, max_growth_pct=0)
    assert d.metrics and all(m.change == 0 for m in d.metrics)
    assert not any(b.worse or b.better for b in d.boards)
    assert d.regressions == () and d.exit_code == 0


def test_a_worse_verdict_is_a_regression_and_a_better_one_is_not(base):
    failing = replace(base.boards[0], verdict=Verdict.FAIL, reasons=("x",))
    warned = replace(base, boards=(failing, replace(base.boards[1], verdict=Verdict.WARN)))
    worse = diff_reports(base, warned)
    assert [b.worse for b in worse.boards] == [True, True]
    assert worse.regressions == ("nano33: PASS -> FAIL", "esp32: PASS -> WARN")
    better = diff_reports(warned, base)
    assert [b.better for b in better.boards] == [True, True] and better.exit_code == 0


def test_growth_from_zero_is_unbounded_and_reported_without_a_number():
    m = MetricChange("macs", "MACs", "", 0, 10)
    assert m.change == 10 and m.change_pct == float("inf")
    assert MetricChange("macs", "MACs", "", 0, 0).change_pct == 0.0
    assert MetricChange("macs", "MACs", "", 200, 150).change_pct == -25.0
    assert MetricChange("x", "x", "ms", None, 3.0).change is None


def test_max_growth_judges_every_metric(base):
    bigger = replace(base, model=replace(base.model, macs=base.model.macs * 2))
    d = diff_reports(base, bigger, max_growth_pct=99)
    assert d.regressions == ("MACs grew +100.0 % > 99 %",)
    assert diff_reports(base, bigger, max_growth_pct=100).exit_code == 0
    assert diff_reports(base, bigger).exit_code == 0  # no limit given


def test_latency_rows_only_where_a_side_has_an_estimate(base):
    untimed = replace(base.boards[1], latency_ms=None)  # a profile naming no kernels
    timed = replace(base, boards=(replace(base.boards[0], latency_ms=40.0), untimed))
    slower = replace(base, boards=(replace(base.boards[0], latency_ms=50.0), untimed))
    d = diff_reports(timed, slower, max_growth_pct=20)
    assert [m.key for m in d.metrics][4:] == ["latency_ms@nano33"]
    assert d.metrics[4].change_pct == 25.0
    assert d.regressions == ("latency on nano33 grew +25.0 % > 20 %",)
    doc = d.to_dict()
    assert doc["metrics"][4]["over_limit"] is True and doc["exit_code"] == 1


def test_expand_models_folders_globs_and_plain_arguments(tmp_path: Path):
    (tmp_path / "m" / "deep").mkdir(parents=True)
    (tmp_path / "m" / ".hidden").mkdir()
    for name in ("m/b.yaml", "m/a.tflite", "m/deep/c.yml", "m/.hidden/x.yaml", "m/notes.md",
                 "m/cnnaudit.yaml"):
        (tmp_path / name).write_text("x")
    models, batch = expand_models([str(tmp_path / "m")])
    assert batch
    assert models == [str(tmp_path / p) for p in ("m/a.tflite", "m/b.yaml", "m/deep/c.yml")]
    models, batch = expand_models([str(tmp_path / "m" / "*.yaml"), str(tmp_path / "m/b.yaml")])
    assert batch and models == [str(tmp_path / "m" / "b.yaml")]  # duplicates dropped
    assert expand_models(["28x28x1 conv8k3 flatten dense10"]) == (
        ["28x28x1 conv8k3 flatten dense10"], False)
    assert expand_models(["-"]) == (["-"], False)


def test_parallel_runs_give_the_sequential_results_in_order(tmp_path: Path):
    n = PARALLEL_ABOVE + 2
    paths = []
    for i in range(n):
        path = tmp_path / f"m{i:02d}.yaml"
        shutil.copy(FASHION if i % 3 else EXAMPLES / "ds_cnn_kws.yaml", path)
        paths.append(str(path))
    paths.insert(4, str(tmp_path / "missing.yaml"))
    jobs = plan_jobs(paths, cli=Settings(boards=("nano33",),
                                         budgets=Budgets(max_params=100_000)), config=None)
    parallel = run_jobs(jobs, workers=2)
    sequential = [run_job(j) for j in jobs]
    assert [o.model for o in parallel] == paths
    assert parallel == sequential
    assert parallel[4].report is None and not parallel[4].internal
    assert paths[4] in parallel[4].error and "no such file" in parallel[4].error
    verdicts = [o.report.verdict for o in parallel if o.report]
    assert verdicts == [Verdict.PASS if i % 3 == 0 else Verdict.FAIL for i in range(n)]
