"""wait_any, how GodotAsyncVectorEnv.recv waits for the first of several engines (futex_waitv on
their answer semaphores): a post from another process to any one of them wakes the caller, a
count already there returns at once, nothing posted times out, and the semaphores' waiter counts
are back to 0 after every wait (a count left behind would make every later post pay a futex wake).
Beside test_async_pixels.py, whose env waits so."""

from __future__ import annotations

import ctypes
import multiprocessing
import time

from godot_aigym.env import wait_any
from godot_aigym.shm import SharedMemory

SAFETY = 60.0  # seconds: only when something is broken


def _waiters(addr: int) -> int:
    return ctypes.c_uint32.from_address(addr + 4).value


def _post_when_waited_for(handle: str, name: str) -> None:
    """Post `name` once the parent is counted in as its waiter (asleep, or about to be: the kernel
    re-checks the count before sleeping, so the post cannot be lost either way)."""
    with SharedMemory.attach(handle) as mem:
        sem = mem.find_semaphore(name)
        deadline = time.monotonic() + SAFETY
        while _waiters(sem._addr) == 0:
            if time.monotonic() > deadline:
                raise SystemExit(3)  # the parent never waited
        sem.post()


def test_a_post_to_any_semaphore_wakes_the_waiter_and_counts_are_restored():
    assert wait_any.AVAILABLE, "futex_waitv is missing (Linux >= 5.16): recv falls back to its waiter threads"
    with SharedMemory() as mem:
        sems = [mem.newSemaphore(f"answer{k}", 0) for k in range(3)]
        addrs = [s._addr for s in sems]
        assert wait_any.wait_any(addrs, 0.01) is False  # nothing posted: the time runs out
        sems[2].post()
        assert wait_any.wait_any(addrs, SAFETY) is True and sems[2].try_wait()  # already there
        child = multiprocessing.get_context("spawn").Process(target=_post_when_waited_for,
                                                             args=(mem.handle, "answer1"))
        child.start()
        try:
            assert wait_any.wait_any(addrs, SAFETY) is True  # woken by the other process's post
            assert sems[1].try_wait()
        finally:
            child.join(SAFETY)
            if child.exitcode is None:
                child.kill()
                child.join()
        assert child.exitcode == 0
        assert [_waiters(a) for a in addrs] == [0, 0, 0] and [s.value for s in sems] == [0, 0, 0]
