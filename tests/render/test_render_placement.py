"""Where rendering engines run: cpus="auto" pins no rendering engine (pinned to one CPU, its main
thread and X11 event thread took turns on that CPU with whatever else ran there, ~6.5 ms per
one-camera step instead of ~1 ms: docs/RENDERING.md), while CPUs the user names are still used.
Real engines under the host's Xvfb; the CPUs are read back from the engines' own affinity.
That "auto" leaves two rendering engines unpinned is checked on the two engines of
test_shader_cache.py (the same start: two Reach engines, one agent each, default cpus)."""

from __future__ import annotations

import os

from godot_aigym.env import GodotVectorEnv

REACH = "res://envs/reach/reach.tscn"


def _engine_cpus(envs: GodotVectorEnv) -> list[set[int]]:
    return [os.sched_getaffinity(link.proc.popen.pid) for link in envs.links]


def test_cpus_the_user_names_still_pin_a_rendering_engine(display):
    cpu = max(os.sched_getaffinity(0))
    envs = GodotVectorEnv(scene=REACH, n_agents=1, n_engines=1, rendering=True, cpus=[cpu])
    try:
        assert _engine_cpus(envs) == [{cpu}]
        # a frame takes milliseconds: the host blocks at once for a rendering engine's answer, pinned
        # or not (placement.spin_budgets); the engine's own budget is a pinned one's
        assert envs.links[0].spin_us == 0.0 and envs.links[0]._sem_obs.spin_us == 0.0
    finally:
        envs.close()
