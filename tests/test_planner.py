"""The arena planner: hand-worked cases, then invariants over random lifetimes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cnnaudit import audit
from cnnaudit.passes.planner import (
    Buffer,
    align,
    greedy_plan,
    linear_plan,
    live_bytes,
    plan_size,
    verify_plan,
)


def test_chain_reuses_memory_two_steps_apart():
    # a(0-1) and c(2-3) never live together: c reuses a's bytes; b sits above a.
    bufs = [Buffer("a", 100, 0, 1), Buffer("b", 50, 1, 2), Buffer("c", 100, 2, 3)]
    offsets = greedy_plan(bufs)
    assert offsets["a"] == offsets["c"] == 0
    assert offsets["b"] == align(100)
    assert plan_size(bufs, offsets) == align(100) + align(50)


def test_equal_sizes_are_placed_latest_first_and_dead_space_reused():
    # TFLM breaks size ties by placing the later-added buffer first: big2 gets offset 0,
    # big1 sits above it; small (steps 2-3) only meets big2, so it reuses big1's bytes.
    bufs = [Buffer("big1", 64, 0, 1), Buffer("big2", 64, 0, 3), Buffer("small", 16, 2, 3)]
    offsets = greedy_plan(bufs)
    assert offsets == {"big2": 0, "big1": 64, "small": 64}
    assert plan_size(bufs, offsets) == 128


def test_a_gap_below_a_later_buffer_is_used():
    # long (steps 0-3) is placed first at 0; mid (1-2) above it; tiny (3-3) meets only
    # long, whose top is 96: the gap that mid leaves after step 2 is reused.
    bufs = [Buffer("long", 96, 0, 3), Buffer("mid", 64, 1, 2), Buffer("tiny", 32, 3, 3)]
    offsets = greedy_plan(bufs)
    assert offsets == {"long": 0, "mid": 96, "tiny": 96}


def test_alignment_rounds_sizes_up():
    bufs = [Buffer("a", 1, 0, 0), Buffer("b", 1, 0, 0)]
    offsets = greedy_plan(bufs)
    assert sorted(offsets.values()) == [0, 16]


buffers = st.lists(
    st.tuples(st.integers(1, 5000), st.integers(0, 20), st.integers(0, 20)),
    min_size=1, max_size=25,
).map(lambda items: [Buffer(f"t{i}", s, min(a, b), max(a, b))
                     for i, (s, a, b) in enumerate(items)])


@settings(max_examples=200, deadline=None)
@given(buffers)
def test_greedy_plan_is_valid_and_between_bounds(bufs):
    offsets = greedy_plan(bufs)
    verify_plan(bufs, offsets)
    size = plan_size(bufs, offsets)
    lower = max(live_bytes(bufs, 21))
    assert lower <= size <= plan_size(bufs, linear_plan(bufs))


def test_model_arena_is_lifetime_peak_not_a_sum():
    report = audit({"input": [28, 28, 1], "layers": [
        {"conv2d": {"filters": 64, "kernel": 3}}, {"max_pool2d": 2}, "flatten", {"dense": 10},
    ]}, boards=[])
    m = report.model
    # The widest step is the pooling: its input 26*26*64 and output 13*13*64 are both live.
    assert m.peak_layer == "max_pool2d"
    assert m.activations_bytes == align(26 * 26 * 64) + align(13 * 13 * 64)
    assert m.activations_bytes < sum(layer.activation_bytes for layer in report.layers)


def test_float32_activations_take_four_times_int8():
    spec = {"input": [32, 32, 3], "layers": [{"conv2d": {"filters": 16, "kernel": 3}}]}
    i8 = audit(spec, boards=[], dtype="int8").model.activations_bytes
    f32 = audit(spec, boards=[], dtype="float32").model.activations_bytes
    assert f32 == align(32 * 32 * 3 * 4) + align(30 * 30 * 16 * 4)
    assert i8 == align(32 * 32 * 3) + align(30 * 30 * 16)


def test_dropout_shares_its_input_buffer():
    with_drop = audit({"input": [100], "layers": [{"dense": 50}, {"dropout": 0.5},
                                                  {"dense": 10}]}, boards=[])
    without = audit({"input": [100], "layers": [{"dense": 50}, {"dense": 10}]}, boards=[])
    assert with_drop.model.activations_bytes == without.model.activations_bytes
