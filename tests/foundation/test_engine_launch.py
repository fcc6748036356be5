"""The one launch path: CPU masks from any thread, parent-death for imports, private logs.

Real engines, real host processes killed with real signals; every wait is for an event
(an output line, a pid's exit), with safety timeouts that only fire when something is broken.
"""

from __future__ import annotations

import ctypes
import os
import platform
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from engine_testutil import cpu_list_text, cpus_allowed, wait_for_output, wait_gone
from forked_python import PythonForkServer

from godot_aigym.engine import GodotProcess, InvalidCpusError, LaunchOptions, sweep_stale_logs, usable_cpus
from godot_aigym.engine.logs import log_dir

HERE = Path(__file__).resolve().parent
TINY = HERE / "tiny_project"
IDLE = "res://lib/idle.gd"
SYS_TGKILL = {"x86_64": 234, "aarch64": 131}[platform.machine()]


def our_logs() -> set[str]:
    return {n for n in os.listdir(log_dir()) if n.startswith(f"godot-aigym-{os.getpid()}-")}


def test_engines_started_from_threads_get_their_own_cpus(godot, test_project):
    """Three engines asked for {last}, {first}, no pinning, from threads, one of them pinned
    itself: each runs on exactly what it asked for (before: all on the first thread's CPU)."""
    usable = usable_cpus()
    asks = [{usable[-1]}, {usable[0]}, None]
    procs: list[GodotProcess | None] = [None] * 3

    def start(k: int) -> None:
        if k == 0:  # a caller that pinned itself elsewhere must not leak its mask to the engines
            os.sched_setaffinity(0, {usable[0]})
        procs[k] = GodotProcess(LaunchOptions(project=test_project, script=IDLE), godot=godot, cpus=asks[k])

    try:
        for k in range(3):  # one after the other: the spawner thread is created by the pinned one
            t = threading.Thread(target=start, args=(k,))
            t.start()
            t.join()
        for k, proc in enumerate(procs):
            assert proc is not None and wait_for_output(proc, "IDLE"), proc and proc.log_tail()
            want = asks[k] if asks[k] is not None else set(usable)
            assert cpus_allowed(proc.pid) == cpu_list_text(want), f"engine {k} asked for {asks[k]}"
        assert os.sched_getaffinity(0) == set(usable), "the calling thread's mask was changed"
    finally:
        for proc in procs:
            if proc is not None:
                proc.close(grace=0)


@pytest.mark.parametrize("cpus", [[99], 99, [0, 99], [], "1", [1.5], True])
def test_invalid_cpus_are_refused_before_anything_is_created(godot, test_project, cpus):
    before = our_logs()
    with pytest.raises(InvalidCpusError, match=r"cpus.*the CPUs this process can use are \[") as err:
        GodotProcess(LaunchOptions(project=test_project, script=IDLE), godot=godot, cpus=cpus)
    assert isinstance(err.value, ValueError)
    if cpus in ([99], 99, [0, 99]):
        assert "CPU 99 does not exist" in str(err.value)
    assert our_logs() == before


def test_temporary_log_is_private_named_by_its_host_and_removed(godot, test_project):
    proc = GodotProcess(LaunchOptions(project=test_project, script=IDLE), godot=godot)
    try:
        st = os.lstat(proc.log_path)
        assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.getuid()
        assert proc.log_path.name.startswith(f"godot-aigym-{os.getpid()}-")
        assert wait_for_output(proc, "IDLE")
        assert str(proc.log_path) not in sweep_stale_logs(dry_run=True)  # its host (we) is alive
    finally:
        proc.close(grace=0)
    assert not proc.log_path.exists()
    assert "IDLE" in proc.log()  # the text outlives the file


HOST = textwrap.dedent("""
    import sys
    from godot_aigym.engine import GodotProcess, LaunchOptions
    proc = GodotProcess(LaunchOptions(project=sys.argv[1], script="res://lib/idle.gd"))
    print(proc.pid, proc.log_path, flush=True)
    while sys.stdin.readline() not in ("exit\\n", ""):  # other lines only nudge (see _nudge_until_exit)
        pass
""")


def _nudge_until_exit(host: subprocess.Popen) -> None:
    """KeyboardInterrupt is raised by Python code: a SIGINT landing just before the host's blocking
    read leaves the read blocked. Empty lines end each read until the host is gone (no time budget;
    a safety deadline only, for a host that ignores the signal: the caller's wait then fails)."""
    deadline = time.monotonic() + 60.0
    while host.poll() is None and time.monotonic() < deadline:
        try:
            host.stdin.write("\n")
            host.stdin.flush()
        except (BrokenPipeError, ValueError):
            return
        try:
            host.wait(0.05)
        except subprocess.TimeoutExpired:
            pass


@pytest.fixture(scope="module")
def hosts():
    """Host processes: forks of a server that has imported the package and created nothing
    (forked_python.py), each running its script as `python -c` would."""
    server = PythonForkServer(dict(os.environ), ("godot_aigym", "godot_aigym.engine"))
    yield server
    server.close()


def _start_host(hosts: PythonForkServer, test_project) -> tuple[subprocess.Popen, int, Path]:
    host = hosts.spawn(HOST, (str(test_project),))
    line = host.stdout.readline().split()
    assert len(line) == 2, "the host did not start its engine"
    return host, int(line[0]), Path(line[1])


@pytest.mark.exclusive  # checks what a killed host left before its own sweep
def test_logs_of_a_killed_host_are_swept_by_the_next_host(hosts, test_project, tmp_path):
    host, engine, log = _start_host(hosts, test_project)
    try:
        host.kill()
        host.wait()
        assert wait_gone(engine), "the engine outlived its host"
        assert log.exists()  # a SIGKILLed host cannot clean up ...
        # ... files that look alike but are not stale logs of ours are never touched
        planted = Path(log_dir()) / f"godot-aigym-{host.pid}-1-planted.log"
        os.symlink(tmp_path / "target", planted)
        try:
            assert str(log) in sweep_stale_logs()  # ... the next host does
            assert not log.exists()
            assert planted.is_symlink()
        finally:
            planted.unlink()
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_host_stopped_by_a_signal_removes_its_logs(hosts, test_project, sig):
    host, engine, log = _start_host(hosts, test_project)
    try:
        assert log.exists()
        host.send_signal(sig)
        if sig == signal.SIGINT:
            _nudge_until_exit(host)
        assert host.wait(60) == -sig
        assert wait_gone(engine)
        assert not log.exists()
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()


THREADED_HOST = textwrap.dedent("""
    import sys, threading
    from godot_aigym import SharedMemory
    from godot_aigym.engine import GodotProcess, LaunchOptions
    mem = SharedMemory(size=1 << 20)  # the chunk's signal clean-up first, the log's on top
    proc = GodotProcess(LaunchOptions(project=sys.argv[1], script="res://lib/idle.gd"))
    ready = threading.Event()
    worker = threading.Thread(target=lambda: (ready.set(), threading.Event().wait()), daemon=True)
    worker.start()
    ready.wait()
    print(proc.pid, proc.log_path, mem.handle, worker.native_id, flush=True)
    sys.stdin.readline()
""")


def test_sigterm_delivered_to_another_thread_still_removes_logs_and_chunk(hosts, test_project):
    """The kernel may hand a process-directed SIGTERM to any thread while the main thread
    blocks in read(): the handlers must still run (the log's handler keeps the forwarding)."""
    host = hosts.spawn(THREADED_HOST, (str(test_project),))
    try:
        engine, log, handle, tid = host.stdout.readline().split()
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.syscall(SYS_TGKILL, host.pid, int(tid), int(signal.SIGTERM)) == 0
        assert host.wait(60) == -signal.SIGTERM
        assert wait_gone(int(engine))
        assert not Path(log).exists()
        assert not os.path.exists(f"/dev/shm/{handle}")
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()


def test_a_host_exiting_normally_removes_its_logs(hosts, test_project):
    host, engine, log = _start_host(hosts, test_project)
    host.stdin.write("exit\n")
    host.stdin.flush()
    assert host.wait(60) == 0
    assert wait_gone(engine)
    assert not log.exists()


# The import child of a killed host: a subreaper inherits it, so we see how it ended.
SUPERVISOR = textwrap.dedent("""
    import ctypes, os, signal, subprocess, sys, time
    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    host = subprocess.Popen([sys.executable, "-c",
        "import sys; from godot_aigym.engine import ensure_imported; ensure_imported(sys.argv[1])", sys.argv[1]])
    deadline = time.monotonic() + 120
    child = None
    while child is None and time.monotonic() < deadline and host.poll() is None:
        for tid in os.listdir(f"/proc/{host.pid}/task"):
            try:
                with open(f"/proc/{host.pid}/task/{tid}/children") as f:
                    kids = f.read().split()
            except OSError:
                kids = []
            for kid in kids:
                try:
                    with open(f"/proc/{kid}/cmdline", "rb") as f:
                        if b"--import" in f.read().split(bytes(1)):
                            child = int(kid)
                except OSError:
                    pass
        time.sleep(0.001)
    if child is None:
        print("no-import-child", host.poll(), flush=True)
        sys.exit(1)
    host.kill()
    host.wait()
    _, status = os.waitpid(child, 0)  # reparented to us
    print("signal" if os.WIFSIGNALED(status) else "exit", os.WTERMSIG(status) if os.WIFSIGNALED(status)
          else os.WEXITSTATUS(status), flush=True)
""")


def test_the_import_dies_with_its_host(tmp_path, godot):
    """A host killed during a first import takes the import with it (it finished before)."""
    project = tmp_path / "tiny"
    shutil.copytree(TINY, project)
    out = subprocess.run([sys.executable, "-c", SUPERVISOR, str(project)], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "GODOT_BIN": str(godot.path)})
    assert out.stdout.split() == ["signal", str(int(signal.SIGKILL))], out.stdout + out.stderr
