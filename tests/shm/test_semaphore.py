"""Semaphores: cross-process ping-pong without lost/doubled wake-ups, timeouts, liveness."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from shm_testutil import read_json_line, spawn_python

from godot_aigym.shm import (ChunkClosed, EngineDiedError, SharedMemory, SharedMemoryError, WaitTimeout,
                             get_default_spin_us, set_default_spin_us)

ROUND_TRIPS = 100_000

ECHO_ENGINE = """
    import json, sys
    from godot_aigym.shm import SharedMemory
    mem = SharedMemory.attach(sys.argv[1], as_engine=True)
    ping, pong = mem.find_semaphore("ping"), mem.find_semaphore("pong")
    x, y = mem.findIntTensor("x").view, mem.findIntTensor("y").view
    n = int(sys.argv[2])
    print(json.dumps({"ready": 1}), flush=True)
    wakeups = 0
    for _ in range(n):
        ping.wait(timeout=30)
        wakeups += 1
        y[0] = x[0] + 1
        pong.post()
    print(json.dumps({"wakeups": wakeups, "left": ping.value}), flush=True)
"""


@pytest.mark.timeout(120)
def test_round_trips_between_processes(mem):
    ping, pong = mem.newSemaphore("ping", 0), mem.newSemaphore("pong", 0)
    x, y = mem.newIntTensor("x", 1).view, mem.newIntTensor("y", 1).view
    proc = spawn_python(ECHO_ENGINE.replace("sys.argv[1]", repr(mem.handle)).replace("sys.argv[2]",
                                                                                      str(ROUND_TRIPS)))
    try:
        assert read_json_line(proc) == {"ready": 1}
        mem.set_peer(proc)
        mismatches = 0
        for k in range(ROUND_TRIPS):
            x[0] = k
            ping.post()
            pong.wait(timeout=30)
            mismatches += y[0] != k + 1
        result = read_json_line(proc)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert mismatches == 0
    assert result == {"wakeups": ROUND_TRIPS, "left": 0}
    assert ping.value == 0 and pong.value == 0 and not pong.try_wait()


SLEEPER_ENGINE = """
    import sys, time
    from godot_aigym.shm import SharedMemory
    mem = SharedMemory.attach(sys.argv[1], as_engine=True)
    print('{"ready": 1}', flush=True)
    time.sleep(60)
"""


def _start_sleeper(mem):
    proc = spawn_python(SLEEPER_ENGINE.replace("sys.argv[1]", repr(mem.handle)))
    assert read_json_line(proc) == {"ready": 1}
    return proc


@pytest.mark.parametrize("how", ["engine_pid", "set_peer", "semaphore_peer"])
def test_wait_raises_when_engine_dies(mem, how):
    s = mem.newSemaphore("obs_ready", 0)
    proc = _start_sleeper(mem)
    assert mem.engine_pid == proc.pid
    if how == "set_peer":
        mem.set_peer(proc)
    elif how == "semaphore_peer":
        s.peer = proc.pid
    threading.Timer(0.3, proc.send_signal, (signal.SIGKILL,)).start()
    try:
        with pytest.raises(EngineDiedError) as err:
            s.wait()  # forever, but liveness-checked; the killed child stays a zombie until reaped
    finally:
        proc.kill()
        proc.wait()
    assert str(err.value).startswith(f"engine process pid {proc.pid}")
    assert str(err.value).endswith(f"died while waiting on semaphore 'obs_ready' of shared memory '{mem.handle}'")


def test_timed_wait_also_notices_death(mem):
    s = mem.newSemaphore("s", 0)
    proc = _start_sleeper(mem)
    mem.set_peer(proc)
    proc.kill()
    try:
        with pytest.raises(EngineDiedError, match=r"\(exit code -9\)"):
            s.timed_wait(30)
    finally:
        proc.wait()


HOST = """
    import json, time
    from godot_aigym.shm import SharedMemory
    mem = SharedMemory(size=1 << 16)
    mem.newSemaphore("s", 0)
    print(json.dumps({"handle": mem.handle}), flush=True)
    time.sleep(60)
"""


def test_attached_side_notices_host_death(handles):
    proc = spawn_python(HOST)
    handle = read_json_line(proc)["handle"]
    try:
        other = SharedMemory.attach(handle)
        assert other.host_pid == proc.pid
        s = other.find_semaphore("s")
        threading.Timer(0.3, proc.send_signal, (signal.SIGTERM,)).start()  # its handler unlinks the chunk
        with pytest.raises(EngineDiedError, match=rf"^host process pid {proc.pid} died while waiting on "
                                                  rf"semaphore 's'"):
            s.wait()
    finally:
        proc.kill()
        proc.wait()
    other.close()


def test_post_before_death_is_not_lost(mem):
    s = mem.newSemaphore("s", 0)
    proc = spawn_python(f"""
        from godot_aigym.shm import SharedMemory
        mem = SharedMemory.attach({mem.handle!r}, as_engine=True)
        mem.find_semaphore("s").post()
    """)
    assert proc.wait(30) == 0, proc.stderr.read()
    s.wait()  # the engine is gone, but it posted first: no EngineDiedError


# -- timeout semantics -----------------------------------------------------------------------------
def test_wait_zero_polls(mem):
    s = mem.newSemaphore("s", 0)
    with pytest.raises(WaitTimeout) as err:
        s.wait(0)
    assert str(err.value) == f"semaphore 's' of shared memory '{mem.handle}' was not posted within 0 s"
    assert isinstance(err.value, TimeoutError)
    s.post()
    s.wait(0)
    assert not s.try_wait() and not s.timed_wait(0)


@pytest.mark.parametrize("spin_us", [0, 50, 200_000])
def test_positive_timeout(mem, spin_us):
    s = mem.newSemaphore("s", 0, spin_us=spin_us)
    t0 = time.monotonic()
    with pytest.raises(WaitTimeout, match=r"was not posted within 0.05 s$"):
        s.wait(0.05)
    assert time.monotonic() - t0 >= 0.05
    assert s.timed_wait(0.01) is False
    s.post()
    assert s.timed_wait(5) is True


@pytest.mark.parametrize("spin_us, timeout", [(0, None), (50, None), (50, float("inf")), (50, 1e300)])
def test_wait_forever_is_woken_by_another_thread(mem, spin_us, timeout):
    s = mem.newSemaphore("s", 0, spin_us=spin_us)
    threading.Timer(0.2, s.post).start()
    s.wait(timeout)  # GIL released while blocked, so the timer thread runs
    assert s.value == 0


def test_counts_are_kept(mem):
    s = mem.newSemaphore("s", 3)
    assert s.value == 3
    s.post()
    for _ in range(4):
        s.wait(0)
    assert not s.try_wait()


@pytest.mark.parametrize("bad", [-1, -0.5, float("nan"), "1", True])
def test_bad_timeouts(mem, bad):
    s = mem.newSemaphore("s", 0)
    with pytest.raises(ValueError, match=r"^timeout must be None or a number of seconds >= 0, got "):
        s.wait(bad)
    with pytest.raises(ValueError):
        s.timed_wait(bad)


def test_timed_wait_needs_seconds(mem):
    with pytest.raises(ValueError, match="timed_wait needs a number of seconds"):
        mem.newSemaphore("s", 0).timed_wait(None)


def test_spin_configuration(mem):
    old = get_default_spin_us()
    try:
        set_default_spin_us(0)
        assert get_default_spin_us() == 0
        s = mem.newSemaphore("s", 0)
        assert s.spin_us is None  # follows the module default
        threading.Timer(0.05, s.post).start()
        s.wait(5)
        for bad in (-1, "x", None, True):
            with pytest.raises(ValueError, match="spin_us must be a number of microseconds >= 0"):
                set_default_spin_us(bad)
        with pytest.raises(ValueError, match="spin_us must be"):
            mem.newSemaphore("t", 0, spin_us=-5)
    finally:
        set_default_spin_us(old)


def test_post_overflow(mem):
    s = mem.newSemaphore("s", 2**31 - 1)
    with pytest.raises(SharedMemoryError, match=r"^post on semaphore 's' of shared memory '.*' failed: the count is at its maximum"):
        s.post()


def test_close_during_wait_raises_instead_of_crashing(handles):
    m = SharedMemory(handles(), size=1 << 16)
    s = m.newSemaphore("s", 0)
    closer = threading.Timer(0.2, m.close)
    closer.start()
    with pytest.raises(ChunkClosed, match=rf"^shared memory '{m.handle}' was closed while waiting on semaphore 's'$"):
        s.wait()
    closer.join()  # the waiter may notice before close() has finished unlinking
