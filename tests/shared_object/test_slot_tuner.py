"""The in-situ SlotTuner (copy_strategy.py): explorations in blocks, compared by pairs of
copies, quiet intervals sized by what exploring costs, and objects that stay exact while it
switches strategies (their C Writer making and timing the exploring copies)."""

from __future__ import annotations

import numpy as np
import pytest
from copy_fixtures import EPYC, FLOAT_FRAME, FRAME, FakeTimer
from so_helpers import assert_same

from godot_aigym.shared_object import SharedObject, copy_strategy, fixed_codecs
from godot_aigym.shared_object.copy_strategy import MEMCPY, STREAM, STREAM1, Caches, CopyPlanner, SlotTuner, candidate_keeps
from godot_aigym.shared_object.sync import slotcopy

COPY = slotcopy()


# -- the in-situ tuner -------------------------------------------------------------------------
KEEPS = {MEMCPY: 1000, STREAM: 10}
EXPLORATION = 2 * SlotTuner.BLOCKS * SlotTuner.BLOCK


def _feed(tuner: SlotTuner, ns: dict[str, int], count: int, first_of_block: int | None = None) -> list[int]:
    """Report `count` copies as ArrayCodec.write does (timed ns[strategy in use] while
    exploring, untimed otherwise); returns the keeps used."""
    used = []
    for _ in range(count):
        used.append(tuner.keep)
        if tuner.quiet:
            tuner.untimed()
            continue
        strategy = MEMCPY if tuner.keep == KEEPS[MEMCPY] else STREAM
        settling = tuner.count < SlotTuner.SETTLE
        tuner.record(first_of_block if settling and first_of_block is not None else ns[strategy])
    return used


@pytest.mark.parametrize(
    ("first", "ns", "expected"),
    [
        (MEMCPY, {MEMCPY: 100, STREAM: 50}, STREAM),
        (STREAM, {MEMCPY: 50, STREAM: 100}, MEMCPY),
        (MEMCPY, {MEMCPY: 97, STREAM: 100}, STREAM),  # within the margin: the smaller footprint
        (STREAM, {MEMCPY: 90, STREAM: 100}, MEMCPY),  # memcpy beyond it
    ],
)
def test_tuner_explores_in_blocks_then_keeps_the_faster(first: str, ns: dict[str, int], expected: str) -> None:
    tuner = SlotTuner(KEEPS, first)  # no first guess: explores at once
    assert tuner.exploring
    used = _feed(tuner, ns, EXPLORATION, first_of_block=10**9)  # settling copies are not counted
    other = STREAM if first == MEMCPY else MEMCPY
    blocks = [used[i : i + SlotTuner.BLOCK] for i in range(0, EXPLORATION, SlotTuner.BLOCK)]
    assert [set(b) for b in blocks] == [{KEEPS[first]}, {KEEPS[other]}] * SlotTuner.BLOCKS
    assert not tuner.exploring and tuner.choice == expected and tuner.explorations == 1
    assert tuner.timings == {MEMCPY: ns[MEMCPY], STREAM: ns[STREAM]}
    assert tuner.interval == tuner.next_interval(ns)
    assert set(_feed(tuner, ns, tuner.interval - 1)) == {KEEPS[expected]}
    _feed(tuner, ns, 1)
    assert tuner.exploring  # and it looks again
    _feed(tuner, ns, EXPLORATION)
    assert tuner.explorations == 2 and not tuner.exploring


def test_tuner_compares_pairs_of_copies_not_the_fast_slot() -> None:
    """The streamed candidate streams slot 1 only: its copies alternate fast (slot 0) and slow
    (slot 1).  Per pair it is 50 against memcpy's 45, so memcpy stays and the interval is the
    loss's; the lower quartile of single copies saw 40 < 45 and chose streaming."""
    tuner = SlotTuner(KEEPS, MEMCPY)
    slot = iter(range(10**6))
    for _ in range(EXPLORATION):
        tuner.record(45 if tuner.keep == KEEPS[MEMCPY] else (40 if next(slot) % 2 else 60))
    assert tuner.choice == MEMCPY and tuner.timings == {MEMCPY: 45.0, STREAM: 50.0}
    assert tuner.interval == tuner.next_interval({MEMCPY: 45.0, STREAM: 50.0}) > SlotTuner.FIRST


def test_tuner_follows_a_change_of_conditions() -> None:
    tuner = SlotTuner(KEEPS, MEMCPY)
    _feed(tuner, {MEMCPY: 50, STREAM: 100}, EXPLORATION)
    _feed(tuner, {MEMCPY: 50, STREAM: 100}, tuner.interval)
    assert tuner.choice == MEMCPY and tuner.exploring
    _feed(tuner, {MEMCPY: 180, STREAM: 130}, EXPLORATION)  # e.g. a reader process started
    assert tuner.choice == STREAM and tuner.explorations == 2


@pytest.mark.parametrize(
    ("ns", "expected"),
    [
        ({MEMCPY: 112, STREAM1: 98, STREAM: 90}, STREAM),  # the 1.2 MB frame on the 2 MiB-L2 Xeon guest
        ({MEMCPY: 133, STREAM1: 115, STREAM: 125}, STREAM1),  # the 4.3 MB frame on the 32 MiB-L3 EPYC
        ({MEMCPY: 113, STREAM1: 125, STREAM: 150}, MEMCPY),  # the 1.2 MB frame there
    ],
)
def test_tuner_explores_every_candidate_and_keeps_the_fastest(ns: dict[str, int], expected: str) -> None:
    keeps = {MEMCPY: 1000, STREAM1: 20, STREAM: 10}
    by_keep = {v: k for k, v in keeps.items()}
    tuner = SlotTuner(keeps, MEMCPY)
    used = []
    for _ in range(tuner.exploration_copies):
        used.append(by_keep[tuner.keep])
        tuner.record(ns[used[-1]])
    blocks = [used[i] for i in range(0, len(used), SlotTuner.BLOCK)]
    assert blocks == [MEMCPY, STREAM1, STREAM] * SlotTuner.BLOCKS and len(used) == 96
    assert tuner.choice == expected and tuner.keep == keeps[expected] and tuner.timings == ns
    loss = sum(t / ns[expected] - 1 for t in ns.values() if t > ns[expected])
    assert tuner.interval == min(max(round(32 * loss / SlotTuner.EXPLORE_BUDGET), SlotTuner.FIRST), SlotTuner.LONGEST)
    assert by_keep[tuner.pending_keeps()[0]] == expected  # the next exploration starts with the choice


@pytest.mark.parametrize("ratio", [0.8, 1.0, 1.03, 1.1, 1.3, 1.5, 2.0, 100.0])
def test_exploring_costs_at_most_its_budget_within_the_interval_bounds(ratio: float) -> None:
    """The losing copy's extra time per exploration, spread over the quiet interval, stays
    within EXPLORE_BUDGET unless the interval is at its bounds (a tie: looking is cheap;
    a huge loss: looked at every LONGEST assigns).  A fresh object's first look, seeded by
    the first guess, is a shorter exploration (FIRST_BLOCKS) and may come after FIRST_LOOK."""
    timings = {MEMCPY: 1000.0, STREAM: 1000.0 * ratio}
    guessed, explored = SlotTuner(KEEPS, MEMCPY, guess=timings), SlotTuner(KEEPS, MEMCPY)
    assert guessed.interval == guessed.next_interval(timings, SlotTuner.FIRST_LOOK)
    for tuner, blocks, shortest in ((guessed, SlotTuner.FIRST_BLOCKS, SlotTuner.FIRST_LOOK), (explored, SlotTuner.BLOCKS, SlotTuner.FIRST)):
        interval = tuner.next_interval(timings, shortest)
        assert tuner.exploration_copies == len(KEEPS) * blocks * SlotTuner.BLOCK
        assert shortest <= interval <= SlotTuner.LONGEST
        extra = blocks * SlotTuner.BLOCK * (ratio - 1)
        if shortest < interval < SlotTuner.LONGEST:
            assert extra / interval == pytest.approx(SlotTuner.EXPLORE_BUDGET, rel=0.01)
        elif interval == shortest:
            assert extra / interval <= SlotTuner.EXPLORE_BUDGET
    assert [SlotTuner(KEEPS, MEMCPY, guess={MEMCPY: 1000.0, STREAM: 1000.0 * r}).interval for r in (1.2, 1.5)] == [640, 1600]


def test_a_first_guess_that_saw_a_tie_is_checked_early() -> None:
    """A tie on private buffers is the least sure guess and looking costs nothing by it: the
    object times the candidates itself after FIRST_LOOK assigns (then every FIRST at least)."""
    tuner = SlotTuner(KEEPS, MEMCPY, guess={MEMCPY: 678.0, STREAM: 686.0})  # the 9.8 MB array's guess, Xeon
    assert SlotTuner.FIRST_LOOK < tuner.quiet == tuner.interval == 38 < SlotTuner.FIRST  # 16 x 1.2% / 0.5%
    assert SlotTuner(KEEPS, MEMCPY, guess={MEMCPY: 678.0, STREAM: 678.0}).interval == SlotTuner.FIRST_LOOK
    assert tuner.exploration_copies == EXPLORATION // 2  # the first look: FIRST_BLOCKS rounds
    _feed(tuner, {MEMCPY: 873, STREAM: 687}, tuner.interval + EXPLORATION // 2)  # its own assigns
    assert tuner.choice == STREAM and tuner.explorations == 1 and tuner.interval >= SlotTuner.FIRST
    assert tuner.exploration_copies == EXPLORATION  # the later ones: BLOCKS


def test_a_fresh_tuner_trusts_the_first_guess_until_its_first_interval() -> None:
    """Seeded with the process's first-guess timing, a new object copies with the guessed
    strategy, untimed, and explores only after the interval that timing sets."""
    tuner = SlotTuner(KEEPS, MEMCPY, guess={MEMCPY: 50.0, STREAM: 75.0})
    assert not tuner.exploring and tuner.quiet == tuner.interval == 1600  # 16 x 0.5 / 0.5%
    assert set(_feed(tuner, {MEMCPY: 50, STREAM: 75}, 1599)) == {KEEPS[MEMCPY]}
    assert not tuner.exploring and tuner.explorations == 0
    _feed(tuner, {MEMCPY: 50, STREAM: 75}, 1)
    assert tuner.exploring


def test_planner_hands_out_tuners_only_where_the_caches_do_not_decide() -> None:
    planner = CopyPlanner(EPYC, streaming=True, timer=FakeTimer(50_000, 65_000, 60_000))
    tuner = planner.tuner(FRAME)
    assert isinstance(tuner, SlotTuner) and tuner.choice == MEMCPY
    assert not tuner.exploring and tuner.quiet == 1600  # seeded by the calibration: 16 x (0.3 + 0.2) / 0.5%
    assert tuner.keeps == candidate_keeps(FRAME, EPYC) and tuner.exploration_copies == 48  # a first look
    assert planner.tuner(FLOAT_FRAME) is None and planner.tuner(1000) is None
    assert CopyPlanner(EPYC, streaming=True, forced=STREAM).tuner(FRAME) is None
    assert CopyPlanner(EPYC, streaming=False).tuner(FRAME) is None


def test_tuned_object_stays_exact_while_it_switches(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every assign of an exploration (both strategies, switching in blocks) round-trips."""
    caches = Caches(l2=128 << 10, l3=1 << 40)  # 256 KiB arrays are in the calibrated band
    planner = CopyPlanner(caches, streaming=bool(COPY.STREAMING), timer=FakeTimer(1.0, 1.0))  # a tie
    monkeypatch.setattr(copy_strategy, "_planner", planner)
    rng = np.random.default_rng(11)
    obj = SharedObject(name, data=np.zeros(32 << 10))
    keeps = set()
    for _ in range(SlotTuner.FIRST + 3 * SlotTuner.BLOCKS * SlotTuner.BLOCK + 4):
        value = rng.random(32 << 10)
        writer = obj._codec.writer
        keeps |= {writer.keep} if writer.budget else set((writer.plan or ())[len(writer.times) : len(writer.times) + 1])
        obj.assign(value)
        assert_same(obj.fetch(), value)
    if COPY.STREAMING:
        assert obj._codec.tuner.explorations == 1
        assert keeps == set(candidate_keeps(256 << 10, caches).values())
    obj.close()


def test_tuner_looks_again_as_often_as_the_last_exploration_affords() -> None:
    tuner = SlotTuner(KEEPS, MEMCPY)
    intervals = []
    for ns in ({MEMCPY: 50, STREAM: 100}, {MEMCPY: 50, STREAM: 51}, {MEMCPY: 50, STREAM: 75}, {MEMCPY: 50, STREAM: 5000}):
        _feed(tuner, ns, EXPLORATION)
        intervals.append(tuner.interval)
        _feed(tuner, ns, tuner.interval)
    assert intervals == [6400, SlotTuner.FIRST, 3200, SlotTuner.LONGEST]
    assert tuner.explorations == 4 and tuner.choice == MEMCPY


def test_an_object_explores_in_its_writer_without_python_clock_reads(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seeded by the first guess (streaming 1.5x slower: quiet for 3200 assigns), a fixed
    array object copies untimed until its first exploration; its C Writer then makes and
    times the exploring copies too (the Python path cost ~1.5 us more per assign), and the
    next assign hands the times to the tuner."""
    caches = Caches(l2=128 << 10, l3=1 << 40)  # 256 KiB arrays are in the calibrated band
    monkeypatch.setattr(copy_strategy, "_planner", CopyPlanner(caches, streaming=True, timer=FakeTimer(1.0, 1.5)))
    clock_reads: list[int] = []
    real_clock = fixed_codecs.perf_counter_ns
    monkeypatch.setattr(fixed_codecs, "perf_counter_ns", lambda: clock_reads.append(1) or real_clock())
    value = np.random.default_rng(5).random(32 << 10)
    obj = SharedObject(name, data=np.zeros(32 << 10))
    obj.assign(value)  # the first prepare() plans: a tuner seeded by the (fake) first guess
    tuner = obj._codec.tuner
    assert tuner is not None and tuner.interval == 3200 and not tuner.exploring
    while tuner.quiet:
        obj.assign(value)
    assert clock_reads == [] and tuner.exploring and tuner.explorations == 0
    for _ in range(tuner.exploration_copies):
        obj.assign(value)
    times = obj._codec.writer.times
    assert len(times) == tuner.exploration_copies and all(t > 0 for t in times) and tuner.explorations == 0
    obj.assign(value)  # the Writer's plan is done: it declines, and the Python path digests
    assert clock_reads == [] and tuner.explorations == 1 and not tuner.exploring
    assert set(tuner.timings) == {MEMCPY, STREAM1, STREAM} and obj._codec.writer.times == []
    assert_same(obj.fetch(), value)
    obj.close()
