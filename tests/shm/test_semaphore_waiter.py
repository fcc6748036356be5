"""`SharedMemorySemaphore.waiter` and `poster`: `wait(timeout)` as a function of no arguments with its checks
worked out once (a vector env's wait for each engine); it must behave as wait: the count taken,
timeouts, bad timeouts, corruption and a closed chunk reported the same way."""

from __future__ import annotations

import threading

import pytest

from godot_aigym.shm import ChunkClosed, CorruptedSemaphore, WaitTimeout

SAFETY = 60.0  # seconds: only a wait that never returns reaches it, however loaded the machine


def test_takes_a_posted_count_and_waits_for_a_later_post(mem):
    sem = mem.newSemaphore("answer", 1)
    wait = sem.waiter(SAFETY)  # a bound for a broken wait, not a speed budget
    wait()  # the count was there
    assert sem.value == 0
    poster = threading.Timer(0.05, sem.post)
    poster.start()
    wait()  # blocks until the post
    poster.join()
    assert sem.value == 0 and not sem.try_wait()


def test_a_spin_of_its_own_overrides_the_semaphores(mem):
    sem = mem.newSemaphore("answer", 0, spin_us=1000)
    wait = sem.waiter(SAFETY, spin_us=0)  # blocks at once (after a spin of the caller's own)
    assert wait.spin_ns == 0 and sem.waiter(SAFETY).spin_ns == 1_000_000  # the override, and the own budget
    assert mem.newSemaphore("free", 0).waiter(SAFETY).spin_ns is None  # none: the module-wide one per call
    poster = threading.Timer(0.05, sem.post)
    poster.start()
    wait()
    poster.join()
    assert sem.value == 0
    with pytest.raises(ValueError, match="spin_us must be a number of microseconds >= 0"):
        sem.waiter(SAFETY, spin_us=-1)


@pytest.mark.parametrize("timeout", [0.05, 0.2])
def test_times_out_as_wait_does(mem, timeout):
    sem = mem.newSemaphore("answer", 0)
    with pytest.raises(WaitTimeout, match=rf"semaphore 'answer' of shared memory '{mem.handle}' was not posted within"):
        sem.waiter(timeout)()


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "1", True])
def test_bad_timeouts_are_refused_at_the_call_as_wait_refuses_them(mem, bad):
    wait = mem.newSemaphore("answer", 0).waiter(bad)  # (a count there is taken first, as by wait)
    with pytest.raises(ValueError, match="timeout must be None or a number of seconds >= 0"):
        wait()


def test_a_corrupted_semaphore_is_named(mem):
    sem = mem.newSemaphore("answer", 0)
    wait = sem.waiter(5.0)
    mem._mm[sem._entry.offset:sem._entry.offset + 16] = b"\xff" * 16
    with pytest.raises(CorruptedSemaphore, match=rf"^wait on semaphore 'answer' of shared memory '{mem.handle}'"):
        wait()


def test_a_chunk_closed_after_the_function_was_made_is_refused(handles):
    from godot_aigym.shm import SharedMemory

    mem = SharedMemory(handles(), size=1 << 20, capacity=16)
    sem = mem.newSemaphore("answer", 1)
    wait = sem.waiter(1.0)
    wait()
    mem.close()  # the function holds no export of the mapping: closing works
    with pytest.raises(ChunkClosed):
        wait()


def test_poster_posts_and_reports_as_post_does(handles):
    from godot_aigym.shm import SharedMemory

    mem = SharedMemory(handles(), size=1 << 20, capacity=16)
    sem = mem.newSemaphore("command", 0)
    post = sem.poster()
    post()
    post()
    assert sem.value == 2
    bad = mem.newSemaphore("bad", 0)
    post_bad = bad.poster()
    mem._mm[bad._entry.offset:bad._entry.offset + 16] = b"\xff" * 16
    with pytest.raises(CorruptedSemaphore, match=rf"^post on semaphore 'bad' of shared memory '{mem.handle}'"):
        post_bad()
    mem.close()  # the function holds no export of the mapping: closing works
    with pytest.raises(ChunkClosed):
        post()
