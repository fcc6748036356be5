"""Where rendering engines run: cpus="auto" pins no rendering engine (pinned to one CPU, its main
thread and X11 event thread took turns on that CPU with whatever else ran there, ~6.5 ms per
one-camera step instead of ~1 ms: docs/RENDERING.md), while CPUs the user names are still used.
Real engines under the host's Xvfb; the CPUs are read back from the engines' own affinity.
That "auto" leaves two rendering engines unpinned is checked on the two engines of
test_shader_cache.py (the same start: two Reach engines, one agent each, default cpus)."""

from __future__ import annotations

import os

from godot_aigym.env import GodotVectorEnv
from godot_aigym.env import placement
from godot_aigym.env.placement import RENDER_HOST_SPIN_US

REACH = "res://envs/reach/reach.tscn"


def _engine_cpus(envs: GodotVectorEnv) -> list[set[int]]:
    return [os.sched_getaffinity(link.proc.popen.pid) for link in envs.links]


def test_cpus_the_user_names_still_pin_a_rendering_engine(display, monkeypatch):
    cpu = max(os.sched_getaffinity(0))
    monkeypatch.setattr(placement, "foreign_engines", lambda: [])  # no other host's engines (test workers')
    envs = GodotVectorEnv(scene=REACH, n_agents=1, n_engines=1, rendering=True, cpus=[cpu])
    try:
        assert _engine_cpus(envs) == [{cpu}]
        # a frame takes milliseconds: the host spins a whole frame for a rendering engine's answer
        # when a CPU is free for it (here: one engine, nobody else's), pinned or not
        # (placement.spin_budgets, unit-tested in tests/env/test_placement.py), and its semaphore
        # waits with that budget
        link = envs.links[0]
        free_cpu = len(os.sched_getaffinity(0)) >= 2
        assert link.spin_us == (float(RENDER_HOST_SPIN_US) if free_cpu else 0.0)
        assert link._sem_obs.spin_us == link.spin_us
    finally:
        envs.close()
    # another host's engine and its host fill the CPUs: the host blocks at once for the frame
    monkeypatch.setattr(placement, "foreign_engines", lambda: [[None] * len(os.sched_getaffinity(0))])
    envs = GodotVectorEnv(scene=REACH, n_agents=1, n_engines=1, rendering=True, cpus=[cpu])
    try:
        assert envs.links[0].spin_us == 0.0 and envs.links[0]._sem_obs.spin_us == 0.0
    finally:
        envs.close()
