"""Real processes on real shared memory: torn reads, killed writers, wake-ups, clean-up.

Every stress test is seeded and every wait has a timeout; no timing is asserted.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from collections.abc import Callable

import numpy as np
import pytest
import so_workers as w
from so_helpers import assert_same

from godot_aigym.shared_object import (
    LockTimeoutError,
    SharedDynamicObject,
    SharedObject,
    copy_strategy,
    sweep_stale,
)
from godot_aigym.shared_object.sync import slotcopy

FORK = mp.get_context("fork")
SPAWN = mp.get_context("spawn")
JOIN_S = 30
# Writes per hammer run. Torn reads are caught by reads that overlap writes, not by the count:
# 5 000 writes (1 500 of 2 MiB streamed) still overlap thousands of reads, and with the
# seqlock's end check disabled every mode reports torn values at these counts.
HAMMER_WRITES = 5_000
HAMMER_WRITES_STREAMED = 1_500


def _join(*procs: mp.process.BaseProcess) -> None:
    for p in procs:
        p.join(JOIN_S)
        if p.is_alive():
            p.kill()
            p.join(5)
            pytest.fail(f"{p.name} did not finish within {JOIN_S} s")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["fixed", "streamed", "dynamic", "dict"])
def test_hammer_no_torn_reads(name: str, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """One writer, two readers (one half of reads via fetch(fn)); no value is ever torn.

    fixed/dynamic: arrays whose elements all equal a counter (dynamic: random shapes, so
    the segment grows under the readers); streamed: an array large enough that assign
    writes it with non-temporal stores; dict: nested values of varying size.
    """
    if mode == "dict":
        owner = SharedDynamicObject(name, data=w.record(0, np.random.default_rng(0)))
        writer = FORK.Process(target=w.hammer_dict_writer, args=(name, HAMMER_WRITES, 4321))
        sentinel = {"i": -1, "s": "-1", "a": np.full(1, -1, np.int64), "t": (-1.0, [])}
    else:
        cls = SharedDynamicObject if mode == "dynamic" else SharedObject
        rows = 1024 if mode == "streamed" else 256  # 2 MiB or 512 KiB
        if mode == "streamed":  # stream whatever the caches say (inherited by the forked writer)
            monkeypatch.setattr(copy_strategy, "_planner", copy_strategy.CopyPlanner(
                copy_strategy.planner().caches, bool(slotcopy().STREAMING), forced=copy_strategy.STREAM))
        owner = cls(name, data=np.zeros((rows, 256), np.float64))
        iterations = HAMMER_WRITES_STREAMED if mode == "streamed" else HAMMER_WRITES
        writer = FORK.Process(target=w.hammer_writer, args=(name, iterations, 1234, mode == "dynamic"))
        sentinel = np.full((rows, 256), -1.0)
    out = FORK.Queue()
    readers = [FORK.Process(target=w.hammer_reader, args=(name, 40.0, mode, out)) for _ in range(2)]
    for p in readers:
        p.start()
    writer.start()
    _join(writer)
    owner.assign(sentinel)
    results = [out.get(timeout=JOIN_S) for _ in readers]
    _join(*readers)
    for torn, regress, reads, final in results:
        assert torn == 0, f"{torn} torn values in {reads} reads"
        assert regress == 0, "a reader saw the counter go backwards"
        assert final == -1.0 and reads > 0
    assert writer.exitcode == 0


@pytest.mark.timeout(60)
def test_writer_killed_mid_assign_leaves_readers_working(name: str) -> None:
    owner = SharedObject(name, data=np.full((128, 128), 7.0))
    locked = FORK.Event()
    victim = FORK.Process(target=w.die_mid_assign, args=(name, locked))
    victim.start()
    assert locked.wait(JOIN_S), "writer never took the lock"
    os.kill(victim.pid, signal.SIGKILL)  # dies holding the lock, half-way through a value
    _join(victim)
    reader = SharedObject(name)
    assert_same(reader.fetch(), np.full((128, 128), 7.0))  # the published value is intact
    assert not reader.modified
    # Readers in other processes keep working and are woken by the next writer.
    ready, out = FORK.Event(), FORK.Queue()
    waiting = FORK.Process(target=w.waiter, args=(name, 20.0, ready, out))
    waiting.start()
    assert ready.wait(JOIN_S)
    owner.assign(np.full((128, 128), 8.0))  # takes over the dead writer's lock
    modified, value = out.get(timeout=JOIN_S)
    _join(waiting)
    assert modified is True
    assert_same(value, np.full((128, 128), 8.0))
    assert owner._sync.recovered() == 1


@pytest.mark.timeout(60)
def test_writers_killed_at_random_moments(name: str) -> None:
    rng = np.random.default_rng(99)
    owner = SharedObject(name, data=np.zeros((512, 512)))  # 2 MiB: kills often land mid-copy
    start = 1
    for _ in range(6):
        started = FORK.Event()
        writer = FORK.Process(target=w.looping_writer, args=(name, start, started))
        writer.start()
        assert started.wait(JOIN_S)
        time.sleep(float(rng.uniform(0.005, 0.05)))
        os.kill(writer.pid, signal.SIGKILL)
        _join(writer)
        value = owner.fetch()
        assert value.min() == value.max(), "torn value after a writer was killed"
        assert value[0, 0] >= start - 1
        start = int(value[0, 0]) + 1_000_000
        owner.assign(np.full((512, 512), float(start - 1)))  # lock recovered if it was held
        assert owner.fetch()[0, 0] == start - 1


@pytest.mark.timeout(60)
def test_wait_modified_across_processes(name: str) -> None:
    owner = SharedObject(name, data=np.arange(3))
    ready, out = FORK.Event(), FORK.Queue()
    timed_out = FORK.Process(target=w.waiter, args=(name, 0.05, ready, out))
    timed_out.start()
    assert ready.wait(JOIN_S)
    assert out.get(timeout=JOIN_S) == (False, None)  # the timeout path
    _join(timed_out)
    for value in ([7, 8, 9], [1, 1, 1]):
        ready = FORK.Event()
        waiting = FORK.Process(target=w.waiter, args=(name, 20.0, ready, out))
        waiting.start()
        assert ready.wait(JOIN_S)
        time.sleep(0.01)  # let it get past the spin and into the futex sleep
        owner.assign(np.array(value))
        modified, got = out.get(timeout=JOIN_S)
        _join(waiting)
        assert modified is True
        assert_same(got, np.array(value))


@pytest.mark.timeout(60)
def test_lock_timeout_and_lock_free_reads(name: str) -> None:
    owner = SharedObject(name, data=1.0, lock_timeout=0.1)
    locked, release = FORK.Event(), FORK.Event()
    holder = FORK.Process(target=w.hold_lock, args=(name, locked, release))
    holder.start()
    try:
        assert locked.wait(JOIN_S)
        with pytest.raises(LockTimeoutError, match="not acquired within 0.1 s"):
            owner.assign(2.0)
        with pytest.raises(LockTimeoutError):
            owner.trigger()
        assert owner.fetch() == 1.0  # readers never need the lock
    finally:
        release.set()
        _join(holder)
    owner.assign(2.0)
    assert owner.fetch() == 2.0


@pytest.mark.timeout(60)
def test_pickled_handle_in_spawned_process(name: str) -> None:
    owner = SharedObject(name, data=np.arange(4))
    out = SPAWN.Queue()
    child = SPAWN.Process(target=w.fetch_pickled, args=(owner, out))
    child.start()
    assert_same(out.get(timeout=JOIN_S), np.arange(4))
    _join(child)
    assert child.exitcode == 0
    assert_same(owner.fetch(), np.arange(1, 5))  # the child's assign, and the mount didn't unlink


@pytest.mark.timeout(60)
def test_dynamic_growth_seen_by_other_process(name: str) -> None:
    owner = SharedDynamicObject(name, data=b"", init_size=0)
    size0 = owner.nbytes
    out = FORK.Queue()
    other = SharedDynamicObject(name)  # mounted before any growth: must follow it
    for value in (np.ones(10), np.ones((300, 300)), "text", np.ones((600, 600), np.float32)):
        owner.assign(value)
        reader = FORK.Process(target=w.dynamic_fetch, args=(name, out))
        reader.start()  # mounts after the assign: maps the grown segment
        assert_same(out.get(timeout=JOIN_S), value)
        _join(reader)
    assert_same(other.fetch(), np.ones((600, 600), np.float32))
    assert owner.nbytes > size0
    owner.assign(np.zeros(2))  # a live handle follows growth and shrinking values
    owner.assign(np.ones((700, 700)))
    assert_same(other.fetch(), np.ones((700, 700)))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("ctx", [FORK, SPAWN], ids=["fork", "spawn"])
def test_creator_unlinks_at_exit(make_name: Callable[[], str], ctx: mp.context.BaseContext) -> None:
    n = make_name()
    out = ctx.Queue()
    child = ctx.Process(target=w.create_and_return, args=(n, out))
    child.start()
    assert out.get(timeout=JOIN_S) is True
    _join(child)
    assert child.exitcode == 0
    assert not os.path.exists(f"/dev/shm/{n}")


@pytest.mark.timeout(60)
def test_sweep_removes_objects_of_dead_creators(make_name: Callable[[], str]) -> None:
    stale, alive = make_name(), make_name()
    SharedObject(alive, data=0)  # this process is alive: never swept
    created = FORK.Event()
    child = FORK.Process(target=w.create_and_hang, args=(stale, created))
    child.start()
    assert created.wait(JOIN_S)
    os.kill(child.pid, signal.SIGKILL)
    _join(child)
    assert os.path.exists(f"/dev/shm/{stale}")  # a killed creator cannot clean up
    removed = sweep_stale(prefix=stale[:-8])
    assert removed == [stale] or (stale in removed and alive not in removed)
    assert not os.path.exists(f"/dev/shm/{stale}")
    assert os.path.exists(f"/dev/shm/{alive}")


@pytest.mark.timeout(60)
def test_wait_modified_wakes_another_thread(name: str) -> None:
    import threading

    owner = SharedObject(name, data="a")
    reader = SharedObject(name)
    got: list[object] = []
    t = threading.Thread(target=lambda: got.append((reader.wait_modified(timeout=20), reader.fetch())))
    t.start()
    time.sleep(0.05)  # the waiter sleeps in the futex with the GIL released
    owner.assign("b")
    t.join(JOIN_S)
    assert not t.is_alive() and got == [(True, "b")]


def _wait_blocked_in_futex(pid: int) -> bool:
    """Wait (an event, not a delay) until `pid` sleeps in a futex wait: the kernel's wait
    channel names it, or (x86-64, where wchan may be hidden) the current syscall is futex (202)."""
    deadline = time.monotonic() + JOIN_S  # safety only
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/wchan") as f:
                wchan = f.read()
            with open(f"/proc/{pid}/syscall") as f:
                syscall = f.read().split()[:1]
        except OSError:
            wchan, syscall = "", []
        if "futex" in wchan or (os.uname().machine == "x86_64" and syscall == ["202"]):
            return True
        time.sleep(0.001)
    return False


@pytest.mark.timeout(60)
def test_sigint_interrupts_an_infinite_wait(name: str) -> None:
    SharedObject(name, data=0)
    ready, out = FORK.Event(), FORK.Queue()
    child = FORK.Process(target=w.interruptible_wait, args=(name, ready, out))
    child.start()
    assert ready.wait(JOIN_S)
    assert _wait_blocked_in_futex(child.pid), "the child never blocked in its wait"
    os.kill(child.pid, signal.SIGINT)
    assert out.get(timeout=JOIN_S) == "interrupted"
    _join(child)
