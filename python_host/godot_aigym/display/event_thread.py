"""Godot's X11 event thread runs at the lowest priority, so its spinning cannot take a CPU from the engine.

Godot's X11 display server reads X events in a thread of its own (``DisplayServerX11::_poll_events``):
``select()`` on the X connection, then ``XCheckIfEvent`` under its events mutex. Every reply to the
main thread's round trips (about four per frame: the minimised-window check before drawing, and
Mesa's GetGeometry and ShmPutImage + sync when the frame is presented) also makes the socket
readable, but XCB lets only the thread waiting for a reply read it: until the main thread runs,
that thread's ``select()`` returns at once and it spins, holding the locks the main thread needs
next. On a loaded 2-CPU machine it burnt as much CPU as the main thread (1.1-1.2 ms per frame vs
1.1-1.5 ms, one 84x84 camera) and one camera rendered 140-220 images/s; at nice 19 the same loop
ran at 530-630 (docs/RENDERING.md, "The X11 event thread").

At nice 19 (weight 15 against the main thread's 1024) a main thread woken by its reply preempts it
at once, and it still gets a share of the CPU, so it never holds the locks for long (SCHED_IDLE did
as well in one camera's loop but can starve under load while it holds a lock the main thread
wants). It still reads every event; an env's engine needs no input. Only engines on the host's
private X server get it (``rendering=True``); a window on the user's display
(``render_mode="human"``) keeps its event thread as it is.
Set ``AIGYM_X11_EVENT_THREAD=normal`` to leave the thread alone (for A/B measurements).
"""

from __future__ import annotations

import os
import platform
import time

# the system calls glibc's select() enters: select and pselect6 (x86-64), pselect6 (arm64)
_SELECT_CALLS = {"x86_64": {23, 270}, "amd64": {23, 270}, "aarch64": {72}, "arm64": {72}}
LOWEST = 19  # nice
FIND_TIMEOUT = 2.0  # only when the engine has no X11 event thread (it is created before any script runs)


def _in_select(pid: int, tid: str, calls: set[int]) -> bool:
    """Whether thread ``tid`` is in select() now; PermissionError when /proc does not tell us."""
    try:
        with open(f"/proc/{pid}/task/{tid}/syscall") as f:  # readable by the engine's parent (ptrace rules)
            nr = f.read().split(" ", 1)[0]
    except PermissionError:
        raise
    except OSError:
        return False  # the thread ended
    return nr.isdigit() and int(nr) in calls


def find_x11_event_thread(pid: int, timeout: float = FIND_TIMEOUT) -> int | None:
    """The thread id of Godot process ``pid``'s X11 event thread: the one (not the main thread)
    blocked in ``select()``, the only one there in two samples (not necessarily consecutive ones).
    None when there is none within ``timeout`` (a headless engine, an engine that exited, /proc not
    readable, or more than one other thread in ``select()``: then the whole ``timeout`` is spent)."""
    calls = _SELECT_CALLS.get(platform.machine().lower())
    if not calls:
        return None
    deadline = time.monotonic() + timeout
    seen: int | None = None
    while True:
        try:
            tids = [t for t in os.listdir(f"/proc/{pid}/task") if t != str(pid)]
        except OSError:
            return None  # the engine is gone
        try:
            found = [int(t) for t in tids if _in_select(pid, t, calls)]
        except PermissionError:
            return None  # e.g. ptrace restricted to administrators (yama ptrace_scope 2)
        if len(found) == 1:
            if found[0] == seen:
                return seen
            seen = found[0]
        if time.monotonic() > deadline:
            return None
        time.sleep(0.0005)  # the thread is in select() most of the time: a few samples find it


def lower_x11_event_thread(pid: int, timeout: float = FIND_TIMEOUT) -> int | None:
    """Gives Godot process ``pid``'s X11 event thread the lowest priority (nice 19); its thread id,
    or None when it was not found or could not be changed (nothing else changes then)."""
    if os.environ.get("AIGYM_X11_EVENT_THREAD") == "normal":
        return None
    tid = find_x11_event_thread(pid, timeout)
    if tid is None:
        return None
    try:
        os.setpriority(os.PRIO_PROCESS, tid, LOWEST)  # a thread id names that thread alone (Linux)
    except OSError:
        return None
    return tid
