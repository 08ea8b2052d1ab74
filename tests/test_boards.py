"""Board profiles: the required boards exist, load, and carry a source for every number."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnaudit import audit
from cnnaudit.boards import NUMERIC, builtin_dir, load_boards, select
from cnnaudit.errors import BoardError, UsageError
from cnnaudit.verdict import Verdict

REQUIRED_IDS = {"nano33", "pico", "pico2", "esp32", "esp32s3", "portenta-h7", "nicla-vision",
                "stm32f746-disco", "nucleo-l4r5zi", "nucleo-h743zi", "sparkfun-edge",
                "wio-terminal", "teensy41"}


def test_required_boards_exist():
    boards = load_boards()
    assert len(boards) >= 12
    assert set(boards) >= REQUIRED_IDS


@pytest.mark.parametrize("board_id", sorted(load_boards()))
def test_every_number_has_a_source(board_id):
    board = load_boards()[board_id]
    for key in NUMERIC:
        if getattr(board, key) is not None:
            assert board.sources.get(key), f"{board_id}: {key} has no source"
    assert board.ram_reserved_kib < board.sram_kib
    assert board.flash_reserved_kib < board.flash_kib


def test_boards_dir_adds_a_user_board(tmp_path: Path):
    (tmp_path / "tiny.yaml").write_text(
        "id: tiny\nname: Tiny\nmcu: X\ncore: Cortex-M0+\nclock_mhz: 48\nsram_kib: 32\n"
        "flash_kib: 256\nram_reserved_kib: 4\nflash_reserved_kib: 64\n")
    report = audit({"input": [96, 96, 1], "layers": [{"conv2d": {"filters": 8, "kernel": 3}}]},
                   ["tiny"], boards_dir=[tmp_path])
    (result,) = report.boards
    assert result.board.id == "tiny"
    # 96*96 input + 94*94*8 output, int8: far above 32 KiB
    assert result.verdict is Verdict.FAIL
    assert any("RAM" in r for r in result.reasons)


def test_malformed_board_names_its_file(tmp_path: Path):
    (tmp_path / "bad.yaml").write_text("id: bad\nname: Bad\n")
    with pytest.raises(BoardError) as info:
        load_boards([tmp_path])
    assert "bad.yaml" in str(info.value) and "missing field" in str(info.value)


def test_unknown_board_suggests_the_closest():
    with pytest.raises(UsageError) as info:
        audit({"input": [4], "layers": [{"dense": 2}]}, ["nano34"])
    assert "nano33" in str(info.value)


def test_builtin_dir_is_the_repository_configs():
    assert (builtin_dir() / "nano33.yaml").is_file()


def test_verdict_thresholds(tmp_path: Path):
    # 100 KiB SRAM, 0 reserved: an arena of ~95 KiB warns, ~105 KiB fails, ~50 KiB passes.
    (tmp_path / "b.yaml").write_text(
        "id: b\nname: B\nmcu: X\ncore: M4\nclock_mhz: 1\nsram_kib: 100\nflash_kib: 10000\n"
        "ram_reserved_kib: 0\nflash_reserved_kib: 0\n")

    def verdict(n: int) -> Verdict:
        spec = {"input": [n * 1024], "layers": [{"dropout": 0.1}]}
        return audit(spec, ["b"], boards_dir=[tmp_path]).boards[0].verdict

    assert verdict(50) is Verdict.PASS
    assert verdict(95) is Verdict.WARN
    assert verdict(105) is Verdict.FAIL


def test_named_boards_are_read_alone_and_equal_the_full_load(tmp_path):
    """`check --board nano33` reads one profile; the result is the full load's profile, a
    user's folder still wins, and an unknown id falls back to every profile so the error
    can name the closest one."""

    full = load_boards()
    named = load_boards(ids=["nano33,esp32"])
    assert list(named) == ["nano33", "esp32"]
    assert named["nano33"] == full["nano33"] and named["esp32"] == full["esp32"]
    text = (builtin_dir() / "nano33.yaml").read_text().replace("clock_mhz: 64", "clock_mhz: 32")
    (tmp_path / "nano33.yaml").write_text(text)
    assert load_boards([tmp_path], ids=["nano33"])["nano33"].clock_mhz == 32
    fallback = load_boards(ids=["nano34"])
    assert len(fallback) == len(full)
    with pytest.raises(UsageError, match="did you mean 'nano33'"):
        select(fallback, ["nano34"])
