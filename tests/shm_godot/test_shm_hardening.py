"""Hostile or broken peers against a real engine: corrupted semaphores, a second engine on
the same handle, a squatted chunk, and a host SIGKILLed while its engine runs."""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from godot_aigym import SharedMemory
from godot_aigym.engine import GodotProcess, LaunchOptions, run_godot
from godot_aigym.env import GodotEnv
from godot_aigym.env.link import demo_project, prepare_project
from godot_aigym.shm import layout as L

SAFETY_S = 60  # only fires when something is broken


def _wait_exit(pid: int, timeout: float = SAFETY_S) -> None:
    """Block until process `pid` (not necessarily our child) has exited: a pidfd event."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        assert ready, f"pid {pid} still runs after {timeout} s"
    finally:
        os.close(fd)


def test_corrupted_semaphore_never_aborts_the_engine(godot, test_project):
    rounds = 40
    rng = random.Random(2024)
    with SharedMemory() as mem:
        ping = mem.newSemaphore("ping", 0)
        ack = mem.newSemaphore("ack", 0)
        ready = mem.newSemaphore("ready", 0)
        slot = slice(ping._entry.offset, ping._entry.offset + 16)
        valid_zero = bytes(8) + L.SEM_MAGIC.to_bytes(4, "little") + bytes(4)
        opts = LaunchOptions(project=test_project, script="res://shm/test_corrupt_semaphore.gd", handle=mem.handle,
                             user_args=[str(rounds)])
        with GodotProcess(opts, godot=godot) as proc:
            mem.set_peer(proc.popen)
            ready.wait(timeout=SAFETY_S)
            for i in range(rounds):
                if i % 2:
                    mem._mm[slot] = rng.randbytes(16)  # garbage everywhere
                else:  # a "negative" count under an intact magic
                    mem._mm[slot] = rng.randint(2**31, 2**32 - 1).to_bytes(4, "little") + valid_zero[4:]
                ack.wait(timeout=SAFETY_S)
                mem._mm[slot] = valid_zero  # repair for the next round (the engine no longer waits)
            code = proc.wait(timeout=SAFETY_S)
            output = proc.log()
    assert code == 0, output  # not -6 (SIGABRT)
    assert "futex facility" not in output
    assert f"ROUNDS DONE {rounds}" in output
    assert "cSharedMemorySemaphore.timed_wait('ping') in chunk" in output
    assert "corrupted semaphore" in output


def test_second_engine_on_a_running_envs_handle_is_refused(godot):
    demo = demo_project()
    prepare_project(demo, godot)
    env = GodotEnv(demo, "res://envs/trivial/trivial.tscn", seed=7)
    try:
        actions = [np.array([0.5 * np.sin(i), 0.25], np.float32) for i in range(30)]

        def trajectory():
            obs, _ = env.reset(seed=3)
            out = [obs]
            for a in actions:
                out.append(env.step(a)[0])
            return np.array(out)

        expected = trajectory()
        handle = env.link.mem.handle
        first_pid = env.link.mem.engine_pid
        assert first_pid == env.engine.pid
        intruder = GodotProcess(LaunchOptions(project=demo, scene="res://envs/trivial/trivial.tscn", handle=handle),
                                godot=godot)
        with intruder:
            during = [trajectory() for _ in range(3)]  # stepping while the intruder starts and is refused
            code = intruder.wait(timeout=SAFETY_S)
            output = intruder.log()
        after = trajectory()
        assert code != 0, output
        assert "chunk already claimed by another engine that is still running" in output
        assert f"(pid {first_pid})" in output
        assert env.link.mem.engine_pid == first_pid  # the claim was never overwritten
        for got in during + [after]:
            np.testing.assert_array_equal(got, expected)
    finally:
        env.close()


def test_engine_refuses_a_chunk_others_can_read(godot, test_project):
    with SharedMemory() as mem:
        mem.newSemaphore("ping", 0)
        mem.newSemaphore("ready", 0)
        os.chmod(mem.path, 0o666)  # what a squatter would leave
        code, output = run_godot(LaunchOptions(project=test_project, script="res://shm/test_wait_host.gd",
                                               handle=mem.handle, quit_after=5), godot=godot, timeout=SAFETY_S)
    assert "chunk is not private to this user" in output, output
    assert "mode 0666" in output and f"owner uid {os.getuid()}" in output
    assert "WAIT RETURNED true" not in output


HOST_WITH_ENGINE = textwrap.dedent("""
    import json, sys
    from godot_aigym import SharedMemory
    from godot_aigym.engine import GodotProcess, LaunchOptions
    from pathlib import Path
    mem = SharedMemory()
    mem.newSemaphore("ping", 0)
    ready = mem.newSemaphore("ready", 0)
    proc = GodotProcess(LaunchOptions(project=Path(sys.argv[1]), script="res://shm/test_wait_host.gd",
                                      handle=mem.handle))
    ready.wait(timeout=60)
    print(json.dumps({"handle": mem.handle, "engine": proc.pid, "log": str(proc.log_path)}), flush=True)
    sys.stdin.readline()
""")


def _watchers_of(handle: str) -> list[int]:
    """The engine's host watcher processes for `handle` (comm 'aigym-watch', Godot's cmdline)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if comm == "aigym-watch" and handle.encode() in args:
            found.append(int(entry))
    return found


def _wait_for_watchers(handle: str) -> list[int]:
    """The watchers of `handle` once there is one: the engine double-forks it while attaching and
    the grandchild names itself 'aigym-watch' a moment later, possibly after the host's readiness
    line (a CI run found none at once). Bounded by SAFETY_S: an empty list means none started."""
    deadline = time.monotonic() + SAFETY_S
    while not (found := _watchers_of(handle)) and time.monotonic() < deadline:
        time.sleep(0.001)  # polling /proc for the process to appear: no event to wait on
    return found


def _sigkill_host(script: str, arg: str, info: dict) -> None:
    """Run a host `script` (it prints JSON naming its chunk "handle" and "engine" pid, then waits),
    SIGKILL it once its engine's watcher runs, return once the engine and the watcher are gone.
    `info` receives the JSON at once (the caller's clean-up uses it even when this fails)."""
    import json

    host = subprocess.Popen([sys.executable, "-c", script, arg], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        info.update(json.loads(host.stdout.readline()))
        assert os.path.exists(f"/dev/shm/{info['handle']}")
        watchers = _wait_for_watchers(info["handle"])
        assert len(watchers) == 1, watchers
        host.kill()
        assert host.wait(SAFETY_S) == -signal.SIGKILL
        _wait_exit(info["engine"])
        _wait_exit(watchers[0])  # the watcher exits right after it removed what it removes
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()


def _remove_if_left(*paths: str) -> None:
    for path in paths:
        if os.path.exists(path):
            os.unlink(path)


@pytest.mark.exclusive  # checks what a killed host left before its own sweep
def test_engine_unlinks_the_chunk_of_a_sigkilled_host(test_project):
    """The host dies by SIGKILL (no handler runs) and takes its engine with it (parent-death
    signal): the engine's watcher removes the chunk and the engine's log, without any later sweep."""
    info: dict = {}
    try:
        _sigkill_host(HOST_WITH_ENGINE, str(test_project), info)
        assert not os.path.exists(f"/dev/shm/{info['handle']}"), "the engine side must remove a dead host's chunk"
        assert not os.path.exists(info["log"]), "the engine side must remove the engine log a dead host made"
    finally:
        _remove_if_left(info.get("log", ""))


HOST_WITH_ENV = textwrap.dedent("""
    import json, os, sys
    from godot_aigym.env import GodotEnv
    env = GodotEnv(sys.argv[1], "res://envs/trivial/trivial.tscn")
    env.reset(seed=0)
    link = env._link
    records = [n for n in os.listdir("/dev/shm") if n.startswith(f"aigym-place-{os.getpid()}-")]
    print(json.dumps({"handle": link.mem.handle, "engine": link.proc.pid, "log": str(link.proc.log_path),
                      "records": records}), flush=True)
    sys.stdin.readline()
""")


def test_a_sigkilled_env_hosts_chunk_log_and_placement_record_go_with_it(godot):
    """What a GodotEnv host keeps in /dev/shm and the temp directory -- its chunk, its engine's
    log and its placement record (env/placement_registry.py) -- is removed by the engine's watcher
    when the host is SIGKILLed, without waiting for another host to sweep (the record and log
    stayed until one did)."""
    demo = demo_project()
    prepare_project(demo, godot)
    info: dict = {}
    try:
        _sigkill_host(HOST_WITH_ENV, str(demo), info)
        assert len(info["records"]) == 1, info
        assert not os.path.exists(f"/dev/shm/{info['handle']}")
        assert not os.path.exists(info["log"]), "the engine log of a SIGKILLed host is left"
        assert not os.path.exists(f"/dev/shm/{info['records'][0]}"), "the placement record of a SIGKILLed host is left"
    finally:
        _remove_if_left(info.get("log", ""), *(f"/dev/shm/{r}" for r in info.get("records", [])))


def test_the_watcher_never_removes_a_log_the_user_chose(test_project, tmp_path):
    """An engine log given by path (log_path=) is the user's: kept after the host's SIGKILL, while
    the chunk goes."""
    script = HOST_WITH_ENGINE.replace("handle=mem.handle))", f"handle=mem.handle), log_path={str(tmp_path / 'mine.log')!r})")
    assert script != HOST_WITH_ENGINE
    info: dict = {}
    _sigkill_host(script, str(test_project), info)
    assert not os.path.exists(f"/dev/shm/{info['handle']}")
    assert os.path.exists(tmp_path / "mine.log")


KILLED_HOST = textwrap.dedent("""
    from godot_aigym import SharedMemory
    mem = SharedMemory()
    mem.newSemaphore("ping", 0)
    mem.newSemaphore("ready", 0)
    print(mem.handle, flush=True)
    input()
""")
SWEPT_BY_OTHERS = "shared-memory chunk not found"  # another run's host swept the stale chunk first


def _engine_by_hand(godot, test_project, handle: str) -> str:
    """Output of an engine started on `handle` as a user would, without a host (no parent-death
    signal); quit_after ends it if it does not attach."""
    code, output = run_godot(LaunchOptions(project=test_project, script="res://shm/test_wait_host.gd",
                                           handle=handle, quit_after=5), godot=godot, timeout=SAFETY_S)
    return output


def _stale_chunk_attempts(make_stale, godot, test_project) -> tuple[str, int, str]:
    """(output, host pid, handle) of an engine started by hand on a stale chunk that
    `make_stale()` -> (handle, host pid) made. Made again when a host of another test run on this
    machine swept the chunk before the engine looked (exclusive only keeps this run's hosts away)."""
    for _ in range(5):
        handle, host_pid = make_stale()
        try:
            output = _engine_by_hand(godot, test_project, handle)
            if SWEPT_BY_OTHERS not in output.split("is gone", 1)[0]:  # (later lookups find it gone, rightly)
                return output, host_pid, handle
        finally:
            _remove_if_left(f"/dev/shm/{handle}")
    pytest.fail("another host swept every stale chunk before the engine could look at it")


@pytest.mark.exclusive  # a killed host's chunk: another host's start-up sweep would remove it first
def test_an_engine_started_by_hand_on_a_killed_hosts_chunk_removes_it(godot, test_project):
    """The host was SIGKILLed before any engine attached (no watcher): an engine started by hand
    on its handle must not attach to the orphan (nobody answers) and removes it (was: attached,
    "cannot watch the host", and a game that failed before its first wait left the chunk)."""
    def killed_hosts_chunk() -> tuple[str, int]:
        host = subprocess.Popen([sys.executable, "-c", KILLED_HOST], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True)
        handle = host.stdout.readline().strip()
        host.kill()
        host.wait(SAFETY_S)
        return handle, host.pid

    output, host_pid, handle = _stale_chunk_attempts(killed_hosts_chunk, godot, test_project)
    assert f"the host process that created it (pid {host_pid}) is gone; removed the stale chunk" in output, output
    assert "cannot watch the host" not in output and "died; quitting" not in output, output  # never attached
    assert not os.path.exists(f"/dev/shm/{handle}")


@pytest.mark.exclusive  # the chunk looks stale: another host's start-up sweep would remove it first
def test_an_engine_refuses_a_chunk_whose_host_pid_was_reused(godot, test_project):
    """The chunk's host pid now belongs to another process (its start time differs from the
    header's): that host is gone as well, so the chunk is stale and removed."""
    chunks = []

    def reused_pid_chunk() -> tuple[str, int]:
        mem = SharedMemory()
        chunks.append(mem)
        mem.newSemaphore("ping", 0)
        mem.newSemaphore("ready", 0)
        at = L.HEADER_OFFSETS["host_start_time"]
        started = L.U64.unpack_from(mem._mm, at)[0]
        assert started != 0
        L.U64.pack_into(mem._mm, at, started + 1)  # our pid, another process's start time
        return mem.handle, os.getpid()

    try:
        output, host_pid, handle = _stale_chunk_attempts(reused_pid_chunk, godot, test_project)
        assert f"(pid {host_pid}) is gone; removed the stale chunk" in output, output
        assert "died; quitting" not in output, output  # refused at attach, not found dead in a wait
        assert not os.path.exists(f"/dev/shm/{handle}")
    finally:
        for mem in chunks:
            mem.close()
