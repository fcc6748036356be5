"""Failures give clear errors and leave nothing behind: no engine process, no /dev/shm chunk."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from env_testutil import CARTPOLE, DEMO, TRIVIAL, our_chunks, wait_gone

from godot_aigym import sweep_stale_chunks
from godot_aigym.engine import GodotProcess, GodotProcessError, InvalidCpusError
from godot_aigym.env import GodotAsyncVectorEnv, GodotEnv, GodotEnvError, GodotVectorEnv
from godot_aigym.shm import EngineDiedError
from godot_aigym.shm.errors import EngineTimeoutError


def test_wrong_project(tmp_path, no_leaks):
    before = our_chunks()  # only this process's: other workers of the suite make chunks meanwhile
    with pytest.raises(GodotProcessError, match="not a Godot project"):
        GodotEnv(tmp_path / "nowhere", TRIVIAL)
    with pytest.raises(GodotProcessError, match="not a Godot project"):
        GodotVectorEnv(tmp_path, TRIVIAL, n_agents=2)
    assert our_chunks() <= before


def test_wrong_scene(no_leaks):
    with pytest.raises(GodotProcessError, match=r"scene not found: res://envs/nope.tscn"):
        GodotEnv(DEMO, "res://envs/nope.tscn")
    with pytest.raises(GodotProcessError, match="not a scene file"):
        GodotEnv(DEMO, "res://project.godot")
    with pytest.raises(GodotProcessError, match="not inside the project"):
        GodotEnv(DEMO, "/etc/hostname")


def test_scene_that_quits_without_an_env(no_leaks):
    with pytest.raises(GodotEnvError, match="exited during start-up") as info:
        GodotEnv(DEMO, "res://smoke/smoke.tscn")
    assert "engine log" in str(info.value)


def test_scene_without_an_env_times_out(no_leaks, monkeypatch):
    """The start-up wait's timeout is the whole delay: the engine, known not to answer, is
    stopped at once (SIGTERM) instead of being given the clean-exit grace period."""
    graces = []
    real_close = GodotProcess.close

    def close(self, grace=5.0):
        graces.append(grace)
        return real_close(self, grace)

    monkeypatch.setattr(GodotProcess, "close", close)
    with pytest.raises(GodotEnvError, match="did not start a GymEnv within 1 s"):  # the engine runs (busy) until then
        GodotEnv(DEMO, "res://envs/cartpole/cartpole_agent.tscn", timeout=1)
    assert graces and graces[0] == 0


def test_unknown_cpus_are_refused_before_anything_is_created(no_leaks):
    before = our_chunks()
    with pytest.raises(InvalidCpusError, match=r"cpus=\[99\]: CPU 99 does not exist .* can use are \[0"):
        GodotEnv(DEMO, TRIVIAL, cpus=[99])
    with pytest.raises(InvalidCpusError, match=r"cpus"):
        GodotVectorEnv(DEMO, TRIVIAL, n_engines=2, cpus=[[0], [99]])
    assert our_chunks() == before


def test_a_hung_engine_is_a_timeout_not_a_death(no_leaks):
    env = GodotEnv(DEMO, TRIVIAL, step_timeout=60)
    proc = env.engine
    env.reset(seed=0)  # a live engine's answer: under the generous timeout, however loaded the machine
    assert env.link.step_timeout == 60
    env.link.step_timeout = 0.5  # only the hung command waits this short
    os.kill(proc.pid, signal.SIGSTOP)  # alive, never answers
    try:
        with pytest.raises(EngineTimeoutError, match=r"did not answer within 0.5 s \(hung\?\)") as err:
            env.step(env.action_space.sample())
        assert isinstance(err.value, TimeoutError) and not isinstance(err.value, EngineDiedError)
        assert not proc.alive()  # stopped
    finally:
        if proc.alive():
            os.kill(proc.pid, signal.SIGKILL)
    env.close()


def test_a_corrupted_error_count_is_named_as_corruption(no_leaks):
    env = GodotEnv(DEMO, TRIVIAL)
    try:
        env.reset(seed=0)
        env.link.error_count[0] = -641564065  # another process scribbled over the engine's count
        with pytest.raises(GodotEnvError, match=r"error count in the chunk of .* is -641564065, not a count"):
            env.step(np.zeros(2, np.float32))  # was GodotScriptError "logged -641564065 error(s)"
    finally:
        env.close()


def test_a_shutdown_word_set_by_another_process_is_named(no_leaks):
    env = GodotEnv(DEMO, TRIVIAL)
    try:
        env.reset(seed=0)
        env.link.mem.request_shutdown()  # as another process writing into the chunk would
        with pytest.raises(EngineDiedError, match=r"quit \(exit code 0\) because the shutdown word of its shared "
                                                  r"memory was set, not by this host"):  # was "died ... in the middle"
            for _ in range(100):  # the engine looks at the word while it waits for the next command
                env.step(np.zeros(2, np.float32))
    finally:
        env.close()


def test_engine_side_error_is_reported(no_leaks):
    with pytest.raises(GodotEnvError, match=r"the environment reported an error: n_agents must be 1\.\.100000, got 0"):
        GodotEnv(DEMO, TRIVIAL, user_args=("--n-agents", "0"))


def test_bad_log_paths_and_env_are_refused_before_launch(tmp_path, no_leaks):
    # were bare FileNotFoundError / IsADirectoryError / TypeError from the launch
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    for kwargs, message in [
            ({"log_path": tmp_path}, rf"^log_path {tmp_path} is a folder: give a file name"),
            ({"log_path": tmp_path / "new" / "engine.log"}, rf"^log_path .*: {tmp_path / 'new'} is not an existing folder"),
            ({"env": {"SEED": 1}}, r"^env must map names to strings"),
            ({"env": ["A=1"]}, r"^env must map names to strings")]:
        with pytest.raises(ValueError, match=message):
            GodotEnv(DEMO, TRIVIAL, **kwargs)
    with pytest.raises(ValueError, match=rf"^log_dir {a_file} is a file, not a folder$"):
        GodotVectorEnv(DEMO, TRIVIAL, n_agents=1, log_dir=a_file)


def test_an_existing_writable_log_in_a_read_only_folder_is_accepted():
    """open(log_path, "wb") needs no write access to the folder: /dev/null (discard the output)
    and a log made beforehand in a read-only folder were refused for non-root users."""
    from godot_aigym.env.options import EnvOptions
    import shutil
    import tempfile
    from pathlib import Path
    nobody = 65534
    top = Path(tempfile.mkdtemp(prefix="aigym-logtest-"))  # pytest's tmp_path is closed to other users
    shared = top / "shared"
    shared.mkdir()
    kept = shared / "engine.log"
    kept.write_text("")
    os.chown(kept, nobody, nobody)
    os.chmod(top, 0o755)
    os.chmod(shared, 0o555)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child, as another user than the folder's owner
        code = 1
        try:
            os.setgid(nobody)
            os.setuid(nobody)
            EnvOptions(log_path="/dev/null")
            EnvOptions(log_path=kept)
            try:
                EnvOptions(log_path=shared / "new.log")
            except ValueError as e:
                code = 0 if "the folder" in str(e) and "is not writable by this user" in str(e) else 3
            else:
                code = 4
        except BaseException as e:  # noqa: BLE001 - reported through the exit code
            os.write(2, repr(e).encode())
            code = 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    os.chmod(shared, 0o755)
    shutil.rmtree(top)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.parametrize("cls", [GodotVectorEnv, GodotAsyncVectorEnv])
def test_a_vector_envs_log_dir_is_created(tmp_path, no_leaks, cls):
    logs = tmp_path / "runs" / "1"  # was FileNotFoundError for runs/1/engine0.log (async: a ValueError naming log_path)
    envs = cls(DEMO, TRIVIAL, n_agents=1, n_engines=2, log_dir=logs)
    envs.close()
    assert sorted(p.name for p in logs.iterdir()) == ["engine0.log", "engine1.log"]


@pytest.mark.parametrize("cls", [GodotVectorEnv, GodotAsyncVectorEnv])
def test_too_many_agents_refused_before_launch(no_leaks, cls):
    # the engine's own limit (gym_spec.gd), checked on the host: no engine is started for it
    with pytest.raises(ValueError, match=r"^n_agents must be 1\.\.100000 per engine \(the engine's limit\), "
                                         r"got 1000000; use more engines \(n_engines\)$"):
        cls(DEMO, TRIVIAL, n_agents=10**6)


def test_engine_killed_mid_episode(no_leaks):
    env = GodotEnv(DEMO, CARTPOLE)
    handle = env.link.mem.handle
    proc = env.engine
    env.reset(seed=0)
    env.step(0)
    os.kill(proc.pid, signal.SIGKILL)
    # the death is seen by the wait's liveness check, not by the step timeout (that would be
    # an EngineTimeoutError): no wall-clock budget needed
    with pytest.raises(EngineDiedError, match=r"died \(exit code -9\) in the middle of an episode"):
        for _ in range(1000):
            env.step(1)
            env.step(0)
    assert not proc.alive() and proc.popen is None  # reaped
    assert not os.path.exists(f"/dev/shm/{handle}")
    with pytest.raises(Exception):
        env.step(0)
    env.close()


def test_vector_engine_killed(no_leaks):
    venv = GodotVectorEnv(DEMO, TRIVIAL, n_agents=2, n_engines=2)
    venv.reset(seed=0)
    handles = [link.mem.handle for link in venv.links]
    os.kill(venv.engines[1].pid, signal.SIGKILL)
    with pytest.raises(EngineDiedError):
        for _ in range(100):
            venv.step(np.zeros((4, 2), np.float32))
    venv.close()
    assert not any(os.path.exists(f"/dev/shm/{h}") for h in handles)


CHILD = textwrap.dedent("""
    import sys, time
    from godot_aigym.env import GodotEnv
    env = GodotEnv(sys.argv[1], sys.argv[2])
    env.reset(seed=0)
    print(env.engine.pid, env.link.mem.handle, env.engine.log_path, flush=True)
    time.sleep(600)
""")


@pytest.mark.exclusive  # checks what a killed host left before its own sweep
def test_no_orphan_engine_when_python_is_killed(demo):
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(DEMO), TRIVIAL], stdout=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline().split()
        assert len(line) == 3, "the child did not start its environment"
        engine_pid, handle, log_path = int(line[0]), line[1], line[2]
        assert os.path.exists(f"/dev/shm/{handle}")
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert wait_gone(engine_pid, 10.0), "the engine outlived its Python parent"
        # the chunk of the killed host is stale: the sweep removes it
        sweep_stale_chunks()
        assert not os.path.exists(f"/dev/shm/{handle}")
        # the killed child could not remove its engine's temporary log; the engine's host watcher
        # does (gdextension/shm/host_watch.cpp), maybe still at work now: remove what is left
        with contextlib.suppress(FileNotFoundError):
            os.unlink(log_path)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def _cpus_allowed(pid: int) -> set[int]:
    with open(f"/proc/{pid}/status") as f:
        text = next(line for line in f if line.startswith("Cpus_allowed_list:")).split(":", 1)[1].strip()
    cpus = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus |= set(range(int(lo), int(hi or lo) + 1))
    return cpus


def test_envs_started_from_threads_run_on_the_cpus_they_asked_for(no_leaks):
    """Engines of environments created on worker threads get their own masks (before: the
    spawner thread's mask, i.e. the first caller's, for all of them). Several environments at
    once leave nothing behind (no_leaks: no engine process; no chunk)."""
    import threading

    before = our_chunks()
    usable = sorted(os.sched_getaffinity(0))
    asks = [[usable[-1]], [usable[0]], None]
    envs = [None] * 3

    def make(k):
        envs[k] = GodotEnv(DEMO, TRIVIAL, cpus=asks[k])

    try:
        for k in range(3):
            t = threading.Thread(target=make, args=(k,))
            t.start()
            t.join()
        for k, env in enumerate(envs):
            assert env is not None, f"env {k} failed to start"
            assert _cpus_allowed(env.engine.pid) == (set(asks[k]) if asks[k] else set(usable)), f"env {k}"
            env.reset(seed=0)
    finally:
        for env in envs:
            if env is not None:
                env.close()
    assert our_chunks() == before
