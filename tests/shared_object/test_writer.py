"""The one-call assign of fixed arrays (`_slotcopy.Writer`, used by SharedObject.assign):
taken only for exactly matching C-contiguous arrays, the general path for everything
else, the same errors, lock timeouts and double buffering either way."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from so_helpers import assert_same

from godot_aigym.shared_object import LockTimeoutError, ObjectClosedError, SharedObject, TypeMismatchError
from godot_aigym.shared_object.sync import slotcopy

FRAME = (120, 160, 3)


def _forbid_general_path(obj: SharedObject, monkeypatch: pytest.MonkeyPatch) -> None:
    def general_path(*args: Any) -> None:
        raise AssertionError("assign took the Python path")

    for attr in ("_prepare", "_write", "_lock", "_commit"):
        monkeypatch.setattr(obj, attr, general_path)


def test_an_array_assign_is_one_c_call(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lock, copy and commit happen inside the Writer: no Python-level prepare/lock/write/
    commit (they cost ~1.7 us, 4% of a frame's assign, where np.copyto's overhead is ~0.5 us)."""
    rng = np.random.default_rng(1)
    obj = SharedObject(name, data=np.zeros(FRAME, np.uint8))
    reader = SharedObject(name)
    obj.assign(np.ones(FRAME, np.uint8))  # the first assign plans the copy (general path)
    _forbid_general_path(obj, monkeypatch)
    for _ in range(4):  # both slots, twice
        value = rng.integers(0, 256, FRAME, dtype=np.uint8)
        seen = reader._load()
        assert obj.assign(value) is obj
        assert reader.modified and reader._load() != seen and obj.mtime > 0
        assert_same(reader.fetch(), value)
        assert not obj.modified  # the writing handle saw its own version, as on the general path
    reader.close()
    monkeypatch.undo()
    obj.close()


@pytest.mark.parametrize(
    "make",
    [
        lambda v: np.asfortranarray(v),
        lambda v: np.stack([v, v], axis=1)[:, 0],  # strided
    ],
    ids=["fortran", "strided"],
)
def test_other_layouts_take_the_general_path_and_round_trip(name: str, make: Any) -> None:
    rng = np.random.default_rng(2)
    obj = SharedObject(name, data=np.zeros(FRAME, np.uint8))
    for _ in range(3):
        value = rng.integers(0, 256, FRAME, dtype=np.uint8)
        source = make(value)
        assert not source.flags.c_contiguous and obj._writer_assign(source) is None
        obj.assign(source)
        assert_same(obj.fetch(), value)
    obj.close()


def test_a_structured_dtype_equal_but_not_identical_round_trips(name: str) -> None:
    """The Writer compares the dtype object; an equal one from elsewhere goes the general way."""
    spec = [("x", "<f8"), ("n", "u1")]
    obj = SharedObject(name, data=np.zeros(50_000, np.dtype(spec)))
    value = np.zeros(50_000, np.dtype(spec))  # a different, equal dtype object
    value["x"], value["n"] = np.arange(50_000) * 0.5, np.arange(50_000) % 256
    assert value.dtype == obj._codec.dtype and value.dtype is not obj._codec.dtype
    obj.assign(value)
    assert obj._writer_assign(value) is None
    assert_same(obj.fetch(), value)
    obj.close()


def test_wrong_values_still_raise_the_documented_errors(name: str) -> None:
    obj = SharedObject(name, data=np.zeros(FRAME, np.uint8))
    good = np.full(FRAME, 7, np.uint8)
    obj.assign(good)
    with pytest.raises(TypeMismatchError, match="dtype uint8, got float32"):
        obj.assign(np.zeros(FRAME, np.float32))
    with pytest.raises(TypeMismatchError):
        obj.assign(np.ma.masked_array(np.zeros(FRAME, np.uint8)))  # a subclass: not ours to copy as bytes
    assert_same(obj.fetch(), good)
    obj.close()
    with pytest.raises(ObjectClosedError):
        obj.assign(good)


def test_a_held_lock_times_out_on_the_one_call_path(name: str) -> None:
    """Another handle holds the writer lock: the assign gives up after lock_timeout with
    LockTimeoutError and the value is untouched; once released, assigns go through."""
    obj = SharedObject(name, data=np.zeros(FRAME, np.uint8), lock_timeout=0.05)
    first = np.full(FRAME, 1, np.uint8)
    obj.assign(first)
    other = SharedObject(name)
    assert other._lock(10.0, 0.0) >= 0  # held until unlocked below, whatever the clock says
    try:
        with pytest.raises(LockTimeoutError, match="not acquired within 0.05 s"):
            obj.assign(np.full(FRAME, 2, np.uint8))
    finally:
        other._unlock()
    assert_same(other.fetch(), first)
    obj.assign(np.full(FRAME, 3, np.uint8))
    assert_same(other.fetch(), np.full(FRAME, 3, np.uint8))
    other.close()
    obj.close()


def test_the_general_path_copies_slot_1_backward(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both paths alternate the direction with the slot (slot 1 backward), so each copy starts
    where the previous one left the source in L2."""
    obj = SharedObject(name, data=np.zeros(FRAME, np.uint8))
    obj.assign(np.zeros(FRAME, np.uint8))  # planned: the Writer is armed ...
    codec = obj._codec
    codec.writer.budget = 0  # ... and now declines: C-contiguous sources take codec.write
    calls: list[tuple[int, bool]] = []
    real = codec.copy

    def recording_copy(dst: np.ndarray, src: np.ndarray, keep: int, backward: int) -> None:
        calls.append((dst.ctypes.data, bool(backward)))
        real(dst, src, keep, backward)

    monkeypatch.setattr(codec, "copy", recording_copy)
    for k in range(4):
        value = np.full(FRAME, k, np.uint8)
        obj.assign(value)
        assert_same(obj.fetch(), value)
    slot1 = codec.views[1].ctypes.data
    assert [(addr == slot1, backward) for addr, backward in calls] == [(True, True), (False, False)] * 2
    obj.close()


def test_writer_refuses_bad_construction() -> None:
    views = (np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match="views must be a pair"):
        slotcopy().Writer(len, len, len, views * 2, views[0].dtype, (4,), 1.0, 0.0)
    with pytest.raises(TypeError):
        slotcopy().Writer(len, len, len, views, views[0].dtype, [4], 1.0, 0.0)  # shape must be a tuple
    writer = slotcopy().Writer(len, len, len, views, views[0].dtype, (4,), 1.0, 0.0)
    assert writer.budget == 0 and writer.keep == 32 and writer.assign(np.ones(4)) is None  # unarmed
    writer.release()
    writer.budget = -1
    assert writer.assign(np.ones(4)) is None  # released: declines, touches nothing


def test_writer_runs_its_plan_after_its_budget_then_declines(name: str) -> None:
    """budget copies with `keep`, then one timed copy per planned keep, then None (the
    Python path takes over and re-arms it)."""
    obj = SharedObject(name, data=np.zeros(FRAME, np.uint8))
    reader = SharedObject(name)
    obj.assign(np.zeros(FRAME, np.uint8))
    writer = obj._codec.writer
    n = writer.nbytes
    writer.budget, writer.plan = 2, (n, 0, n // 2)
    values = [np.full(FRAME, k, np.uint8) for k in range(6)]
    done = [writer.assign(v) for v in values]
    assert [d is not None for d in done] == [True] * 5 + [False]
    assert writer.budget == 0 and len(writer.times) == 3 and all(t > 0 for t in writer.times)
    assert_same(reader.fetch(), values[4])  # the declined sixth touched nothing
    writer.plan = (-1,)
    with pytest.raises(ValueError, match="planned keep must be >= 0"):
        writer.assign(values[5])
    assert_same(reader.fetch(), values[4])
    with pytest.raises(TypeError, match="tuple of keeps or None"):
        writer.plan = [n]
    writer.plan = None
    assert writer.plan is None and writer.times == [] and writer.assign(values[5]) is None
    reader.close()
    obj.close()


def test_an_exploration_survives_sources_that_alternate_between_paths(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mid-exploration, arrays the Writer declines (an equal dtype from elsewhere) take the
    Python path: it hands the Writer's timed copies to the tuner first and re-arms it with
    what is left, so the exploration (a first look) ends once, after its copies, and every value lands."""
    from godot_aigym.shared_object import copy_strategy
    from godot_aigym.shared_object.copy_strategy import Caches, CopyPlanner, SlotTuner

    caches = Caches(l2=128 << 10, l3=1 << 40)  # 256 KiB arrays are in the calibrated band
    monkeypatch.setattr(copy_strategy, "_planner", CopyPlanner(caches, True, timer=lambda n, keeps: dict.fromkeys(keeps, 1.0)))
    spec = [("x", "<f8")]
    obj = SharedObject(name, data=np.zeros(32 << 10, np.dtype(spec)))
    ours = obj._codec.dtype
    rng = np.random.default_rng(4)
    explorations = []
    first = SlotTuner.FIRST_LOOK  # the fake first guess is a tie: the object looks early
    for i in range(1 + first + 3 * SlotTuner.BLOCKS * SlotTuner.BLOCK + 2):
        declined = i > first and i % 3 == 0
        value = np.zeros(32 << 10, np.dtype(spec) if declined else ours)
        value["x"] = rng.random(32 << 10)
        obj.assign(value)
        assert_same(obj.fetch(), value)
        explorations.append(obj._codec.tuner.explorations)
    assert obj._codec.tuner.interval >= SlotTuner.FIRST  # after it, looks are FIRST apart at least
    assert explorations[-1] == 1 and not obj._codec.tuner.exploring
    obj.close()


def test_a_slot_that_cannot_be_written_unlocks_and_raises_its_own_error() -> None:
    """The lock taken, the standby slot refuses a writable buffer: the Writer unlocks (nothing
    published, commit never runs) and the buffer's error comes out, not a SystemError for
    calling unlock with that error still set."""
    calls: list[str] = []
    views = (np.zeros(4), np.zeros(4))
    views[1].flags.writeable = False  # lock returns pub 0: the standby slot is slot 1

    def lock(timeout: float, spin: float) -> int:
        calls.append("lock")
        return 0

    def unlock() -> None:
        calls.append("unlock")

    def commit(slot: int) -> tuple[int, int]:
        calls.append("commit")
        return (1, 1)

    writer = slotcopy().Writer(lock, commit, unlock, views, views[0].dtype, (4,), 1.0, 0.0)
    writer.budget = -1
    with pytest.raises(ValueError, match="read-only"):
        writer.assign(np.ones(4))
    assert calls == ["lock", "unlock"]
    writer.release()
