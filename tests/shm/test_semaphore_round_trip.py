"""`SharedMemorySemaphore.post_and_wait`: one command's round trip (post, then wait on the answer)
in one C call, with every failure of post() and wait() reported as they report it."""

from __future__ import annotations

import signal
import threading

import pytest
from shm_testutil import read_json_line, spawn_python

from godot_aigym.shm import ChunkClosed, CorruptedSemaphore, EngineDiedError, WaitTimeout

ECHO_ENGINE = """
    import json, sys
    from godot_aigym.shm import SharedMemory
    mem = SharedMemory.attach(sys.argv[1], as_engine=True)
    ping, pong = mem.find_semaphore("ping"), mem.find_semaphore("pong")
    x, y = mem.findIntTensor("x").view, mem.findIntTensor("y").view
    print(json.dumps({"ready": 1}), flush=True)
    for _ in range(int(sys.argv[2])):
        ping.wait(timeout=30)
        y[0] = x[0] + 1
        pong.post()
"""

SLEEPER_ENGINE = """
    import sys, time
    from godot_aigym.shm import SharedMemory
    mem = SharedMemory.attach(sys.argv[1], as_engine=True)
    print('{"ready": 1}', flush=True)
    time.sleep(60)
"""


def _engine(mem, code: str, *args: str):
    proc = spawn_python(code.replace("sys.argv[1]", repr(mem.handle)).replace("sys.argv[2]", repr(",".join(args))))
    assert read_json_line(proc) == {"ready": 1}
    mem.set_peer(proc)
    return proc


def _command(ping, pong, timeout, how: str):
    """One command's round trip as a function of no arguments: post_and_wait itself, or the
    function `round_trip` makes with its checks worked out once (the environments' step loop)."""
    if how == "round_trip":
        return ping.round_trip(pong, timeout)
    return lambda: ping.post_and_wait(pong, timeout)


HOW = pytest.mark.parametrize("how", ["post_and_wait", "round_trip"])


@pytest.mark.timeout(120)
@HOW
@pytest.mark.parametrize("spin_us", [None, 0, 50])  # None: the module-wide budget, read at each call
def test_round_trips_with_another_process(mem, spin_us, how):
    ping, pong = mem.newSemaphore("ping", 0), mem.newSemaphore("pong", 0, spin_us=spin_us)
    x, y = mem.newIntTensor("x", 1).view, mem.newIntTensor("y", 1).view
    proc = _engine(mem, ECHO_ENGINE, "2000")
    try:
        command = _command(ping, pong, 30.0, how)
        for k in range(2000):
            x[0] = k
            command()
            assert y[0] == k + 1
        assert proc.wait(30) == 0
        assert ping.value == 0 and pong.value == 0
    finally:
        proc.kill()
        proc.wait()


@HOW
@pytest.mark.parametrize("timeout", [0.05, 0.25])  # within the first blocking slice, and beyond it
def test_a_timeout_is_reported_after_the_post(mem, timeout, how):
    ping, pong = mem.newSemaphore("ping", 0), mem.newSemaphore("pong", 0)
    with pytest.raises(WaitTimeout, match=rf"semaphore 'pong' of shared memory '{mem.handle}' was not posted "
                                          rf"within {timeout:g} s$"):
        _command(ping, pong, timeout, how)()
    assert ping.value == 1  # the command went out


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "1", True])
def test_bad_timeouts_are_refused_as_wait_refuses_them(mem, bad):
    ping, pong = mem.newSemaphore("ping", 0), mem.newSemaphore("pong", 0)
    with pytest.raises(ValueError, match="timeout must be None or a number of seconds >= 0"):
        ping.post_and_wait(pong, bad)


def test_zero_polls(mem):
    ping, pong = mem.newSemaphore("ping", 0), mem.newSemaphore("pong", 1)
    ping.post_and_wait(pong, 0)
    with pytest.raises(WaitTimeout):
        ping.post_and_wait(pong, 0)
    assert ping.value == 2


def test_an_answer_posted_by_another_thread_is_taken(mem):
    ping, pong = mem.newSemaphore("ping", 0), mem.newSemaphore("pong", 0)
    threading.Timer(0.2, pong.post).start()  # after the first spin: the waiter blocks, GIL released
    ping.post_and_wait(pong, None)
    assert ping.value == 1 and pong.value == 0


def test_the_death_of_the_peer_is_noticed(mem):
    ping, pong = mem.newSemaphore("ping", 0), mem.newSemaphore("pong", 0)
    proc = _engine(mem, SLEEPER_ENGINE)
    threading.Timer(0.3, proc.send_signal, (signal.SIGKILL,)).start()
    try:
        with pytest.raises(EngineDiedError, match=r"died while waiting on semaphore 'pong'"):
            ping.post_and_wait(pong, 30.0)
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("which", ["ping", "pong"])
def test_a_corrupted_semaphore_is_named(mem, which):
    sems = {"ping": mem.newSemaphore("ping", 0), "pong": mem.newSemaphore("pong", 0)}
    bad = sems[which]
    mem._mm[bad._entry.offset:bad._entry.offset + 16] = b"\xff" * 16
    with pytest.raises(CorruptedSemaphore, match=rf"^{'post' if which == 'ping' else 'wait'} on semaphore "
                                                 rf"'{which}' of shared memory '{mem.handle}': corrupted") as err:
        sems["ping"].post_and_wait(sems["pong"], 5.0)
    assert err.value.name == which


def test_a_closed_chunk_is_refused(handles):
    from godot_aigym.shm import SharedMemory

    mem = SharedMemory(handles(), size=1 << 20, capacity=16)
    ping, pong = mem.newSemaphore("ping", 0), mem.newSemaphore("pong", 0)
    mem.close()
    with pytest.raises(ChunkClosed):
        ping.post_and_wait(pong, 1.0)
