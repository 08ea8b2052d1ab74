"""End to end through the real command in a subprocess, as a CI job runs it: budgets from a
project file, every output format parsed back, many models at once, and `cnnaudit diff`
across files and git commits."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import EXAMPLES, ROOT

FASHION = EXAMPLES / "fashion_mnist_cnn.yaml"
KWS = EXAMPLES / "ds_cnn_kws.yaml"
SCHEMA = json.loads((ROOT / "cnnaudit" / "schema" / "report.schema.json").read_text())
# The lab's CNN with one more Dense(4096) after dense(128): by hand, the new layer has
# 128*4096 + 4096 params and the last dense 4096*10 + 10 instead of 128*10 + 10.
BIG_PARAMS = 243_786 + (128 * 4096 + 4096) + (4096 * 10 + 10) - (128 * 10 + 10)


def cnnaudit(*args: str | Path, cwd: Path | None = None, stdin: str | None = None,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m cnnaudit ARGS` as a separate process, as a CI job would."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "200"}
    full_env.pop("FORCE_COLOR", None)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "cnnaudit", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd or ROOT, env=full_env,
                          input=stdin, timeout=120, check=False)


def with_dense(units: int, after: str = "  - dense: {units: 128, activation: relu}\n") -> str:
    """The Fashion-MNIST spec with one more Dense(units) layer, as a pull request adds it."""
    text = FASHION.read_text()
    assert after in text
    return text.replace(after, after + f"  - dense: {{units: {units}, activation: relu}}\n")


def declared_keys_only(doc: object, schema: dict, node: dict | None = None) -> None:
    """Every key the tool writes is declared in the schema (which itself lets consumers
    ignore unknown keys), so the published schema cannot fall behind the output."""
    node = node if node is not None else schema
    if "$ref" in node:
        node = schema["$defs"][node["$ref"].split("/")[-1]]
    if isinstance(doc, dict) and "properties" in node:
        for key, value in doc.items():
            assert key in node["properties"], f"{key!r} is not in the schema"
            declared_keys_only(value, schema, node["properties"][key])
    elif isinstance(doc, list) and isinstance(node.get("items"), dict):
        for item in doc:
            declared_keys_only(item, schema, node["items"])
    elif isinstance(doc, dict) and "oneOf" in node:
        declared_keys_only(doc, schema, next(n for n in node["oneOf"]
                                             if n.get("type") == "object"))


def valid(doc: dict, kind: str) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    declared_keys_only(doc, SCHEMA, SCHEMA["$defs"][kind])


def md_rows(text: str) -> list[list[str]]:
    """The cells of every markdown table row (header and separator rows included)."""
    return [[cell.strip() for cell in line.strip().strip("|").split(" | ")]
            for line in text.splitlines() if line.startswith("|")]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A repository with models/fashion.yaml, models/kws_small.yaml and a subfolder."""
    (tmp_path / "models" / "sub").mkdir(parents=True)
    shutil.copy(FASHION, tmp_path / "models" / "fashion.yaml")
    shutil.copy(KWS, tmp_path / "models" / "kws_small.yaml")
    return tmp_path


# --- the schema ------------------------------------------------------------------------------


def test_schema_command_prints_the_published_draft_2020_12_schema():
    result = cnnaudit("schema")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed == SCHEMA
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(printed)


def test_single_model_json_validates_and_keeps_schema_version_1():
    result = cnnaudit("check", FASHION, "-b", "nano33,esp32", "-f", "json", "--no-config")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    valid(doc, "report")
    assert doc["schema_version"] == 1
    assert doc["budgets"] == {}
    assert [b["id"] for b in doc["boards"]] == ["nano33", "esp32"]


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_every_example_report_validates(example: str):
    from cnnaudit import audit
    from cnnaudit.budgets import Budgets, apply_budgets

    report = apply_budgets(audit(EXAMPLES / example, None, dtype="float32"),
                           Budgets(max_params=1, min_headroom_pct=50, max_latency_ms=1))
    valid(report.to_dict(), "report")


def test_schema_rejects_a_report_missing_its_boards():
    doc = json.loads(cnnaudit("check", FASHION, "-b", "nano33", "-f", "json").stdout)
    del doc["boards"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)


# --- budgets from the project file -----------------------------------------------------------


def test_budget_file_is_found_from_a_subfolder(project: Path):
    (project / "cnnaudit.yaml").write_text("boards: [nano33]\nmax_params: 200000\n")
    result = cnnaudit("check", "../fashion.yaml", cwd=project / "models" / "sub")
    assert result.returncode == 1, result.stdout + result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("│ nano33"))
    assert "FAIL" in row and "budget max_params: 243,786 > 200,000" in row
    assert "esp32" not in result.stdout  # the file's board list was used


def test_budget_broken_in_pyproject_fails_with_the_budget_named(project: Path):
    (project / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n\n[tool.cnnaudit]\nboards = ["nano33", "esp32"]\n'
        "max_params = 200_000\n")
    result = cnnaudit("check", "models/fashion.yaml", "-f", "json", cwd=project)
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    valid(doc, "report")
    assert doc["budgets"] == {"max_params": 200_000}
    for board in doc["boards"]:
        assert board["verdict"] == "FAIL"
        assert "budget max_params: 243,786 > 200,000" in board["reasons"]


def test_cnnaudit_yaml_wins_over_pyproject_in_the_same_folder(project: Path):
    (project / "pyproject.toml").write_text("[tool.cnnaudit]\nmax_params = 1\n")
    (project / "cnnaudit.yaml").write_text("boards: [nano33]\n")
    assert cnnaudit("check", "models/fashion.yaml", cwd=project).returncode == 0


def test_pyproject_without_a_cnnaudit_table_is_passed_over(project: Path):
    (project / "cnnaudit.yaml").write_text("boards: [nano33]\nmax_macs: 1000\n")
    (project / "models" / "pyproject.toml").write_text('[project]\nname = "inner"\n')
    result = cnnaudit("check", "fashion.yaml", "-q", cwd=project / "models")
    assert result.returncode == 1
    assert "fashion_mnist_cnn on nano33" in result.stdout


def test_flags_override_the_file_and_no_config_ignores_it(project: Path):
    (project / "cnnaudit.yaml").write_text("boards: [nano33]\nmax_params: 200000\n")
    model = "models/fashion.yaml"
    assert cnnaudit("check", model, "--max-params", "300000", cwd=project).returncode == 0
    assert cnnaudit("check", model, "--no-config", "-b", "nano33", cwd=project).returncode == 0
    explicit = project / "models" / "strict.yaml"
    explicit.write_text("max_params: 100\n")
    result = cnnaudit("check", model, "--config", explicit, "-b", "nano33", cwd=project)
    assert result.returncode == 1 and "budget max_params: 243,786 > 100" in result.stdout


def test_per_model_rule_by_glob(project: Path):
    # ds_cnn_kws needs 22.2 KiB of arena (README); the rule allows 16 KiB to kws* only.
    (project / "cnnaudit.yaml").write_text(
        'boards: [nano33]\nmodels:\n  "models/kws*.yaml":\n    max_ram_kib: 16\n')
    result = cnnaudit("check", "models", "-f", "json", cwd=project)
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    valid(doc, "batch")
    by_model = {r["model"]["source"]: r for r in doc["reports"]}
    kws, fashion = by_model["models/kws_small.yaml"], by_model["models/fashion.yaml"]
    assert kws["verdict"] == "FAIL" and kws["budgets"] == {"max_ram_kib": 16}
    assert any(r.startswith("budget max_ram_kib: arena 22.2 KiB > 16 KiB")
               for r in kws["boards"][0]["reasons"])
    assert fashion["verdict"] == "PASS" and fashion["budgets"] == {}


def test_unknown_key_in_the_project_file_is_one_error_line(project: Path):
    config = project / "cnnaudit.yaml"
    config.write_text("boards: [nano33]\n\nmax_parms: 5\n")
    result = cnnaudit("check", "models/fashion.yaml", cwd=project)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (f"error: {config}:3: unknown key 'max_parms'; "
                             "did you mean 'max_params'?\n")


def test_unknown_key_in_pyproject_names_the_file_and_line(project: Path):
    config = project / "pyproject.toml"
    config.write_text('[project]\nname = "x"\n[tool.cnnaudit]\nboards = ["nano33"]\n'
                      '[tool.cnnaudit.models."models/kws*"]\nmax_ram = 4\n')
    result = cnnaudit("check", "models/fashion.yaml", cwd=project)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {config}:6: unknown key 'max_ram'")
    assert len(result.stderr.splitlines()) == 1


# --- formats ---------------------------------------------------------------------------------


def test_junit_one_testcase_per_model_and_board(tmp_path: Path):
    big = tmp_path / "big.yaml"
    big.write_text(with_dense(4096))
    result = cnnaudit("check", FASHION, big, "-b", "nano33,esp32", "-f", "junit",
                      "--no-config")
    assert result.returncode == 1
    root = ET.fromstring(result.stdout)
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [str(FASHION), str(big)]
    cases = root.findall("testsuite/testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("fashion_mnist_cnn", "nano33"), ("fashion_mnist_cnn", "esp32"),
        ("fashion_mnist_cnn", "nano33"), ("fashion_mnist_cnn", "esp32")]
    failures = root.findall(".//failure")
    assert int(root.get("tests")) == len(cases) == 4
    assert int(root.get("failures")) == len(failures) >= 1
    for suite in suites:
        assert int(suite.get("tests")) == len(suite.findall("testcase"))
        assert int(suite.get("failures")) == len(suite.findall(".//failure"))
    # the original passes everywhere: no failure, its numbers in system-out
    assert suites[0].find(".//failure") is None
    assert suites[0].find("testcase/system-out").text.startswith("PASS: RAM")
    big_nano = suites[1].findall("testcase")[0]
    assert big_nano.find("failure") is not None and "flash over by" in big_nano.find(
        "failure").get("message")


def test_junit_warn_passes_with_the_reason_in_system_out(tmp_path: Path):
    mid = tmp_path / "mid.yaml"
    mid.write_text(with_dense(2048))  # leaves esp32 under 10 % flash headroom
    result = cnnaudit("check", mid, "-b", "esp32", "-f", "junit", "--no-config")
    assert result.returncode == 0, result.stdout
    case = ET.fromstring(result.stdout).find(".//testcase")
    assert case.find("failure") is None and case.find("error") is None
    out = case.find("system-out").text
    assert out.startswith("WARN") and "headroom" in out


def test_markdown_summary_board_table_and_collapsed_layers():
    result = cnnaudit("check", FASHION, "-b", "nano33,esp32", "-f", "markdown",
                      "--max-params", "200000", "--no-config")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("### ") and "FAIL" in lines[0]
    rows = md_rows(result.stdout)
    board_rows = [r for r in rows if r[0] in ("nano33", "esp32")]
    assert len(board_rows) == 2
    for row in board_rows:
        assert "FAIL" in row[-2] and "budget max_params: 243,786 &gt; 200,000" in row[-1]
    details = result.stdout[result.stdout.index("<details>"):]
    assert "</details>" in details
    layer_rows = [r[0] for r in md_rows(details)[2:]]
    assert "dense" in layer_rows and "conv2d_1" in layer_rows  # most params, most MACs


def test_markdown_escapes_what_a_model_file_names(tmp_path: Path):
    hostile = tmp_path / "x.yaml"
    hostile.write_text(FASHION.read_text().replace(
        "name: fashion_mnist_cnn", 'name: "<img src=x> [a](http://e) @someone |"'))
    result = cnnaudit("check", hostile, "-b", "nano33", "-f", "markdown", "--no-config")
    assert result.returncode == 0
    assert "<img" not in result.stdout
    assert re.search(r"(?<!\\)\]\(", result.stdout) is None  # no link: `]` is escaped
    assert "@someone" not in result.stdout


def test_quiet_prints_only_the_verdict_line():
    result = cnnaudit("check", FASHION, "-b", "nano33,esp32", "--quiet", "--no-config")
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "PASS: 1 model, 2 board checks: 2 PASS, 0 WARN, 0 FAIL"]


def test_colour_only_on_request():
    forced = {"FORCE_COLOR": "1", "NO_COLOR": "", "TERM": "xterm-256color"}
    env = {k: v for k, v in forced.items()}
    coloured = cnnaudit("check", FASHION, "-b", "nano33", env=env)
    assert "\x1b[" in coloured.stdout  # the check below would pass vacuously otherwise
    plain = cnnaudit("check", FASHION, "-b", "nano33", "--no-color", env=env)
    assert "\x1b[" not in plain.stdout and "PASS" in plain.stdout
    piped = cnnaudit("check", FASHION, "-b", "nano33")  # not a terminal, NO_COLOR set
    assert "\x1b[" not in piped.stdout


def test_output_file_is_written_whole_and_inputs_untouched(tmp_path: Path):
    model = tmp_path / "m.yaml"
    shutil.copy(FASHION, model)
    before = hashlib.sha256(model.read_bytes()).hexdigest()
    out = tmp_path / "report.json"
    out.write_text("old")
    result = cnnaudit("check", model, "-b", "nano33", "-f", "json", "-o", out)
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "PASS: 1 model, 1 board check: 1 PASS, 0 WARN, 0 FAIL"]
    valid(json.loads(out.read_text()), "report")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.yaml", "report.json"]
    refused = cnnaudit("check", model, "-f", "json", "-o", model)
    assert refused.returncode == 2 and "is an input file" in refused.stderr
    assert hashlib.sha256(model.read_bytes()).hexdigest() == before


def test_table_to_an_output_file_has_no_escape_codes(tmp_path: Path):
    out = tmp_path / "report.txt"
    result = cnnaudit("check", FASHION, "-b", "nano33", "-o", out,
                      env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    assert result.returncode == 0
    text = out.read_text()
    assert "243,786" in text and "\x1b[" not in text
    assert text.rstrip().endswith("PASS: 1 model, 1 board check: 1 PASS, 0 WARN, 0 FAIL")


# --- many models -----------------------------------------------------------------------------


def test_folder_one_table_worst_exit_and_an_error_does_not_hide_the_others(project: Path):
    (project / "models" / "sub" / "broken.yaml").write_text("input: [28, 28, 1]\nlayers:\n"
                                                            "  - conv3d: 4\n")
    result = cnnaudit("check", "models", "-b", "nano33", "--no-config", cwd=project)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: models/sub/broken.yaml:3: unknown layer 'conv3d'; did you mean 'conv2d'?"]
    rows = [line for line in result.stdout.splitlines() if line.startswith("│ models/")]
    assert [r.split("│")[1].strip() for r in rows] == [
        "models/fashion.yaml", "models/kws_small.yaml", "models/sub/broken.yaml"]
    assert "PASS" in rows[0] and "PASS" in rows[1] and "error" in rows[2]
    assert result.stdout.splitlines()[-1].startswith("ERROR: 3 models")
    doc = json.loads(cnnaudit("check", "models", "-b", "nano33", "-f", "json",
                              "--no-config", cwd=project).stdout)
    valid(doc, "batch")
    assert doc["exit_code"] == 2 and len(doc["reports"]) == 2
    assert doc["errors"] == [{"model": "models/sub/broken.yaml", "internal": False,
                              "message": "models/sub/broken.yaml:3: unknown layer 'conv3d'; "
                                         "did you mean 'conv2d'?"}]


def test_many_models_run_in_parallel_in_a_stable_order(tmp_path: Path):
    # 10 models (> 8, so a process pool): alternating the two examples, numbered.
    for i in range(10):
        shutil.copy(FASHION if i % 2 == 0 else KWS, tmp_path / f"m{i:02d}.yaml")
    result = cnnaudit("check", str(tmp_path / "m*.yaml"), "-b", "nano33", "-f", "json",
                      "--no-config")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    valid(doc, "batch")
    assert doc["models"] == [str(tmp_path / f"m{i:02d}.yaml") for i in range(10)]
    assert [r["model"]["params"] for r in doc["reports"]] == [243_786, 24_908] * 5


@pytest.mark.parametrize(("args", "needle"), [
    (["check", "{tmp}/*.yaml"], "no model file matches"),
    (["check", "{tmp}"], "no model files in this folder"),
    (["check", str(FASHION), "--max-params", "-1"], "--max-params must not be negative"),
    (["check", str(FASHION), "--config", "{tmp}/c.yaml", "--no-config"], "contradict"),
    (["check", str(FASHION), "--config", "{tmp}/none.yaml"], "no such file"),
    (["check", str(FASHION), "-f", "xml"], "choose table, json, markdown or junit"),
    (["diff", str(FASHION)], "give BASE and HEAD"),
    (["diff", str(FASHION), "-f", "junit"], "choose table, json or markdown"),
    (["diff", str(FASHION), str(FASHION), "--max-growth", "-5"], "must not be negative"),
])
def test_usage_errors_are_one_line_and_exit_2(tmp_path: Path, args: list[str], needle: str):
    result = cnnaudit(*(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and needle in result.stderr
    assert len(result.stderr.splitlines()) == 1 and result.stdout == ""


# --- diff ------------------------------------------------------------------------------------


def test_diff_pr_adding_a_dense_layer_turns_nano33_from_pass_to_fail(tmp_path: Path):
    head = tmp_path / "fashion_mnist_cnn.yaml"
    head.write_text(with_dense(4096))
    result = cnnaudit("diff", FASHION, head, "-b", "nano33,esp32", "--no-config")
    assert result.returncode == 1, result.stdout + result.stderr
    nano = next(line for line in result.stdout.splitlines() if line.startswith("│ nano33"))
    assert "PASS -> FAIL" in nano and "flash over by" in nano
    params = next(line for line in result.stdout.splitlines() if line.startswith("│ params"))
    assert "243,786" in params and f"{BIG_PARAMS:,}" in params
    assert f"+{BIG_PARAMS - 243_786:,}" in params
    assert result.stdout.splitlines()[-1].startswith("REGRESSION: nano33: PASS -> FAIL")

    doc = json.loads(cnnaudit("diff", FASHION, head, "-b", "nano33,esp32", "-f", "json",
                              "--no-config").stdout)
    valid(doc, "diff")
    assert doc["exit_code"] == 1
    boards = {b["id"]: b for b in doc["boards"]}
    assert boards["nano33"]["change"] == "worse"
    assert (boards["nano33"]["before"]["verdict"], boards["nano33"]["after"]["verdict"]) == (
        "PASS", "FAIL")
    metrics = {m["key"]: m for m in doc["metrics"]}
    assert set(metrics) >= {"params", "macs", "flash_bytes", "arena_bytes"}
    assert metrics["params"]["change"] == BIG_PARAMS - 243_786
    # extra MACs: one 128x4096 dense, and the last dense now reads 4096 inputs, not 128
    assert metrics["macs"]["change"] == 128 * 4096 + (4096 - 128) * 10

    markdown = cnnaudit("diff", FASHION, head, "-b", "nano33", "-f", "markdown",
                        "--no-config").stdout
    nano_row = next(r for r in md_rows(markdown) if r[0] == "nano33")
    assert nano_row[1].startswith("❌") and "FAIL" in nano_row[1]


def test_diff_of_a_model_with_itself_is_clean():
    result = cnnaudit("diff", FASHION, FASHION, "-b", "nano33", "--max-growth", "0",
                      "--no-config")
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[-1].startswith("OK:")


def test_diff_max_growth(tmp_path: Path):
    wider = tmp_path / "wider.yaml"
    wider.write_text(FASHION.read_text().replace("units: 128", "units: 160"))
    # by hand: the first dense gains 32 * (1600 + 1) params, the last 32 * 10
    growth = 100 * (32 * 1601 + 32 * 10) / 243_786  # about 21 %
    assert cnnaudit("diff", FASHION, wider, "-b", "nano33", "--max-growth",
                    f"{growth + 1:.1f}", "--no-config").returncode == 0
    over = cnnaudit("diff", FASHION, wider, "-b", "nano33", "--max-growth",
                    f"{growth - 1:.1f}", "-f", "json", "--no-config")
    assert over.returncode == 1
    doc = json.loads(over.stdout)
    valid(doc, "diff")
    over_limit = [m["key"] for m in doc["metrics"] if m["over_limit"]]
    assert "params" in over_limit and "macs" not in over_limit  # MACs grow about 1 %
    assert doc["metrics"][0]["change_pct"] == pytest.approx(growth, abs=0.01)


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e",
                    "-c", "commit.gpgsign=false", *args], check=True, capture_output=True)


def test_diff_against_a_git_ref_in_a_temporary_repository(tmp_path: Path):
    repo = tmp_path / "repo"
    (repo / "models").mkdir(parents=True)
    git(repo, "init", "-q")
    model = repo / "models" / "fashion.yaml"
    shutil.copy(FASHION, model)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")
    model.write_text(with_dense(4096))
    git(repo, "commit", "-qam", "add a dense layer")
    result = cnnaudit("diff", "models/fashion.yaml", "--git-base", "HEAD~1", "-b", "nano33",
                      "-f", "json", "--no-config", cwd=repo)
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    valid(doc, "diff")
    assert doc["base"]["source"] == "HEAD~1:models/fashion.yaml"
    assert doc["head"]["source"] == "models/fashion.yaml"
    assert doc["boards"][0]["change"] == "worse"
    assert doc["metrics"][0]["before"] == 243_786 and doc["metrics"][0]["after"] == BIG_PARAMS
    # run from a subfolder too: the path is relative to where the command runs
    sub = cnnaudit("diff", "fashion.yaml", "--git-base", "HEAD~1", "-b", "nano33", "-q",
                   "--no-config", cwd=repo / "models")
    assert sub.returncode == 1 and sub.stdout.startswith("REGRESSION: nano33: PASS -> FAIL")
    assert model.read_text() == with_dense(4096)  # the working copy is never touched
    bad = cnnaudit("diff", "models/fashion.yaml", "--git-base", "nope", "--no-config",
                   cwd=repo)
    assert bad.returncode == 2
    assert re.fullmatch(r"error: cannot read models/fashion.yaml at nope: .*\n", bad.stderr)


# --- ready-made integrations -----------------------------------------------------------------


def test_pre_commit_hook_definition():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    (hook,) = hooks
    assert hook["id"] == "cnnaudit" and hook["entry"] == "cnnaudit check"
    files = re.compile(hook["files"])
    for path in ("models/kws.yaml", "models/a/b.tflite", "models/m.keras", "models/m.h5",
                 "ml/models/x.yml"):
        assert files.search(path), path
    for path in ("src/app.yaml", "models/readme.md", "cnnaudit.yaml"):
        assert not files.search(path), path


@pytest.mark.parametrize("path", ["examples/ci/github-actions.yml", "examples/ci/gitlab-ci.yml"])
def test_ci_examples_are_valid_yaml_that_run_cnnaudit(path: str):
    text = (ROOT / path).read_text()
    assert isinstance(yaml.safe_load(text), dict)
    assert "cnnaudit check" in text


def test_diff_error_in_the_base_names_it_by_ref_and_path(tmp_path: Path):
    git(tmp_path, "init", "-q")
    model = tmp_path / "m.yaml"
    model.write_text("input: [28, 28, 1]\nlayers:\n  - conv3d: 4\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "broken")
    shutil.copy(FASHION, model)
    result = cnnaudit("diff", "m.yaml", "--git-base", "HEAD", "--no-config", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == ("error: HEAD:m.yaml:3: unknown layer 'conv3d'; "
                             "did you mean 'conv2d'?\n")


def test_an_unknown_board_in_the_project_file_names_the_file(project: Path):
    config = project / "cnnaudit.yaml"
    config.write_text("boards: [nano34]\n")
    result = cnnaudit("check", "models/fashion.yaml", cwd=project)
    assert result.returncode == 2
    assert result.stderr == f"error: {config}: unknown board 'nano34'; did you mean 'nano33'?\n"
    assert cnnaudit("check", "models/fashion.yaml", "-b", "nano33", cwd=project).returncode == 0
