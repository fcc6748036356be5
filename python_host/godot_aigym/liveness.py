"""Is a process still alive? Used by semaphore waits (engine died?), the stale-chunk sweep and SharedObject."""

from __future__ import annotations

import os
import subprocess
from typing import Union

Peer = Union[int, "subprocess.Popen[bytes]", "subprocess.Popen[str]"]


def _proc_stat(pid: int) -> str | None:
    """The fields after the command name in /proc/<pid>/stat, or None if unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # the command name is in parentheses and may itself contain ')' and spaces
    end = data.rfind(b")")
    return data[end + 2:].decode("ascii", "replace") if end >= 0 else None


def pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie (a dead, unreaped child still answers kill(0)).

    pid <= 0 means "unknown" and counts as alive, like aigym_pid_alive() in C.
    """
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    rest = _proc_stat(pid)
    if rest is None:
        return not os.path.exists("/proc/self") or os.path.exists(f"/proc/{pid}")
    return rest[:1] not in ("Z", "X")


def start_time(pid: int) -> int:
    """Start time of ``pid`` in clock ticks since boot (/proc/<pid>/stat field 22), 0 if unknown.

    Stored in the chunk header so the sweep does not mistake a reused pid for the owner.
    """
    rest = _proc_stat(pid)
    if rest is None:
        return 0
    fields = rest.split()
    try:
        return int(fields[19])  # field 22 overall; 'rest' starts at field 3 (state)
    except (IndexError, ValueError):
        return 0


def owner_alive(pid: int, recorded_start_time: int) -> bool:
    """True if the process that wrote (pid, start time) into a header is still running."""
    if pid <= 0 or not pid_alive(pid):
        return False
    if recorded_start_time:
        current = start_time(pid)
        if current and current != recorded_start_time:
            return False  # the pid was reused by another process
    return True


def peer_alive(peer: Peer) -> bool:
    """Liveness of a ``subprocess.Popen`` (polled, which also reaps it) or a raw pid."""
    if isinstance(peer, subprocess.Popen):
        return peer.poll() is None
    return pid_alive(int(peer))


def describe_peer(peer: Peer) -> str:
    """'pid 1234 (exit code -9)' style text for error messages."""
    if isinstance(peer, subprocess.Popen):
        code = peer.returncode
        return f"pid {peer.pid}" + (f" (exit code {code})" if code is not None else "")
    return f"pid {int(peer)}"
