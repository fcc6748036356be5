"""`SharedMemorySemaphore.round_trip`: `post_and_wait` as a function of no arguments with its
checks worked out once (the environments' step loop); it must behave exactly as post_and_wait."""

from __future__ import annotations

import pytest
from test_semaphore_round_trip import ECHO_ENGINE, _engine

from godot_aigym.shm import ChunkClosed, CorruptedSemaphore, WaitTimeout


@pytest.mark.timeout(120)
@pytest.mark.parametrize("spin_us", [None, 0, 50])  # None: the module-wide budget, read at each call
def test_round_trips_with_another_process(mem, spin_us):
    ping, pong = mem.newSemaphore("ping", 0), mem.newSemaphore("pong", 0, spin_us=spin_us)
    x, y = mem.newIntTensor("x", 1).view, mem.newIntTensor("y", 1).view
    proc = _engine(mem, ECHO_ENGINE, "500")
    try:
        round_trip = ping.round_trip(pong, 30.0)
        for k in range(500):
            x[0] = k
            round_trip()
            assert y[0] == k + 1
        assert proc.wait(30) == 0
        assert ping.value == 0 and pong.value == 0
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("timeout", [0.05, 0.25])  # within the first blocking slice, and beyond it
def test_a_timeout_is_reported_after_the_post(mem, timeout):
    ping, pong = mem.newSemaphore("ping", 0), mem.newSemaphore("pong", 0)
    with pytest.raises(WaitTimeout, match=rf"semaphore 'pong' of shared memory '{mem.handle}' was not posted "
                                          rf"within {timeout:g} s$"):
        ping.round_trip(pong, timeout)()
    assert ping.value == 1  # the command went out


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "1", True])
def test_bad_timeouts_are_refused_at_the_call_as_post_and_wait_refuses_them(mem, bad):
    ping, pong = mem.newSemaphore("ping", 0), mem.newSemaphore("pong", 0)
    round_trip = ping.round_trip(pong, bad)
    with pytest.raises(ValueError, match="timeout must be None or a number of seconds >= 0"):
        round_trip()


def test_a_corrupted_answer_semaphore_is_named(mem):
    ping, pong = mem.newSemaphore("ping", 0), mem.newSemaphore("pong", 0)
    round_trip = ping.round_trip(pong, 5.0)
    mem._mm[pong._entry.offset:pong._entry.offset + 16] = b"\xff" * 16
    with pytest.raises(CorruptedSemaphore, match=rf"^wait on semaphore 'pong' of shared memory '{mem.handle}'"):
        round_trip()


def test_a_chunk_closed_after_the_function_was_made_is_refused(handles):
    from godot_aigym.shm import SharedMemory

    mem = SharedMemory(handles(), size=1 << 20, capacity=16)
    ping, pong = mem.newSemaphore("ping", 0), mem.newSemaphore("pong", 1)
    round_trip = ping.round_trip(pong, 1.0)
    round_trip()  # pong's count taken
    mem.close()  # the function holds no export of the mapping: closing works
    with pytest.raises(ChunkClosed):
        round_trip()
