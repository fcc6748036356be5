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
# Only when something is broken (threads that never block); the search ends on what it sees.
SAFETY_TIMEOUT = 30.0
_QUIET_SAMPLES = 2  # samples with every thread blocked elsewhere that prove there is no event thread


def _syscall(pid: int, tid: int | str) -> int | None:
    """The system call thread ``tid`` is blocked in, or None while it runs (on a CPU, or preempted
    outside a system call); -1 when the thread ended. PermissionError when /proc does not tell us."""
    try:
        with open(f"/proc/{pid}/task/{tid}/syscall") as f:  # readable by the engine's parent (ptrace rules)
            nr = f.read().split(" ", 1)[0]
    except PermissionError:
        raise
    except OSError:
        return -1
    return int(nr) if nr.isdigit() else None  # "running", or "-1 sp pc" (runnable in user space)


def find_x11_event_thread(pid: int, timeout: float = SAFETY_TIMEOUT) -> int | None:
    """The thread id of Godot process ``pid``'s X11 event thread: the only thread (not the main
    thread) that blocks in ``select()``, seen there in two samples.

    The search ends on what it sees, not on a time: None at once when the engine is gone, /proc
    does not show its threads' system calls, or a second thread was seen in ``select()`` (then
    "the only one" does not hold); None when, in two samples, every thread, the main thread
    included, was blocked and none in ``select()`` (no X11 event thread: e.g. a headless engine);
    the two samples are consecutive and the thread list did not change between them.
    Godot creates the thread with its display server, before any script runs, and it waits in
    ``select()`` whenever it is not reading an event. ``timeout`` only fires when threads never
    settle (something is broken)."""
    calls = _SELECT_CALLS.get(platform.machine().lower())
    if not calls:
        return None
    deadline = time.monotonic() + timeout
    seen: set[int] = set()  # every thread seen in select()
    repeat: int | None = None
    quiet = 0  # consecutive quiet samples over one unchanged thread list
    previous: list[int] | None = None
    while True:
        try:
            tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task") if t != str(pid))
        except OSError:
            return None  # the engine is gone
        if tids != previous:
            quiet = 0  # threads still come and go: a new one may not have reached select() yet
            previous = tids
        try:
            main = _syscall(pid, pid)
            states = {t: _syscall(pid, t) for t in tids}
        except PermissionError:
            return None  # e.g. ptrace restricted to administrators (yama ptrace_scope 2)
        if main == -1:
            return None  # the engine is gone
        found = [t for t, nr in states.items() if nr in calls]
        seen.update(found)
        if len(seen) > 1:
            return None  # more than one thread waits in select(): not ours to guess which
        if found:
            if found[0] == repeat:
                return repeat
            repeat = found[0]
        elif not seen and main is not None and all(nr is not None for nr in states.values()):
            quiet += 1  # everyone blocked, nobody in select()
            if quiet >= _QUIET_SAMPLES:
                return None
        else:
            quiet = 0  # the verdict needs consecutive quiet samples
        if time.monotonic() > deadline:
            return None
        time.sleep(0.0005)  # let the threads move on between samples


def lower_x11_event_thread(pid: int, timeout: float = SAFETY_TIMEOUT) -> int | None:
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
