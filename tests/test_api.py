"""The Python API as a search loop uses it: repeated calls, dict specs, a report cache."""

from __future__ import annotations

import copy

import pytest

import cnnaudit
from cnnaudit.ops import memo

SPEC = {
    "name": "tiny",
    "input": [32, 32, 3],
    "layers": [
        {"conv2d": {"filters": 8, "kernel": 3, "activation": "relu"}},
        {"max_pool2d": 2},
        "flatten",
        {"dense": {"units": 10}},
    ],
}


def params(filters: int) -> int:
    """Independent count: conv (3*3*3+1)*f, dense (15*15*f + 1)*10."""
    return (27 + 1) * filters + (15 * 15 * filters + 1) * 10


def test_repeated_spec_gives_the_same_answer():
    boards = cnnaudit.load_boards()
    nano = [boards["nano33"]]
    first = cnnaudit.audit(copy.deepcopy(SPEC), nano)
    again = cnnaudit.audit(copy.deepcopy(SPEC), nano)
    assert first.to_dict() == again.to_dict()
    assert first.model.params == params(8)


def test_a_changed_dict_is_audited_again():
    spec = copy.deepcopy(SPEC)
    nano = ["nano33"]
    assert cnnaudit.audit(spec, nano).model.params == params(8)
    spec["layers"][0]["conv2d"]["filters"] = 16  # the same dict object, mutated
    assert cnnaudit.audit(spec, nano).model.params == params(16)


def test_an_equal_spec_is_answered_from_the_cache_and_a_changed_name_is_not():
    nano = ["nano33"]
    first = cnnaudit.audit(copy.deepcopy(SPEC), nano)
    assert cnnaudit.audit(copy.deepcopy(SPEC), nano) is first  # equal, not the same dict
    renamed = {**copy.deepcopy(SPEC), "name": "other"}  # the part beside the layers
    assert cnnaudit.audit(renamed, nano).model.name == "other"


def test_spec_key_is_exact_type_for_type():
    from cnnaudit.frontends import spec_key

    def key(value: object) -> object:
        spec = copy.deepcopy(SPEC)
        spec["layers"][1] = {"max_pool2d": value}
        return spec_key(spec)

    assert key(2) == key(2)
    assert len({key(2), key(2.0), key(True)}) == 3  # type: ignore[arg-type]
    assert spec_key({**SPEC, "layers": tuple(SPEC["layers"])}) is None  # not a plain list


def test_different_boards_or_dtype_are_not_confused():
    spec = copy.deepcopy(SPEC)
    a = cnnaudit.audit(spec, ["nano33"], dtype="int8")
    b = cnnaudit.audit(spec, ["nano33"], dtype="float32")
    c = cnnaudit.audit(spec, ["esp32"], dtype="int8")
    assert a.model.flash_bytes < b.model.flash_bytes
    assert [r.board.id for r in c.boards] == ["esp32"]


def test_cached_report_cannot_be_corrupted_by_a_caller():
    report = cnnaudit.audit(copy.deepcopy(SPEC), ["nano33"])
    with pytest.raises(TypeError):
        report.model.flash_breakdown["weights"] = 0  # type: ignore[index]
    with pytest.raises(TypeError):
        report.model.weights_bytes_by_dtype["int8"] = 0  # type: ignore[index]


def test_memoised_rules_match_fresh_ones():
    """The per-layer memo must not change any number: audit with a cold memo, with a warm
    one, and with arguments that are equal but of another type (True vs 1)."""
    spec = copy.deepcopy(SPEC)
    memo.clear()
    cold = cnnaudit.analyse(cnnaudit.frontends.load(spec), []).to_dict()
    warm = cnnaudit.analyse(cnnaudit.frontends.load(spec), []).to_dict()
    assert cold == warm
    good = copy.deepcopy(SPEC)
    good["layers"][0]["conv2d"]["use_bias"] = True
    bad = copy.deepcopy(SPEC)
    bad["layers"][0]["conv2d"]["use_bias"] = 1  # equal to True, but not a bool
    cnnaudit.audit(good, [])  # the memo now holds conv2d with use_bias=True
    with pytest.raises(cnnaudit.CnnauditError, match="use_bias"):
        cnnaudit.audit(bad, [])
