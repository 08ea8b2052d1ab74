"""Budgets -> PASS / WARN / FAIL per board, each with the reasons a user can act on."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .boards import KIB, Board

WARN_HEADROOM_PCT = 10.0  # fits, but with less than this share of a budget left


class Verdict(str, Enum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"

    @staticmethod
    def worst(verdicts: list[Verdict]) -> Verdict:
        order = [Verdict.PASS, Verdict.WARN, Verdict.FAIL]
        return max(verdicts, key=order.index, default=Verdict.PASS)


@dataclass(frozen=True)
class BoardResult:
    board: Board
    verdict: Verdict
    ram_bytes: int  # arena + what the board's runtime already takes
    flash_bytes: int  # model + runtime reserve
    arena_bytes: int
    model_flash_bytes: int
    headroom_pct: float  # the tighter of RAM and flash
    reasons: tuple[str, ...]
    latency_ms: float | None = None  # estimated inference time, when a latency model exists


def kib(n: float) -> str:
    return f"{n / KIB:,.1f} KiB"


def judge(board: Board, arena_bytes: int, model_flash_bytes: int,
          blockers: tuple[str, ...] = ()) -> BoardResult:
    """Rules, in order: nothing may block the model from running (an operator TFLite Micro
    cannot run); the arena must fit the largest contiguous block; RAM and flash (model +
    the board's reserves) must fit; less than 10 % headroom is a warning."""
    ram = arena_bytes + board.ram_reserved_bytes
    flash = model_flash_bytes + board.flash_reserved_bytes
    ram_budget, flash_budget = board.ram_budget_bytes, board.flash_budget_bytes
    reasons: list[str] = list(blockers)
    failed = bool(blockers)
    block = board.arena_max_bytes
    if block is not None and arena_bytes > block:
        failed = True
        reasons.append(f"arena {kib(arena_bytes)} > {kib(block)} largest free block")
    if ram > ram_budget:
        failed = True
        reasons.append(f"RAM over by {kib(ram - ram_budget)}")
    if flash > flash_budget:
        failed = True
        reasons.append(f"flash over by {kib(flash - flash_budget)}")
    ram_room = 100.0 * (ram_budget - ram) / ram_budget if ram_budget else -100.0
    flash_room = 100.0 * (flash_budget - flash) / flash_budget if flash_budget else -100.0
    if block is not None:
        ram_room = min(ram_room, 100.0 * (block - arena_bytes) / block if block else -100.0)
    headroom = min(ram_room, flash_room)
    verdict = Verdict.FAIL if failed else Verdict.PASS
    if not failed and headroom < WARN_HEADROOM_PCT:
        verdict = Verdict.WARN
        which = "RAM" if ram_room <= flash_room else "flash"
        reasons.append(f"{which} headroom {headroom:.1f} % < {WARN_HEADROOM_PCT:g} %")
    return BoardResult(board, verdict, ram, flash, arena_bytes, model_flash_bytes,
                       round(headroom, 1), tuple(reasons))
