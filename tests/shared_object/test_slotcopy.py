"""The standby-slot copy (_slotcopy.c): exact bytes for every strategy, size and
alignment, nothing written outside the destination, clear errors on bad buffers; and
SharedObject round trips under each strategy the planner can choose."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from copy_fixtures import EPYC, FLOAT_FRAME, FRAME, SMALL_L3, XEON, FakeTimer
from so_helpers import assert_same

from godot_aigym.shared_object import SharedDynamicObject, SharedObject, copy_strategy
from godot_aigym.shared_object.copy_strategy import (MEMCPY, STREAM, STREAM1, Caches, CopyPlanner, candidate_keeps,
                                                     stream_keep)
from godot_aigym.shared_object.sync import slotcopy

COPY = slotcopy()
L2 = copy_strategy.planner().caches.l2
# Sizes around every boundary: the GIL release / streaming minimum (64 KiB), the 64-byte
# line, the L2 tail; plus sizes well past L2.
SIZES = [0, 1, 63, 64, 65, 4096, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 65, L2 // 8 + 1, L2 // 3 + 64 * 7 + 5, L2 + 3, 2 * L2 + 13]


@settings(max_examples=120, deadline=None)
@given(
    n=st.sampled_from(SIZES),
    keep_frac=st.sampled_from([0.0, 0.01, 0.5, 0.99, 1.0, 2.0]),
    keep_extra=st.integers(-1, 1),
    dst_off=st.integers(0, 63),
    src_off=st.integers(0, 63),
    seed=st.integers(0, 2**32 - 1),
    backward=st.booleans(),
    slot1_only=st.booleans(),
)
def test_copy_is_exact_for_any_keep_size_and_alignment(
    n: int, keep_frac: float, keep_extra: int, dst_off: int, src_off: int, seed: int, backward: bool, slot1_only: bool
) -> None:
    """keep = 0 streams everything, keep >= n is memcpy; every split in between is exact,
    forward and backward (slot 1's direction), with or without the slot-1-only bit."""
    keep = max(0, int(n * keep_frac) + keep_extra) | (copy_strategy.STREAM_SLOT1_ONLY if slot1_only else 0)
    rng = np.random.default_rng(seed)
    src_buf = rng.integers(0, 256, n + 64, dtype=np.uint8)
    dst_buf = np.full(n + 128, 0xA5, np.uint8)
    src = src_buf[src_off : src_off + n]
    dst = dst_buf[dst_off : dst_off + n]
    COPY.copy(dst, src, keep, backward)
    assert np.array_equal(dst, src)
    assert (dst_buf[:dst_off] == 0xA5).all() and (dst_buf[dst_off + n :] == 0xA5).all(), "wrote outside the destination"


@pytest.mark.parametrize("backward", [False, True])
def test_kernels_of_cpus_without_avx2_are_exact_too(backward: bool) -> None:
    """The SSE2 streaming and 4 KiB-block backward kernels (the AVX2 ones run where the CPU
    has AVX2): every keep split, odd line counts, both directions."""
    rng = np.random.default_rng(3)
    before = COPY.use_avx2(False)
    try:
        for n, off in ((L2 + 3, 5), (2 * L2 + 64, 0), (64 * 1024 + 65, 33)):
            src = rng.integers(0, 256, n, dtype=np.uint8)
            for keep in (0, 4096 + 7, n // 2, n):
                dst_buf = np.full(n + 128, 0xA5, np.uint8)
                COPY.copy(dst_buf[off : off + n], src, keep, backward)
                assert np.array_equal(dst_buf[off : off + n], src)
                assert (dst_buf[:off] == 0xA5).all() and (dst_buf[off + n :] == 0xA5).all()
    finally:
        COPY.use_avx2(before)


def test_bad_buffers_and_keep_are_refused_without_writing() -> None:
    dst = np.zeros(100, np.uint8)
    with pytest.raises(ValueError, match="destination holds 100 bytes, source has 99"):
        COPY.copy(dst, np.ones(99, np.uint8))
    with pytest.raises(TypeError):
        COPY.copy(b"\0" * 100, np.ones(100, np.uint8))  # read-only destination
    with pytest.raises((ValueError, BufferError)):
        COPY.copy(dst, np.ones(200, np.uint8)[::2])  # strided source
    with pytest.raises(ValueError, match="keep must be >= 0, got -1"):
        COPY.copy(dst, np.ones(100, np.uint8), -1)
    assert not dst.any()


# -- the strategy chooser ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "caches", "streaming", "expected"),
    [
        (100_000, EPYC, True, MEMCPY),  # 3n fits in L2: nothing to gain
        (FRAME, EPYC, True, "calibrate"),  # 3n fits in L3, not L2: measure
        (FLOAT_FRAME, EPYC, True, STREAM),  # 3n beyond half the L3: stream
        (FRAME, SMALL_L3, True, STREAM),
        (FLOAT_FRAME, XEON, True, "calibrate"),  # sysfs's 480 MiB L3 decides nothing below 80 MiB
        (1080 * 1920 * 3 * 4, XEON, True, "calibrate"),
        (FRAME // 4, XEON, True, MEMCPY),  # 3n fits in the 2 MiB L2
        (600_000, SMALL_L3, True, MEMCPY),
        (FRAME, Caches(l2=1 << 20, l3=0), True, STREAM),  # L3 unknown: stream past L2
        (FLOAT_FRAME, EPYC, False, MEMCPY),  # no streaming stores on this architecture
        (60_000, Caches(l2=128 << 10, l3=0), True, MEMCPY),  # below the streaming minimum
    ],
)
def test_rule_picks_each_strategy_from_the_cache_sizes(n: int, caches: Caches, streaming: bool, expected: str) -> None:
    assert copy_strategy.rule(n, caches, streaming) == expected


@pytest.mark.parametrize(
    ("ns", "expected"),
    [
        ((50_000, 65_000, 75_000), MEMCPY),  # the 1.2 MB frame on the 32 MiB-L3 EPYC: slots stay in L3
        ((60_000, 50_000, 55_000), STREAM1),  # its 4.3 MB frame: 2n fits the L3 share, 3n does not
        ((112_000, 98_000, 90_000), STREAM),  # the 1.2 MB frame on the 2 MiB-L2 Xeon guest (interleaved, quiet)
        ((50_000, 51_000, 52_000), STREAM),  # all within the margin of the fastest: the smallest footprint
        ((50_000, 52_000, 56_000), STREAM1),  # slot 1 streamed within it, both streamed not
    ],
)
def test_calibration_picks_the_fastest_of_three_once_per_size_class(ns: tuple[float, float, float], expected: str) -> None:
    """Timings of both kinds of hierarchy (measured there, fed in here): the band's three
    candidates are timed once per power-of-two size class and the fastest is kept, or the
    smallest cached footprint within STREAM_MARGIN of it."""
    timer = FakeTimer(*ns)
    planner = CopyPlanner(EPYC, streaming=True, timer=timer)
    assert planner.strategy(FRAME) == expected
    assert planner.strategy(FRAME + 4096) == expected  # same power-of-two class: cached
    assert planner.tuner(FRAME).choice == expected  # an object's tuner starts from the cached guess
    assert len(timer.calls) == 1
    assert timer.calls[0] == (FRAME, candidate_keeps(FRAME, EPYC))
    assert planner.keep(FRAME) == candidate_keeps(FRAME, EPYC)[expected]
    assert planner.keep(FLOAT_FRAME) == stream_keep(FLOAT_FRAME, EPYC)  # past half the L3: both slots streamed
    planner.strategy(2 * FRAME)  # the next class is measured anew
    assert len(timer.calls) == 2
    assert planner.strategy(FLOAT_FRAME) == STREAM and planner.strategy(1000) == MEMCPY  # decided without timing
    assert len(timer.calls) == 2


def test_candidates_keep_three_footprints() -> None:
    keeps = candidate_keeps(FRAME, XEON)
    assert keeps[MEMCPY] == FRAME and keeps[STREAM] == stream_keep(FRAME, XEON) < FRAME
    assert keeps[STREAM1] == stream_keep(FRAME, XEON) | copy_strategy.STREAM_SLOT1_ONLY


def test_stream_keep_leaves_the_l2_share_and_at_least_an_eighth() -> None:
    assert stream_keep(FRAME, Caches(2 << 20, 0)) == ((2 << 20) - FRAME) // 2
    assert stream_keep(FRAME, EPYC) == (512 << 10) // 8
    assert stream_keep(100 << 20, EPYC) == (512 << 10) // 8


def test_real_calibration_times_both_copies() -> None:
    n = 256 << 10
    timings = copy_strategy.time_candidates(n, candidate_keeps(n, Caches(128 << 10, 0)), COPY.copy)
    assert set(timings) == {MEMCPY, STREAM1, STREAM} and all(t > 0 for t in timings.values())


def test_first_guess_is_not_fooled_by_one_lucky_round(monkeypatch: pytest.MonkeyPatch) -> None:
    """Timed on a fake clock: memcpy costs 100 a copy except in one round (the other jobs
    left the L3 alone: 10), streaming 60.  Each copy's fastest round chose memcpy; the
    median of the per-round ratios chooses streaming, at its typical cost."""
    n = 1 << 20
    clock, memcpy_copies = [0], [0]

    def fake_copy(dst: np.ndarray, src: np.ndarray, keep: int, backward: int) -> None:
        if keep >= n:
            memcpy_copies[0] += 1
            lucky = (memcpy_copies[0] - 1) // (2 + copy_strategy.CALIBRATION_TIMED) == 3
            clock[0] += 10 if lucky else 100
        else:
            clock[0] += 60

    monkeypatch.setattr(copy_strategy.time, "perf_counter_ns", lambda: clock[0])
    timings = copy_strategy.time_candidates(n, {MEMCPY: n, STREAM: 0}, fake_copy)
    monkeypatch.undo()
    assert timings == {MEMCPY: 100.0, STREAM: pytest.approx(60.0)}
    assert CopyPlanner(EPYC, True, timer=lambda n, keeps: timings).strategy(FRAME) == STREAM


def test_cache_sizes_are_read_from_sysfs(tmp_path) -> None:
    entries = [(1, "Data", "32K"), (1, "Instruction", "32K"), (2, "Unified", "512K"), (3, "Unified", "32768K")]
    for i, (level, kind, size) in enumerate(entries):
        d = tmp_path / f"index{i}"
        d.mkdir()
        (d / "level").write_text(f"{level}\n")
        (d / "type").write_text(f"{kind}\n")
        (d / "size").write_text(f"{size}\n")
    assert copy_strategy.caches_from_sysfs(tmp_path) == Caches(512 << 10, 32 << 20)
    assert copy_strategy.caches_from_sysfs(tmp_path / "missing") == Caches(0, 0)
    caches = copy_strategy.detect_caches()
    assert caches.l2 >= 64 << 10


# -- SharedObject under each strategy --------------------------------------------------------
@pytest.fixture(params=[MEMCPY, STREAM1, STREAM])
def forced(request: pytest.FixtureRequest) -> Iterator[str]:
    """This process's planner chooses `request.param` for every array of 64 KiB and more."""
    with copy_strategy.forced(request.param):
        yield request.param


def test_forced_strategy_is_scoped_and_validated() -> None:
    before = copy_strategy.planner()
    with copy_strategy.forced(STREAM) as p:
        assert copy_strategy.planner() is p and p.strategy(FRAME) == (STREAM if COPY.STREAMING else MEMCPY)
        assert p.strategy(1000) == MEMCPY
    assert copy_strategy.planner() is before
    with pytest.raises(ValueError, match="forced must be None, 'memcpy', 'stream1' or 'stream', got 'fast'"):
        CopyPlanner(EPYC, True, forced="fast")


@pytest.mark.parametrize("order", ["C", "F", "strided"])
def test_large_assign_round_trips_any_layout_with_each_strategy(name: str, order: str, forced: str) -> None:
    """A frame past L2, from C-ordered, Fortran-ordered and strided sources."""
    rows = max(480, -(-L2 // (848 * 3 * 2)))  # at least L2 bytes of uint16
    obj = SharedObject(name, data=np.zeros((rows, 848, 3), np.uint16))
    nbytes = obj.fetch().nbytes
    rng = np.random.default_rng(7)
    for _ in range(3):  # both slots, twice
        base = rng.integers(0, 65535, (rows * 2, 848, 3), dtype=np.uint16)
        value = {"C": base[:rows].copy(), "F": np.asfortranarray(base[:rows]), "strided": base[::2]}[order]
        obj.assign(value)
        assert_same(obj.fetch(), np.ascontiguousarray(value))
    assert copy_strategy.planner().strategy(nbytes) == (forced if COPY.STREAMING else MEMCPY)
    expected_keep = candidate_keeps(nbytes, copy_strategy.planner().caches)[forced] if COPY.STREAMING else nbytes
    assert obj._codec.keep == expected_keep
    obj.close()


def test_large_arrays_inside_containers_and_read_only_sources(name: str, make_name, forced: str) -> None:
    """Arrays nested in a dict go through the same copy (write_plan); read-only sources work."""
    n = 2 * L2 // 8  # float64 elements: 2 x L2 bytes
    rng = np.random.default_rng(3)
    frame = rng.random(n)
    frame.flags.writeable = False
    value = {"frame": frame, "t": 1.5, "tag": "cam0"}
    fixed = SharedObject(name, data=value)
    dynamic = SharedDynamicObject(make_name(), data={"frame": np.zeros(3)})
    for obj in (fixed, dynamic):
        for k in range(3):
            v = dict(value, frame=np.frombuffer((frame + k).tobytes(), np.float64))  # read-only buffer
            obj.assign(v)
            assert_same(obj.fetch(), v)
        obj.close()
    assert copy_strategy.planner().strategy(frame.nbytes) == (forced if COPY.STREAMING else MEMCPY)
