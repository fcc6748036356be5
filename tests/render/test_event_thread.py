"""A rendering engine's X11 event thread runs at nice 19: spinning on replies meant for the main
thread, it took as much CPU as the main thread on a loaded machine (display/event_thread.py,
docs/RENDERING.md). Real engines under the host's Xvfb; priorities read back from the kernel."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import platform
import threading
import time

from godot_aigym.display import event_thread
from godot_aigym.display.event_thread import _SELECT_CALLS, LOWEST, _syscall, find_x11_event_thread
from godot_aigym.env import GodotVectorEnv

REACH = "res://envs/reach/reach.tscn"


def _nice_by_thread(pid: int) -> dict[int, int]:
    return {int(t): os.getpriority(os.PRIO_PROCESS, int(t)) for t in os.listdir(f"/proc/{pid}/task")}


def _name(pid: int, tid: int) -> str:
    with open(f"/proc/{pid}/task/{tid}/comm") as f:
        return f.read().strip()


def test_a_rendering_engines_x11_event_thread_gets_the_lowest_priority(display):
    envs = GodotVectorEnv(scene=REACH, n_agents=2, rendering=True)
    try:
        pid = envs.links[0].proc.popen.pid
        own = os.getpriority(os.PRIO_PROCESS, 0)
        nice = _nice_by_thread(pid)
        event_thread = find_x11_event_thread(pid)
        assert event_thread is not None and nice[event_thread] == LOWEST
        # no other thread: the main thread keeps the host's priority; Mesa's disk-cache thread lowers its own
        others = {tid: _name(pid, tid) for tid, value in nice.items() if value == LOWEST and tid != event_thread}
        assert all(name.startswith("godot:disk$") for name in others.values()), others
        assert nice[pid] == own
        envs.reset(seed=0)
        obs, *_ = envs.step(envs.action_space.sample())
        assert obs["camera"].shape == (2, 42, 42, 3) and obs["camera"].any()
    finally:
        envs.close()


def test_the_event_thread_is_left_alone_when_asked(display, monkeypatch):
    monkeypatch.setenv("AIGYM_X11_EVENT_THREAD", "normal")
    envs = GodotVectorEnv(scene=REACH, n_agents=1, rendering=True)
    try:
        pid = envs.links[0].proc.popen.pid
        own = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, find_x11_event_thread(pid)) == own
    finally:
        envs.close()


# -- the search ends on what it sees (no engine needed: small processes of our own) ----------------
_CHILD = """
import select, sys, threading, time
def in_select():
    select.select([], [], [], 3600)
def blocked():
    threading.Event().wait()
threads = [threading.Thread(target=f, daemon=True) for f in {targets}]
for t in threads:
    t.start()
print(" ".join(str(t.native_id) for t in threads), flush=True)
time.sleep(3600)
"""


def _search_in_child(targets: str, ready=lambda pid, tids: None) -> tuple[list[int], int | None]:
    """Starts a process whose threads run ``targets``; (their ids, what the search returned).
    The search has no time limit here: it must end on what it sees (a safety join only)."""
    proc = subprocess.Popen([sys.executable, "-c", _CHILD.format(targets=targets)], stdout=subprocess.PIPE, text=True)
    try:
        tids = [int(t) for t in proc.stdout.readline().split()]
        ready(proc.pid, tids)
        out: list = []
        search = threading.Thread(target=lambda: out.append(find_x11_event_thread(proc.pid, timeout=math.inf)),
                                  daemon=True)
        search.start()
        search.join(SAFETY)
        assert not search.is_alive(), "the search did not end on what it saw"
        return tids, out[0]
    finally:
        proc.kill()
        proc.wait()


SAFETY = 120.0  # only when the search is broken


def _wait_in_select(pid: int, tid: int) -> None:
    """Returns once thread ``tid`` is blocked in select() (the child prints the ids before its
    threads got there); the deadline is a safety net only."""
    deadline = time.monotonic() + SAFETY
    while _syscall(pid, tid) not in _SELECT_CALLS[platform.machine().lower()]:
        assert time.monotonic() < deadline, f"thread {tid} never reached select()"
        time.sleep(0.001)


def test_the_one_thread_in_select_is_found():
    tids, found = _search_in_child("[blocked, in_select, blocked]", ready=lambda pid, tids: _wait_in_select(pid, tids[1]))
    assert found == tids[1]


def test_no_thread_verdict_needs_quiet_samples_over_a_settled_thread_list(monkeypatch):
    """'No event thread' needs consecutive quiet samples over one thread list: a new thread blocked
    on its way to select() (here: in another call first) must not end the search with None."""
    lists = iter([[1, 2], [1, 2, 3], [1, 2, 3], [1, 2, 3]])
    state = {"tids": [], "new_thread_samples": 0}
    in_select = min(_SELECT_CALLS[platform.machine().lower()])

    def listdir(path):
        state["tids"] = next(lists)
        return [str(t) for t in state["tids"]]

    def syscall(pid, tid):
        if tid == 3:
            state["new_thread_samples"] += 1
            return 202 if state["new_thread_samples"] == 1 else in_select  # futex first, then select()
        return 202  # blocked elsewhere

    monkeypatch.setattr(event_thread.os, "listdir", listdir)
    monkeypatch.setattr(event_thread, "_syscall", syscall)
    monkeypatch.setattr(event_thread.time, "sleep", lambda s: None)
    assert event_thread.find_x11_event_thread(99, timeout=math.inf) == 3


def test_no_thread_in_select_ends_the_search_with_none():
    assert _search_in_child("[blocked, blocked]")[1] is None


def test_two_threads_in_select_end_the_search_with_none():
    assert _search_in_child("[in_select, blocked, in_select]")[1] is None
