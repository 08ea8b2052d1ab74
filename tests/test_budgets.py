"""Project budgets: finding and validating the project file, the precedence of its parts,
and what a broken budget does to a report. Also the atomic report writer."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import EXAMPLES

from cnnaudit import audit
from cnnaudit.atomic import write_atomic
from cnnaudit.budgets import (
    Budgets,
    Settings,
    apply_budgets,
    find_config,
    load_config,
    resolve,
)
from cnnaudit.errors import ConfigError, UsageError
from cnnaudit.verdict import Verdict

FASHION = EXAMPLES / "fashion_mnist_cnn.yaml"


@pytest.fixture(scope="module")
def report():
    return audit(FASHION, ["nano33", "esp32"])


# --- finding the file ------------------------------------------------------------------------


def test_find_config_walks_up_and_stops_at_the_nearest(tmp_path: Path):
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (tmp_path / "cnnaudit.yaml").write_text("max_params: 1\n")
    (tmp_path / "a" / "pyproject.toml").write_text("[tool.cnnaudit]\nmax_params = 2\n")
    assert find_config(deep) == tmp_path / "a" / "pyproject.toml"
    (tmp_path / "a" / "b" / "cnnaudit.yaml").write_text("max_params: 3\n")
    assert find_config(deep) == tmp_path / "a" / "b" / "cnnaudit.yaml"


def test_find_config_skips_a_pyproject_without_the_table(tmp_path: Path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "pyproject.toml").write_text('[tool.ruff]\nline-length = 100\n')
    (tmp_path / "cnnaudit.yaml").write_text("{}\n")
    assert find_config(tmp_path / "sub") == tmp_path / "cnnaudit.yaml"


def test_yaml_wins_over_pyproject_in_one_folder(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("[tool.cnnaudit]\nmax_params = 2\n")
    (tmp_path / "cnnaudit.yaml").write_text("max_params: 3\n")
    assert find_config(tmp_path) == tmp_path / "cnnaudit.yaml"


# --- reading and validating ------------------------------------------------------------------


def test_yaml_and_toml_say_the_same(tmp_path: Path):
    yml = tmp_path / "cnnaudit.yaml"
    yml.write_text("boards: nano33, esp32\ndtype: float32\nmax_params: 200000\n"
                   "max_flash_kib: 512.5\nmodels:\n  kws*.yaml: {max_ram_kib: 64}\n")
    toml = tmp_path / "pyproject.toml"
    toml.write_text('[tool.cnnaudit]\nboards = ["nano33", "esp32"]\ndtype = "float32"\n'
                    "max_params = 200_000\nmax_flash_kib = 512.5\n\n"
                    '[tool.cnnaudit.models."kws*.yaml"]\nmax_ram_kib = 64\n')
    a, b = load_config(yml), load_config(toml)
    assert a.defaults == b.defaults == Settings(
        boards=("nano33", "esp32"), dtype="float32",
        budgets=Budgets(max_params=200_000, max_flash_kib=512.5))
    assert [(r.pattern, r.settings) for r in a.rules] == [(r.pattern, r.settings)
                                                          for r in b.rules]
    assert a.rules[0].settings.budgets == Budgets(max_ram_kib=64)


@pytest.mark.parametrize(("text", "line", "needle"), [
    ("boards: [nano33]\nmax_param: 5\n", 2, "unknown key 'max_param'; did you mean "
     "'max_params'?"),
    ("models:\n  m/*.yaml:\n    boards: [nano33]\n    colour: red\n", 4, "unknown key "
     "'colour'"),
    ("models:\n  m/*.yaml:\n    models: {}\n", 3, "unknown key 'models'"),
    ("max_params: lots\n", 1, "max_params must be a non-negative number, got 'lots'"),
    ("max_macs: 1.5\n", 1, "max_macs must be a whole number"),
    ("max_ram_kib: -4\n", 1, "must be a non-negative number"),
    ("min_headroom_pct: true\n", 1, "must be a non-negative number"),
    ("\ndtype: int4\n", 2, "unknown dtype 'int4'"),
    ("boards: []\n", 1, "boards is empty"),
    ("models: [a, b]\n", 1, "models must map a path glob to settings"),
    ("max_params: [1\n", 2, "invalid YAML"),
])
def test_yaml_errors_name_file_line_and_key(tmp_path: Path, text: str, line: int,
                                            needle: str):
    path = tmp_path / "cnnaudit.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: ")
    assert needle in message


@pytest.mark.parametrize(("text", "line", "needle"), [
    ('[project]\nname = "x"\n\n[tool.cnnaudit]\nboards = ["nano33"]\nmax_macs = 1\n'
     "speed = 3\n", 7, "unknown key 'speed'"),
    ('[tool.cnnaudit]\nmax_params = 1\n[tool.cnnaudit.models."a/*"]\nmax_params = "x"\n',
     4, "max_params must be a non-negative number"),
    ("[tool.cnnaudit]\nmax_params = \n", 2, "invalid TOML"),
])
def test_toml_errors_name_file_line_and_key(tmp_path: Path, text: str, line: int,
                                            needle: str):
    path = tmp_path / "pyproject.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert needle in str(info.value)


# --- precedence ------------------------------------------------------------------------------


def test_precedence_flags_then_rules_in_order_then_defaults(tmp_path: Path):
    (tmp_path / "models" / "kws").mkdir(parents=True)
    model = tmp_path / "models" / "kws" / "kws_small.yaml"
    model.write_text("x")
    other = tmp_path / "models" / "vision.yaml"
    other.write_text("x")
    config_path = tmp_path / "cnnaudit.yaml"
    config_path.write_text(
        "boards: [nano33]\nmax_params: 100\nmax_macs: 7\nmodels:\n"
        '  "models/kws*": {max_params: 200, max_ram_kib: 64}\n'   # `*` crosses folders
        '  "kws_*.yaml": {max_ram_kib: 32, dtype: float32}\n')    # no `/`: any folder
    config = load_config(config_path)
    got = resolve(config, str(model), Settings())
    assert got == Settings(boards=("nano33",), dtype="float32",
                           budgets=Budgets(max_params=200, max_macs=7, max_ram_kib=32))
    assert resolve(config, str(other), Settings()).budgets == Budgets(max_params=100,
                                                                      max_macs=7)
    cli = Settings(boards=("esp32",), budgets=Budgets(max_params=300))
    flagged = resolve(config, str(model), cli)
    assert flagged.boards == ("esp32",)
    assert flagged.budgets == Budgets(max_params=300, max_macs=7, max_ram_kib=32)
    # a one-line spec has no path: only the defaults apply
    assert resolve(config, "28x28x1 conv8k3 flatten dense10", Settings()).budgets == Budgets(
        max_params=100, max_macs=7)


def test_rule_paths_are_relative_to_the_config_not_the_current_folder(tmp_path: Path,
                                                                       monkeypatch):
    (tmp_path / "models").mkdir()
    model = tmp_path / "models" / "a.yaml"
    model.write_text("x")
    (tmp_path / "cnnaudit.yaml").write_text('models:\n  "models/a.yaml": {max_macs: 1}\n')
    config = load_config(tmp_path / "cnnaudit.yaml")
    monkeypatch.chdir(tmp_path / "models")
    assert resolve(config, "a.yaml", Settings()).budgets == Budgets(max_macs=1)


# --- applying --------------------------------------------------------------------------------


def test_no_budget_broken_changes_nothing_but_the_record(report):
    judged = apply_budgets(report, Budgets(max_params=243_786, max_macs=5_056_000))
    assert judged.boards == report.boards
    assert judged.budgets == (("max_params", 243_786), ("max_macs", 5_056_000))


def test_model_budgets_fail_every_board_and_name_the_budget(report):
    judged = apply_budgets(report, Budgets(max_params=200_000, max_macs=5_000_000,
                                           max_flash_kib=100, max_ram_kib=50))
    for before, after in zip(report.boards, judged.boards, strict=True):
        assert after.verdict is Verdict.FAIL
        new = after.reasons[len(before.reasons):]
        assert new[0] == "budget max_params: 243,786 > 200,000"
        assert new[1] == "budget max_macs: 5,056,000 > 5,000,000"
        assert new[2].startswith("budget max_flash_kib: ") and new[2].endswith(" > 100 KiB")
        assert new[3].startswith("budget max_ram_kib: arena ") and new[3].endswith(" > 50 KiB")
    # the input report is not changed
    assert all(b.verdict is Verdict.PASS for b in report.boards)
    assert report.budgets == ()


def test_flash_and_ram_budgets_compare_the_model_not_the_board_totals(report):
    m = report.model
    just_fits = Budgets(max_flash_kib=m.flash_bytes / 1024, max_ram_kib=m.arena_bytes / 1024)
    assert apply_budgets(report, just_fits).boards == report.boards
    one_byte_short = Budgets(max_ram_kib=(m.arena_bytes - 1) / 1024)
    assert {b.verdict for b in apply_budgets(report, one_byte_short).boards} == {Verdict.FAIL}


def test_headroom_budget_fails_only_the_tight_board(report):
    nano, esp = report.boards  # headroom: nano33 about 52 %, esp32 about 17 %
    limit = (nano.headroom_pct + esp.headroom_pct) / 2
    judged = apply_budgets(report, Budgets(min_headroom_pct=limit))
    assert judged.boards[0] == nano
    assert judged.boards[1].verdict is Verdict.FAIL
    assert judged.boards[1].reasons[-1].startswith(
        f"budget min_headroom_pct: {esp.headroom_pct:.1f} % < ")


def test_latency_budget_only_where_there_is_an_estimate(report):
    untimed = replace(report.boards[1], latency_ms=None)  # as for a profile without kernels
    timed = replace(report, boards=(replace(report.boards[0], latency_ms=120.0), untimed))
    judged = apply_budgets(timed, Budgets(max_latency_ms=100))
    assert judged.boards[0].verdict is Verdict.FAIL
    assert judged.boards[0].reasons[-1] == "budget max_latency_ms: 120.0 ms > 100 ms"
    assert judged.boards[1] == untimed
    assert apply_budgets(timed, Budgets(max_latency_ms=120)).boards == timed.boards


def test_budgets_merge_keeps_what_the_override_leaves_unset():
    merged = Budgets(max_params=1, max_macs=2).merged(Budgets(max_macs=3, max_ram_kib=4))
    assert merged == Budgets(max_params=1, max_macs=3, max_ram_kib=4)


# --- the atomic writer -----------------------------------------------------------------------


def test_write_atomic_replaces_whole_and_keeps_the_mode(tmp_path: Path):
    target = tmp_path / "report.md"
    target.write_text("old")
    os.chmod(target, 0o640)
    write_atomic(target, "new")
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_write_atomic_failure_leaves_the_old_file_and_no_temp(tmp_path: Path, monkeypatch):
    target = tmp_path / "report.md"
    target.write_text("old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(UsageError, match="No space left"):
        write_atomic(target, "new" * 1000)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_write_atomic_refuses_a_missing_folder(tmp_path: Path):
    with pytest.raises(UsageError, match="does not exist"):
        write_atomic(tmp_path / "nope" / "r.json", "{}")


def test_the_readme_examples_of_project_files_load(tmp_path: Path):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("## Use in CI"):]
    yaml_text = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    toml_text = section.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "cnnaudit.yaml").write_text(yaml_text)
    (tmp_path / "pyproject.toml").write_text(toml_text)
    from_yaml = load_config(tmp_path / "cnnaudit.yaml")
    from_toml = load_config(tmp_path / "pyproject.toml")
    assert from_yaml.defaults.budgets.max_params == from_toml.defaults.budgets.max_params
    assert [r.pattern for r in from_yaml.rules] == ["models/kws*.yaml", "*.tflite"]
    assert from_toml.rules[0].settings.budgets == Budgets(max_ram_kib=64)
    assert from_yaml.boards_dirs == (tmp_path / "boards",)


def test_per_board_targets_and_min_fps(tmp_path: Path):
    """A board's own latency or fps target replaces the general one on that board only;
    min_fps is 1000 / latency. Thresholds are set around the audited latencies, so the test
    holds whatever the latency model's coefficients are."""

    report = audit(str(EXAMPLES / "fashion_mnist_cnn.yaml"), ["nano33", "esp32"])
    nano_ms, esp_ms = (b.latency_ms for b in report.boards)
    assert nano_ms and esp_ms
    (tmp_path / "cnnaudit.yaml").write_text(
        f"max_latency_ms: {nano_ms * 2:.3f}\n"
        f"per_board:\n  esp32: {{min_fps: {1000 / esp_ms * 1.5:.3f}}}\n")
    config = load_config(tmp_path / "cnnaudit.yaml")
    judged = apply_budgets(report, config.defaults.budgets)
    nano, esp = judged.boards
    assert nano.verdict is report.boards[0].verdict  # within the general latency budget
    assert esp.verdict is Verdict.FAIL and esp.reasons[-1].startswith("budget min_fps: ")
    assert ("min_fps@esp32", pytest.approx(1000 / esp_ms * 1.5, rel=1e-3)) in [
        (k, v) for k, v in judged.budgets]


def test_per_board_rejects_budgets_a_board_cannot_judge(tmp_path: Path):
    (tmp_path / "cnnaudit.yaml").write_text("per_board:\n  nano33: {max_params: 10}\n")
    with pytest.raises(ConfigError, match="not a per-board target") as info:
        load_config(tmp_path / "cnnaudit.yaml")
    assert info.value.line == 2
