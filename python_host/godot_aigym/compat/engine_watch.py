"""Find the engine a GodotAIGym-style script started itself with ``subprocess.Popen``.

Original scripts launch the game with ``--handle <name>`` and never tell the library which
process it is. Our waits need a process to watch (else a game that crashes before attaching
would hang ``wait()`` forever), so until the engine attaches and records its pid in the chunk
we look for a child of this process whose command line carries ``--handle <name>``.
"""

from __future__ import annotations

import os
import time

from ..liveness import pid_alive

# A child that is still inside execve() shows an empty command line for a moment (the parent
# of a vfork-ed child runs on before the new argv is in place); wait that long at most for it.
EXEC_GRACE_S = 1.0


def _children_of_self() -> list[int]:
    """Pids of this process's children (all threads); scans /proc when the kernel lacks
    /proc/<pid>/task/<tid>/children."""
    pids: list[int] = []
    task_dir = "/proc/self/task"
    try:
        tids = os.listdir(task_dir)
        for tid in tids:
            with open(f"{task_dir}/{tid}/children", "rb") as f:
                pids.extend(int(p) for p in f.read().split())
        return pids
    except (OSError, ValueError):
        pass
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rfind(b")") + 2:].split()
        if len(fields) > 1 and fields[1] == str(me).encode():
            pids.append(int(entry))
    return pids


def carries_handle(argv: list[bytes], handle: bytes) -> bool:
    """True if ``argv`` has ``--handle <handle>`` or ``--handle=<handle>``."""
    for i, arg in enumerate(argv):
        if arg == b"--handle" and i + 1 < len(argv) and argv[i + 1] == handle:
            return True
        if arg == b"--handle=" + handle:
            return True
    return False


def find_engine_child(handle: str) -> int | None:
    """Pid of a live child process started with ``--handle <handle>``, or None."""
    wanted = handle.encode()
    for pid in _children_of_self():
        argv = _argv(pid)
        if argv is not None and carries_handle(argv, wanted):
            return pid
    return None


def _argv(pid: int) -> list[bytes] | None:
    """The command line of ``pid``; None if it exited (a zombie's is empty too)."""
    deadline = time.monotonic() + EXEC_GRACE_S
    while True:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                data = f.read()
        except OSError:
            return None
        if data:
            return data.split(b"\0")
        if not pid_alive(pid) or time.monotonic() >= deadline:
            return None
        time.sleep(0.0005)  # exec in progress: its argv appears in microseconds
