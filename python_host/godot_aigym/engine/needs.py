"""Stop an engine when a process it cannot run without exits.

A rendering engine whose X server dies does not exit: it hangs in Xlib, and its host would
only find out when a step times out (120 s by default). `stop_when_gone` watches the needed
processes on pidfds from a daemon thread (no polling: the thread sleeps until one of them or
the engine exits) and SIGKILLs the engine at once, so the host's next wait slice reports the
engine's death; the reason is written into the engine's log, which the host's error quotes.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import threading
from typing import Sequence

Need = tuple[int, str]  # (pid, what it is for the message, e.g. "its X server (display :3)")


def _open(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        return None  # already gone (and reaped)


def stop_when_gone(engine: subprocess.Popen, needs: Sequence[Need], log_fd: int | None) -> None:
    """SIGKILL ``engine`` as soon as one of ``needs`` exits (at once if one is already gone)."""
    needs = [(pid, what) for pid, what in needs if pid > 0]  # -1: no process (nothing to watch)
    if not needs:
        return
    engine_fd = os.pidfd_open(engine.pid)  # our unreaped child: this is that very process
    log_fd = os.dup(log_fd) if log_fd is not None else None  # ours: the caller may close its fd any time
    watched: dict[int, Need] = {}
    for pid, what in needs:
        fd = _open(pid)
        if fd is None:
            _stop(engine_fd, (pid, what), log_fd)
            for other in (*watched, engine_fd, *([log_fd] if log_fd is not None else [])):
                os.close(other)
            return
        watched[fd] = (pid, what)
    threading.Thread(target=_watch, args=(engine_fd, watched, log_fd), daemon=True,
                     name=f"aigym-engine-needs-{engine.pid}").start()


def _watch(engine_fd: int, watched: dict[int, Need], log_fd: int | None) -> None:
    try:
        ready, _, _ = select.select([engine_fd, *watched], [], [])
        gone = [fd for fd in ready if fd != engine_fd]
        if engine_fd not in ready and gone:
            _stop(engine_fd, watched[gone[0]], log_fd)
    finally:
        for fd in (engine_fd, *watched, *([log_fd] if log_fd is not None else [])):
            os.close(fd)


def _stop(engine_fd: int, need: Need, log_fd: int | None) -> None:
    pid, what = need
    if log_fd is not None:
        try:
            os.write(log_fd, f"\ngodot-aigym: {what} (pid {pid}) exited; the engine cannot run without it "
                             "and was stopped\n".encode())
        except OSError:
            pass  # the log was already closed: the host is stopping the engine anyway
    try:
        signal.pidfd_send_signal(engine_fd, signal.SIGKILL)
    except ProcessLookupError:
        pass
