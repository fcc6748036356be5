"""The GodotAIGym-compatible Python API (godot_aigym.compat): semantics of the original,
errors of our documented families. Real shared memory; the engine side is played by a
second mapping of the chunk (SharedMemory.attach), as the engine would."""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest
import torch

import godot_aigym.compat as compat
from godot_aigym.compat import SharedMemorySemaphore, SharedMemoryTensor, godot_executable
from godot_aigym.runtime import GodotRuntime
from godot_aigym.shm import (ChunkExists, EngineDiedError, InvalidHandle, InvalidName, SharedMemory, SharedMemoryError,
                             WrongDtype, WrongLength)


@pytest.fixture
def handle():
    """A handle like the original's fixed 'environment', unique per test."""
    return f"environment_{os.getpid()}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def chunk(handle):
    with SharedMemoryTensor(handle) as mem:
        yield mem
    assert not os.path.exists(f"/dev/shm/{handle}")


def test_tensors_read_torch_and_write_torch_like_the_original(chunk):
    floats = chunk.newFloatTensor("observation", 3)
    ints = chunk.newIntTensor("env_action", 2)
    floats.write(torch.tensor([1.5, -2.0, 3.25]))
    ints.write(torch.tensor([1, 0], dtype=torch.int))
    got_f, got_i = floats.read(), ints.read()
    assert isinstance(got_f, torch.Tensor) and got_f.dtype == torch.float32
    assert isinstance(got_i, torch.Tensor) and got_i.dtype == torch.int32
    assert got_f.tolist() == [1.5, -2.0, 3.25] and got_i.tolist() == [1, 0]
    # .numpy() on what read() returns works, as scripts written for the original do
    np.testing.assert_array_equal(got_f.numpy(), np.array([1.5, -2.0, 3.25], np.float32))
    # read() is a copy: changing it does not touch the shared memory
    got_f[0] = 99.0
    assert floats.read()[0].item() == 1.5
    # .item() on a 1-element tensor, as the original drivers' reward.item()
    reward = chunk.newFloatTensor("reward", 1)
    reward.write(torch.tensor([-0.25]))
    assert reward.read().item() == -0.25


def test_write_takes_any_shape_with_the_right_element_count(chunk):
    action = chunk.newFloatTensor("agent_action", 2)
    action.write(torch.tensor([[0.5], [-1.0]]))  # a policy's (2, 1) output, read flat as the original did
    assert action.read().tolist() == [0.5, -1.0]
    action.write(np.array([3.0, 4.0], dtype=np.float64))
    action.write([5, 6])
    assert action.read().tolist() == [5.0, 6.0]


def test_uint_tensor_reads_int32_as_the_original(chunk):
    frame = chunk.newUintTensor("frame", 3)
    frame.write(torch.tensor([0, 128, 255], dtype=torch.int))
    got = frame.read()
    assert got.dtype == torch.int32 and got.tolist() == [0, 128, 255]
    assert frame.idiomatic.read().dtype == np.uint8


def test_bad_writes_raise_our_errors(chunk):
    floats = chunk.newFloatTensor("observation", 3)
    ints = chunk.newIntTensor("done", 1)
    with pytest.raises(WrongLength, match=r"'observation'.*expected 3 values, got 2"):
        floats.write(torch.tensor([1.0, 2.0]))  # the original read past the end
    with pytest.raises(WrongDtype, match=r"'done'"):
        ints.write(torch.tensor([0.5]))
    with pytest.raises(WrongDtype, match=r"'frame'.*outside"):
        chunk.newUintTensor("frame", 1).write(torch.tensor([256], dtype=torch.int))
    with pytest.raises(InvalidName):
        chunk.newFloatTensor("no spaces allowed", 1)


def test_timed_wait_takes_milliseconds(chunk):
    sem = SharedMemorySemaphore("sem_observation", 0)
    start = time.monotonic()
    assert sem.timed_wait(50) is False  # 50 ms, not 50 s
    elapsed = time.monotonic() - start
    assert 0.045 <= elapsed < 30, elapsed  # upper bound: a safety net, only hit if seconds were used
    sem.post()
    assert sem.timed_wait(1000) is True
    assert sem.timed_wait(0) is False
    for bad in (-1, None, "10", True):
        with pytest.raises(ValueError, match="milliseconds"):
            sem.timed_wait(bad)


def test_post_and_wait_cross_processes(chunk):
    """The engine side (another process with its own mapping) posts; wait() returns."""
    sem_act = SharedMemorySemaphore("sem_action", 0)
    sem_obs = SharedMemorySemaphore("sem_observation", 0)
    obs = chunk.newFloatTensor("observation", 1)
    code = ("import sys; from godot_aigym.shm import SharedMemory;"
            "m = SharedMemory.attach(sys.argv[1], as_engine=True);"
            "m.find_semaphore('sem_action').wait(timeout=60);"
            "m.findFloatTensor('observation').write([42.0]);"
            "m.find_semaphore('sem_observation').post(); m.close()")
    child = subprocess.Popen([sys.executable, "-c", code, chunk.handle])
    try:
        sem_act.post()
        sem_obs.wait()
        assert obs.read().tolist() == [42.0]
    finally:
        assert child.wait(timeout=60) == 0


def test_semaphore_may_be_created_before_its_shared_memory(handle):
    early = SharedMemorySemaphore(f"early_{os.getpid()}", 1)
    assert early.pending
    early.post()  # counted until the chunk exists: value 2 once created
    with SharedMemoryTensor(handle) as mem:
        assert not early.pending
        engine = SharedMemory.attach(mem.handle)
        try:
            seen = engine.find_semaphore(early.name)
            assert seen.try_wait() and seen.try_wait() and not seen.try_wait()
        finally:
            engine.close()


def test_pending_semaphore_wait_is_an_error_not_a_hang():
    sem = SharedMemorySemaphore(f"lonely_{os.getpid()}", 0)
    assert sem.pending  # no SharedMemoryTensor is open
    with pytest.raises(SharedMemoryError, match=r"lonely_.*not in any shared memory yet"):
        sem.wait()
    with pytest.raises(SharedMemoryError, match="not in any shared memory yet"):
        sem.timed_wait(10)
    sem.post()
    assert sem.timed_wait(10) is True  # its own pending post


def test_semaphore_argument_errors(chunk):
    with pytest.raises(InvalidName):
        SharedMemorySemaphore("bad name", 0)
    with pytest.raises(ValueError, match=">= 0"):
        SharedMemorySemaphore("s", -1)
    with pytest.raises(TypeError, match="integer"):
        SharedMemorySemaphore("s", 1.5)


@pytest.mark.exclusive  # checks what a killed host left before a sweep (any host's first chunk sweeps)
def test_handle_errors_and_stale_leftovers(handle):
    with pytest.raises(InvalidHandle):
        SharedMemoryTensor("../etc/passwd")
    with SharedMemoryTensor(handle):
        with pytest.raises(ChunkExists, match=rf"belongs to this process \(pid {os.getpid()}\): an earlier "
                                              rf"SharedMemoryTensor\('{handle}'\) is still alive; close\(\) it"):
            SharedMemoryTensor(handle)  # a live host's chunk is never taken over, not even our own
    code = "import sys; from godot_aigym.compat import SharedMemoryTensor; SharedMemoryTensor(sys.argv[1])"
    with SharedMemoryTensor(handle):  # another live process's chunk: named by its pid
        other = subprocess.run([sys.executable, "-c", code, handle], capture_output=True, text=True)
        assert f"belongs to the running process {os.getpid()}" in other.stderr, other.stderr
    # a chunk left by a killed host is replaced, as the original's remove-then-create did
    code = ("import os, sys; from godot_aigym.compat import SharedMemoryTensor;"
            "m = SharedMemoryTensor(sys.argv[1]); os.kill(os.getpid(), 9)")
    subprocess.run([sys.executable, "-c", code, handle], check=False)
    assert os.path.exists(f"/dev/shm/{handle}")
    with SharedMemoryTensor(handle) as mem:
        assert mem.memory.host_pid == os.getpid()
    assert not os.path.exists(f"/dev/shm/{handle}")


@pytest.mark.exclusive  # checks what a killed host left before a sweep (any host's first chunk sweeps)
def test_a_killed_hosts_fixed_name_chunk_is_swept_by_the_next_host(handle):
    """The original's handles carry no `aigym_` prefix: the sweep recognises chunks by their
    magic, so the next host's first chunk removes a killed driver's `environment` chunk even
    when nobody asks for that handle again."""
    code = ("import os, sys; from godot_aigym.compat import SharedMemoryTensor;"
            "m = SharedMemoryTensor(sys.argv[1]); os.kill(os.getpid(), 9)")
    subprocess.run([sys.executable, "-c", code, handle], check=False)
    assert os.path.exists(f"/dev/shm/{handle}")
    subprocess.run([sys.executable, "-c", "from godot_aigym.shm import SharedMemory; SharedMemory(size=1 << 16).close()"],
                   check=True)
    assert not os.path.exists(f"/dev/shm/{handle}")


def test_engine_dying_before_it_attached_ends_wait(chunk):
    """An original driver launches the game itself; if it exits before attaching, wait()
    raises EngineDiedError instead of blocking forever."""
    sem_obs = SharedMemorySemaphore("sem_observation", 0)
    sem_act = SharedMemorySemaphore("sem_action", 0)
    fake_engine = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()", "--handle", chunk.handle],
                                   stdin=subprocess.PIPE)
    sem_act.post()
    fake_engine.stdin.close()  # now it exits, without ever attaching
    with pytest.raises(EngineDiedError, match=r"sem_observation"), _fail_if_still_waiting_after(60):
        sem_obs.wait()
    fake_engine.wait(timeout=60)


@contextlib.contextmanager
def _fail_if_still_waiting_after(seconds: float):
    """Safety net for a regression: a wait that never returns fails the test (SIGALRM
    interrupts it) instead of hanging until the suite's timeout."""
    def expired(signum, frame):
        raise AssertionError(f"wait() still blocked after {seconds} s: the dead engine was not noticed")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_shim_module_is_importable_as_GodotEnv(monkeypatch):
    monkeypatch.syspath_prepend(compat.SHIM_DIR)
    sys.modules.pop("_GodotEnv", None)
    module = importlib.import_module("_GodotEnv")
    try:
        assert module.SharedMemoryTensor is SharedMemoryTensor
        assert module.SharedMemorySemaphore is SharedMemorySemaphore
        # all of godot_aigym.compat (was AttributeError for _GodotEnv.godot_executable(), which
        # PORTING.md offers in place of the driver's GODOT_BIN_PATH, and for the errors a driver catches)
        assert set(module.__all__) == set(compat.__all__)
        assert all(getattr(module, name) is getattr(compat, name) for name in compat.__all__)
    finally:
        sys.modules.pop("_GodotEnv", None)


def test_a_foreign_file_under_the_handle_is_never_touched(handle):
    path = f"/dev/shm/{handle}"
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        os.write(fd, b"somebody else's data" * 10)
        with pytest.raises(ChunkExists, match=rf"'{handle}' already exists.*not a godot-aigym chunk"):
            SharedMemoryTensor(handle)
        with open(path, "rb") as f:
            assert f.read() == b"somebody else's data" * 10
    finally:
        os.close(fd)
        os.unlink(path)


def test_another_users_file_under_the_handle_is_refused_naming_its_owner(handle):
    """Name squatting: another user made the original's fixed handle first (world-writable).
    The refusal says whose file it is instead of blaming "a running process"."""
    path = f"/dev/shm/{handle}"
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    try:
        os.fchmod(fd, 0o666)
        if os.geteuid() == 0:
            os.fchown(fd, 54321, 54321)
            with pytest.raises(ChunkExists, match=rf"'{handle}' already exists and is owned by (\w+ \()?uid 54321\)?, mode 0666"
                                                  r": another user's file"):
                SharedMemoryTensor(handle)
        with SharedMemoryTensor(handle + "_live") as mem:
            with pytest.raises(ChunkExists, match=rf"belongs to this process \(pid {os.getpid()}\)"):
                SharedMemoryTensor(mem.handle)
    finally:
        os.close(fd)
        os.unlink(path)


def test_headless_launcher_runs_the_engine_with_headless(tmp_path, monkeypatch):
    """godot_executable(headless=True): the exec_path replacing GodotAIGym's server build."""
    monkeypatch.setenv("GODOT_AIGYM_CACHE", str(tmp_path / "cache"))
    fake_engine = tmp_path / "my engine's dir" / "godot"
    fake_engine.parent.mkdir()
    fake_engine.write_text("#!/bin/sh\nfor a in \"$@\"; do echo \"[$a]\"; done\n")
    fake_engine.chmod(0o755)
    runtime = GodotRuntime(path=fake_engine, version="4.6.stable", source="explicit")
    assert godot_executable(godot=runtime) == str(fake_engine)
    launcher = godot_executable(headless=True, godot=runtime)
    assert launcher.startswith(str(tmp_path / "cache")) and os.access(launcher, os.X_OK)
    assert godot_executable(headless=True, godot=runtime) == launcher  # written once
    out = subprocess.run([launcher, "--path", "/x y", "--handle", "environment"], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.split() == ["[--headless]", "[--path]", "[/x", "y]", "[--handle]", "[environment]"]
