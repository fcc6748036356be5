"""`SharedMemorySemaphore.round_trip`: `post_and_wait` as a function of no arguments with its
checks worked out once (the environments' step loop); it must behave exactly as post_and_wait
(round trips and timeouts: test_semaphore_round_trip.py runs both). Here: what only the function has."""

from __future__ import annotations

import pytest

from godot_aigym.shm import ChunkClosed, CorruptedSemaphore


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
