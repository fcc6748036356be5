"""A rendering engine's X11 event thread runs at nice 19: spinning on replies meant for the main
thread, it took as much CPU as the main thread on a loaded machine (display/event_thread.py,
docs/RENDERING.md). Real engines under the host's Xvfb; priorities read back from the kernel."""

from __future__ import annotations

import os

from godot_aigym.display.event_thread import LOWEST, find_x11_event_thread
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
