"""`shm.semaphore.wait_any`, how GodotAsyncVectorEnv.recv waits for the first of several engines
(futex_waitv on their answer semaphores, in _futexsem.c): a post from another process to any one
of them wakes the caller, a count already there returns at once, nothing posted times out, and
the waiter counts are back to 0 after every wait, a signal's exception included (a count left
behind would make every later post pay a futex wake); a chunk closed by another thread during
the wait raises ChunkClosed, never a crash. On kernels without futex_waitv (< 5.16) the probe
says so and the call raises a clear error (the env then uses its waiter threads)."""

from __future__ import annotations

import multiprocessing
import os
import platform
import signal
import struct
import threading
import time

import pytest

from godot_aigym.shm import ChunkClosed, CorruptedSemaphore, SharedMemory, SharedMemoryError
from godot_aigym.shm import layout as L
from godot_aigym.shm.semaphore import WAIT_ANY_AVAILABLE, wait_any

SAFETY = 60.0  # seconds: only when something is broken
_WAITERS = dict((name, offset) for name, _, offset in L.SEM_FIELDS)["waiters"]


def _kernel_has_futex_waitv() -> bool:
    release = platform.release().split("-")[0].split(".")
    return (int(release[0]), int(release[1])) >= (5, 16)


needs_waitv = pytest.mark.skipif(not _kernel_has_futex_waitv(), reason="Linux < 5.16: no futex_waitv "
                                 "(test_the_probe_matches_the_kernel checks the fallback)")


def _waiters(mem: SharedMemory, sem) -> int:
    return struct.unpack_from("I", mem._mm, sem._entry.offset + _WAITERS)[0]


def _until(condition) -> None:
    deadline = time.monotonic() + SAFETY
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the waiter never counted itself in")
        os.sched_yield()


def _post_when_waited_for(handle: str, name: str) -> None:
    """Post `name` once the parent is counted in as its waiter (asleep, or about to be: the kernel
    re-checks the count before sleeping, so the post cannot be lost either way)."""
    with SharedMemory.attach(handle) as mem:
        sem = mem.find_semaphore(name)
        deadline = time.monotonic() + SAFETY
        while _waiters(mem, sem) == 0:
            if time.monotonic() > deadline:
                raise SystemExit(3)  # the parent never waited
            os.sched_yield()  # the parent may share our CPU
        sem.post()


def test_the_probe_matches_the_kernel(mem):
    """A broken probe fails on a new kernel; an old one gets the fallback and a clear error."""
    assert WAIT_ANY_AVAILABLE == _kernel_has_futex_waitv()
    if not WAIT_ANY_AVAILABLE:
        with pytest.raises(SharedMemoryError, match="futex_waitv"):
            wait_any([mem.newSemaphore("answer", 0)], 0.01)


@needs_waitv
def test_a_post_to_any_semaphore_wakes_the_waiter_and_counts_are_restored(mem):
    sems = [mem.newSemaphore(f"answer{k}", 0) for k in range(3)]
    assert wait_any(sems, 0.01) is False  # nothing posted: the time runs out
    sems[2].post()
    assert wait_any(sems, SAFETY) is True and sems[2].try_wait()  # already there
    child = multiprocessing.get_context("spawn").Process(target=_post_when_waited_for,
                                                         args=(mem.handle, "answer1"))
    child.start()
    try:
        assert wait_any(sems, SAFETY) is True  # woken by the other process's post
        assert sems[1].try_wait()
    finally:
        child.join(SAFETY)
        if child.exitcode is None:
            child.kill()
            child.join()
    assert child.exitcode == 0
    assert [_waiters(mem, s) for s in sems] == [0, 0, 0] and [s.value for s in sems] == [0, 0, 0]


class _Interrupted(Exception):
    pass


def _raise(signum, frame):
    raise _Interrupted


@needs_waitv
def test_a_signal_handler_raising_during_the_wait_leaves_no_waiter_count(mem):
    sems = [mem.newSemaphore(f"answer{k}", 0) for k in range(2)]
    main = threading.main_thread().ident
    assert threading.get_ident() == main
    sender = threading.Thread(target=lambda: (_until(lambda: _waiters(mem, sems[0]) == 1),
                                              signal.pthread_kill(main, signal.SIGUSR1)))
    previous = signal.signal(signal.SIGUSR1, _raise)
    try:
        sender.start()
        with pytest.raises(_Interrupted):
            while True:  # (a slice that ends before the signal is sent just waits again)
                wait_any(sems, SAFETY)
    finally:
        sender.join()
        signal.signal(signal.SIGUSR1, previous)
    assert [_waiters(mem, s) for s in sems] == [0, 0]


@needs_waitv
def test_a_chunk_closed_by_another_thread_during_the_wait_raises_chunk_closed(handles):
    mem = SharedMemory(handles(), size=1 << 20, capacity=16)
    sems = [mem.newSemaphore(f"answer{k}", 0) for k in range(2)]
    closer = threading.Thread(target=lambda: (_until(lambda: _waiters(mem, sems[1]) == 1), mem.close()))
    closer.start()
    try:
        with pytest.raises(ChunkClosed, match="closed"):
            deadline = time.monotonic() + SAFETY
            while time.monotonic() < deadline:  # short slices: the close is seen at the slice's end
                wait_any(sems, 0.05)
    finally:
        closer.join()
        mem.close()
    with pytest.raises(ChunkClosed):
        wait_any(sems, 0.05)  # and refused before waiting once closed


@needs_waitv
def test_a_corrupted_semaphore_is_named(mem):
    sems = [mem.newSemaphore(f"answer{k}", 0) for k in range(2)]
    mem._mm[sems[1]._entry.offset:sems[1]._entry.offset + 16] = b"\xff" * 16
    with pytest.raises(CorruptedSemaphore, match=rf"^wait on semaphore 'answer1' of shared memory '{mem.handle}'"):
        wait_any(sems, SAFETY)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "1", True, None])
def test_bad_timeouts_are_refused(mem, bad):
    with pytest.raises(ValueError, match="timeout must be a number of seconds > 0"):
        wait_any([mem.newSemaphore("answer", 0)], bad)


def test_no_semaphores_is_refused():
    with pytest.raises(ValueError, match="1 to 128 semaphores"):
        wait_any([], 1.0)
