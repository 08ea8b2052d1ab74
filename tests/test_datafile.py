"""The JSON copies of parsed board files (cnnaudit/datafile.py): used only for the exact text
they were made from, never for data JSON would change, and never needed."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from cnnaudit import datafile
from cnnaudit.boards import builtin_dir, load_boards
from cnnaudit.errors import BoardError


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("CNNAUDIT_CACHE_DIR", str(folder))
    return folder


def copies(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.json")) if cache.is_dir() else []


def test_a_copy_is_read_only_for_the_text_it_was_made_from(cache: Path, tmp_path: Path) -> None:
    src = tmp_path / "b.yaml"
    src.write_text("a: 1\nb: [x, 2.5]\n")
    assert datafile.read_yaml(src) == {"a": 1, "b": ["x", 2.5]}
    (copy,) = copies(cache)
    # the copy, not the file, answers while the text is the same: prove it by marking it
    record = json.loads(copy.read_text())
    record["data"] = {"from": "copy"}
    copy.write_text(json.dumps(record))
    assert datafile.read_yaml(src) == {"from": "copy"}
    # one changed character (same size, same second) and the file is parsed again
    src.write_text("a: 2\nb: [x, 2.5]\n")
    assert datafile.read_yaml(src) == {"a": 2, "b": ["x", 2.5]}
    assert json.loads(copy.read_text())["data"] == {"a": 2, "b": ["x", 2.5]}


@pytest.mark.parametrize("text", ["when: 2024-05-01\n", "1: one\n", "x: .nan\n"])
def test_data_json_would_change_is_never_copied(cache: Path, tmp_path: Path,
                                                 text: str) -> None:
    src = tmp_path / "b.yaml"
    src.write_text(text)
    want = yaml.safe_load(text)
    got = datafile.read_yaml(src)
    assert repr(got) == repr(want)
    assert copies(cache) == []


def test_a_broken_or_unwritable_cache_changes_nothing(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "b.yaml"
    src.write_text("a: 1\n")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("CNNAUDIT_CACHE_DIR", str(blocker))
    assert datafile.read_yaml(src) == {"a": 1}
    cache = tmp_path / "cache"
    monkeypatch.setenv("CNNAUDIT_CACHE_DIR", str(cache))
    datafile.read_yaml(src)
    for junk in ("{not json", "[]", '{"path": 1}', ""):
        copies(cache)[0].write_text(junk)
        assert datafile.read_yaml(src) == {"a": 1}


def test_invalid_yaml_names_its_line(cache: Path, tmp_path: Path) -> None:
    src = tmp_path / "b.yaml"
    src.write_text("a: 1\nb: [1, 2\n")
    with pytest.raises(datafile.YamlProblem) as err:
        datafile.read_yaml(src)
    assert err.value.line is not None and err.value.line >= 2
    assert copies(cache) == []


def test_boards_from_copies_equal_boards_from_yaml(
        cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cnnaudit import boards

    monkeypatch.setattr(boards, "_PARSED", {})  # no profile parsed yet in this process
    first = load_boards()  # parses each profile, writes copies
    assert len(copies(cache)) >= len(first)
    monkeypatch.setattr(boards, "_PARSED", {})
    assert load_boards() == first  # read from the copies
    user = tmp_path / "boards"
    user.mkdir()
    for path in builtin_dir().glob("*.yaml"):  # same text, other paths: no copy yet
        (user / path.name).write_text(path.read_text())
    fresh = load_boards(extra_dirs=[user])
    assert {k: (replace(v, path=""), v.sources) for k, v in fresh.items()} == {
        k: (replace(v, path=""), v.sources) for k, v in first.items()}


def test_a_board_with_bad_yaml_is_still_a_one_line_error(cache: Path, tmp_path: Path) -> None:
    user = tmp_path / "boards"
    user.mkdir()
    (user / "mine.yaml").write_text("id: mine\nname: [unclosed\n")
    with pytest.raises(BoardError) as err:
        load_boards(extra_dirs=[user])
    assert "invalid YAML" in str(err.value) and str(user / "mine.yaml") in str(err.value)
