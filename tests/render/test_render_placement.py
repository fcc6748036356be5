"""Where rendering engines run: cpus="auto" pins no rendering engine (pinned to one CPU, its main
thread and X11 event thread took turns on that CPU with whatever else ran there, ~6.5 ms per
one-camera step instead of ~1 ms: docs/RENDERING.md), while CPUs the user names are still used.
Real engines under the host's Xvfb; the CPUs are read back from the engines' own affinity."""

from __future__ import annotations

import os

from godot_aigym.env import GodotVectorEnv

REACH = "res://envs/reach/reach.tscn"


def _engine_cpus(envs: GodotVectorEnv) -> list[set[int]]:
    return [os.sched_getaffinity(link.proc.popen.pid) for link in envs.links]


def test_auto_leaves_rendering_engines_unpinned(display):
    envs = GodotVectorEnv(scene=REACH, n_agents=1, n_engines=2, rendering=True)
    try:
        assert [link.cpus for link in envs.links] == [None, None]
        assert _engine_cpus(envs) == [os.sched_getaffinity(0)] * 2
        envs.reset(seed=0)
        obs, *_ = envs.step(envs.action_space.sample())
        assert obs["camera"].shape == (2, 42, 42, 3)
    finally:
        envs.close()


def test_cpus_the_user_names_still_pin_a_rendering_engine(display):
    cpu = max(os.sched_getaffinity(0))
    envs = GodotVectorEnv(scene=REACH, n_agents=1, n_engines=1, rendering=True, cpus=[cpu])
    try:
        assert _engine_cpus(envs) == [{cpu}]
    finally:
        envs.close()

