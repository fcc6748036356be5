"""No /dev/shm leaks: exit and signal handlers unlink owned chunks, the sweep removes dead owners' chunks."""

from __future__ import annotations

import ctypes
import os
import platform
import secrets
import signal
import subprocess

import pytest

from shm_testutil import read_json_line, spawn_python, unique_handle

from godot_aigym.liveness import start_time
from godot_aigym.shm import SharedMemory, layout as L, sweep_stale_chunks


_children: list[subprocess.Popen] = []


def _owner(extra: str = "", tail: str = "import time; time.sleep(60)") -> subprocess.Popen:
    """A child that creates a chunk, reports its handle, waits for a line on stdin, then runs ``tail``."""
    proc = spawn_python(f"""
        import json, sys
        {extra}
        from godot_aigym.shm import SharedMemory
        mem = SharedMemory({unique_handle("c")!r}, size=1 << 16)
        mem.newFloatTensor("obs", 4)
        print(json.dumps({{"handle": mem.handle}}), flush=True)
        sys.stdin.readline()
        {tail}
    """)
    _children.append(proc)
    return proc


def _handle_of(proc: subprocess.Popen) -> str:
    """The child's handle once it exists; then the child is let go on to its tail."""
    handle = read_json_line(proc)["handle"]
    assert os.path.exists(f"/dev/shm/{handle}")
    proc.stdin.write("go\n")
    proc.stdin.flush()
    return handle


def _reap(proc: subprocess.Popen) -> int:
    try:
        return proc.wait(60)  # a safety net for a hung child only
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _nudge_until_exit(proc: subprocess.Popen) -> None:
    """Feed lines to a child that reads stdin in a loop until it exits.

    KeyboardInterrupt is raised by Python code, when the interpreter next checks for signals. A
    SIGINT that lands just before a blocking read leaves the read blocked; a line ends it, and
    the child's loop makes sure Python code runs (a single readline could instead return and
    let the script end before the handler ran: exit 0, the old race). The lines stop when the
    child is gone; no time budget is involved."""
    while proc.poll() is None:
        try:
            proc.stdin.write("\n")
            proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            return  # it is already gone
        try:
            proc.wait(0.05)
        except subprocess.TimeoutExpired:
            pass


@pytest.fixture(autouse=True)
def _reap_children():
    yield
    while _children:
        _reap(_children.pop())


@pytest.mark.exclusive  # checks what a killed host left before its own sweep
def test_sigkill_then_sweep_removes_the_chunk():
    proc = _owner()
    handle = _handle_of(proc)
    assert handle not in sweep_stale_chunks()  # owner alive: kept
    proc.kill()
    assert _reap(proc) == -signal.SIGKILL
    assert os.path.exists(f"/dev/shm/{handle}")  # SIGKILL cannot be handled...
    assert handle in sweep_stale_chunks(dry_run=True)
    assert os.path.exists(f"/dev/shm/{handle}")
    assert handle in sweep_stale_chunks()  # ...so the sweep removes it
    assert not os.path.exists(f"/dev/shm/{handle}")


def test_sweep_runs_when_the_next_chunk_is_created():
    proc = _owner()
    handle = _handle_of(proc)
    proc.kill()
    _reap(proc)
    child = spawn_python("""
        from godot_aigym.shm import SharedMemory
        SharedMemory(size=1 << 16).close()
    """)
    assert child.wait(30) == 0, child.stderr.read()
    assert not os.path.exists(f"/dev/shm/{handle}")


def test_sweep_keeps_live_and_foreign_files(mem):
    junk = f"/dev/shm/{unique_handle('junk')}"
    fd = os.open(junk, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        os.write(fd, b"not a chunk".ljust(200, b"\0"))
        removed = sweep_stale_chunks()
        assert mem.handle not in removed and os.path.basename(junk) not in removed
        assert os.path.exists(mem.path) and os.path.exists(junk)
    finally:
        os.close(fd)
        os.unlink(junk)


@pytest.mark.exclusive  # checks what a killed host left before its own sweep
def test_sweep_detects_reused_pid(mem):
    """Right pid, wrong start time: the recorded owner is gone even though the pid runs."""
    with open(mem.path, "r+b") as f:
        f.seek(L.HEADER_OFFSETS["host_start_time"])
        f.write((1).to_bytes(8, "little"))
    assert mem.handle in sweep_stale_chunks()
    assert not os.path.exists(mem.path)


def test_sigterm_unlinks_and_dies_by_the_signal():
    proc = _owner()
    handle = _handle_of(proc)
    proc.send_signal(signal.SIGTERM)
    assert _reap(proc) == -signal.SIGTERM
    assert not os.path.exists(f"/dev/shm/{handle}")


def _tgkill(pid: int, tid: int, signum: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(234 if platform.machine() == "x86_64" else 131, pid, tid, signum) != 0:  # SYS_tgkill
        raise OSError(ctypes.get_errno(), "tgkill failed")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_delivered_to_another_thread_still_unlinks_and_kills(signum):
    """The kernel may hand a process-directed signal to any thread (numpy's BLAS workers take
    them); the main thread, blocked in a read, must still run the handler (was: 1 in 25 hung)."""
    proc = spawn_python(f"""
        import json, sys, threading
        from godot_aigym.shm import SharedMemory
        mem = SharedMemory({unique_handle("c")!r}, size=1 << 16)
        started = threading.Event()
        tid = []
        def idle():
            tid.append(threading.get_native_id())
            started.set()
            threading.Event().wait()
        threading.Thread(target=idle, daemon=True).start()
        started.wait()
        print(json.dumps({{"handle": mem.handle, "tid": tid[0]}}), flush=True)
        while True:
            sys.stdin.readline()  # blocked here, in the main thread
    """)
    _children.append(proc)
    info = read_json_line(proc)
    _tgkill(proc.pid, info["tid"], signum)  # to the idle thread, not the main one
    if signum == signal.SIGINT:  # KeyboardInterrupt needs Python code to run
        _nudge_until_exit(proc)
    assert _reap(proc) == -signum
    assert not os.path.exists(f"/dev/shm/{info['handle']}")


@pytest.mark.exclusive  # checks what a killed host left before its own sweep
@pytest.mark.parametrize("killed_in", ["ftruncate", "link"])
def test_host_killed_while_creating_leaves_nothing_the_sweep_misses(killed_in):
    """Killed right after the exclusive create, or with a complete file not yet linked into
    place: only a temporary file naming the dead creator remains, and the sweep removes it."""
    handle = unique_handle("k")
    proc = spawn_python(f"""
        import os, signal
        from godot_aigym.shm import SharedMemory
        def die(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)
        os.{killed_in} = die
        SharedMemory({handle!r}, size=1 << 20)
    """)
    _children.append(proc)
    assert _reap(proc) == -signal.SIGKILL
    assert not os.path.exists(f"/dev/shm/{handle}")
    temps = [n for n in os.listdir("/dev/shm") if n.startswith(f".aigym-new.{proc.pid}.")]
    assert len(temps) == 1, temps
    assert temps[0] in sweep_stale_chunks(dry_run=True)
    assert temps[0] in sweep_stale_chunks()
    assert not os.path.exists(f"/dev/shm/{temps[0]}")


def test_sweep_keeps_a_live_creators_temporary_file():
    name = f".aigym-new.{os.getpid()}.{start_time(os.getpid())}.{secrets.token_hex(8)}"
    path = f"/dev/shm/{name}"
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    try:
        assert name not in sweep_stale_chunks()
        assert os.path.exists(path)
    finally:
        os.unlink(path)


def test_sigint_unlinks_and_raises_keyboard_interrupt():
    proc = _owner(tail="while True: sys.stdin.readline()")
    handle = _handle_of(proc)
    proc.send_signal(signal.SIGINT)
    _nudge_until_exit(proc)
    assert _reap(proc) == -signal.SIGINT  # Python re-raises an unhandled KeyboardInterrupt as SIGINT
    assert "KeyboardInterrupt" in proc.stderr.read()
    assert not os.path.exists(f"/dev/shm/{handle}")


def test_previous_sigterm_handler_still_runs():
    extra = ("import signal, os\n"
             "        signal.signal(signal.SIGTERM, lambda s, f: (print('{\"previous\": 1}', flush=True), "
             "os._exit(3)))")
    # A Python-level handler runs between bytecodes: a SIGTERM that trips it just before a long
    # blocking sleep would wait for the sleep to end (CPython's own race, with or without us), so
    # the child sleeps in short slices and the handler runs at the next one.
    proc = _owner(extra=extra, tail="import time; [time.sleep(0.05) for _ in iter(int, 1)]")
    handle = _handle_of(proc)
    proc.send_signal(signal.SIGTERM)
    assert read_json_line(proc) == {"previous": 1}
    assert _reap(proc) == 3
    assert not os.path.exists(f"/dev/shm/{handle}")


def test_ignored_signal_stays_ignored():
    extra = "import signal\n        signal.signal(signal.SIGTERM, signal.SIG_IGN)"
    proc = _owner(extra=extra, tail="sys.stdin.readline(); print('{\"alive\": 1}', flush=True)")
    handle = _handle_of(proc)
    proc.send_signal(signal.SIGTERM)  # an ignored signal is discarded when sent: no race with the next line
    proc.stdin.write("still there?\n")
    proc.stdin.flush()
    assert read_json_line(proc) == {"alive": 1}
    assert _reap(proc) == 0
    assert not os.path.exists(f"/dev/shm/{handle}")  # normal exit: atexit cleaned up


def test_exit_without_close_unlinks():
    proc = _owner(tail="del mem  # not closed explicitly\n        sys.exit(0)")
    handle = _handle_of(proc)
    assert _reap(proc) == 0
    assert not os.path.exists(f"/dev/shm/{handle}")


def test_unhandled_exception_unlinks():
    proc = _owner(tail="raise RuntimeError('boom')")
    handle = _handle_of(proc)
    assert _reap(proc) == 1
    assert not os.path.exists(f"/dev/shm/{handle}")


def test_forked_child_does_not_unlink_parents_chunk():
    proc = _owner(tail=("import os\n"
                        "        pid = os.fork()\n"
                        "        if pid == 0:\n"
                        "            sys.exit(0)  # runs atexit in the child\n"
                        "        os.waitpid(pid, 0)\n"
                        "        print(json.dumps({'exists': os.path.exists(mem.path)}), flush=True)"))
    handle = _handle_of(proc)
    assert read_json_line(proc) == {"exists": True}
    assert _reap(proc) == 0
    assert not os.path.exists(f"/dev/shm/{handle}")


def test_garbage_collected_chunk_is_unlinked(handles):
    h = handles()
    m = SharedMemory(h, size=1 << 16)
    m.newFloatTensor("x", 2)
    del m
    assert not os.path.exists(f"/dev/shm/{h}")


def test_name_reused_after_unlink_is_not_removed(handles):
    h = handles()
    first = SharedMemory(h, size=1 << 16)
    first.unlink()
    second = SharedMemory(h, size=1 << 16)  # same name, new file
    first.close()  # must not remove the second chunk
    assert os.path.exists(second.path)
    second.close()
    assert not os.path.exists(f"/dev/shm/{h}")


def test_a_handler_chained_on_ours_later_still_runs():
    """Another module (e.g. the engine's log cleanup) wraps its own handler on top of ours:
    the C wrapper then must not die on its own, so the later handler runs, then ours."""
    proc = spawn_python(f"""
        import json, signal, sys
        from godot_aigym.shm import SharedMemory, _sigforward
        mem = SharedMemory({unique_handle("c")!r}, size=1 << 16)
        ours = signal.getsignal(signal.SIGTERM)
        def later(signum, frame):
            print(json.dumps({{"later": 1}}), flush=True)
            ours(signum, frame)
        signal.signal(signal.SIGTERM, later)
        _sigforward.forward(signal.SIGTERM)
        print(json.dumps({{"handle": mem.handle}}), flush=True)
        sys.stdin.readline()
    """)
    _children.append(proc)
    handle = read_json_line(proc)["handle"]
    proc.send_signal(signal.SIGTERM)
    try:
        proc.stdin.write("\n")  # in case the signal landed just before the blocking readline
        proc.stdin.flush()
    except BrokenPipeError:
        pass
    assert read_json_line(proc) == {"later": 1}
    assert _reap(proc) == -signal.SIGTERM
    assert not os.path.exists(f"/dev/shm/{handle}")
