"""Bad multi-agent configurations and inputs: clear errors on both sides, nothing left behind."""

from __future__ import annotations

import numpy as np
import pytest
from ma_testutil import RENDEZVOUS

from godot_aigym.env import GodotEnv, GodotEnvError, GodotVectorEnv
from godot_aigym.multiagent import GodotGroupEnv, GodotParallelEnv


@pytest.mark.parametrize("scene, message", [
    ("res://multiagent/duplicate_groups.tscn", "two agent groups are named 'team': group names must be unique"),
    ("res://multiagent/empty_group.tscn", "agent group 'Team' is empty: agents_per_copy must be >= 1, got 0"),
    ("res://multiagent/no_groups.tscn", "GymGroupEnv 'NoGroups' has no GymAgentGroup children"),
    ("res://multiagent/with_parts.tscn", "a GymGroupEnv's groups observe flat float boxes: observation_parts"),
    ("res://multiagent/bad_bounds_group.tscn", r"agent group 'Team': action_low\[0\] = 2(\.0)? is above action_high\[0\] = 1"),
])
def test_engine_refuses_bad_groups(test_project, scene, message, no_leaks):
    with pytest.raises(GodotEnvError, match="the environment reported an error: " + message):
        GodotGroupEnv(test_project, scene)


def test_engines_that_declare_different_groups_are_refused(test_project, no_leaks):
    with pytest.raises(GodotEnvError, match=r"engine 1 declares other agent groups than engine 0.*Team: 1 x obs Box"):
        GodotGroupEnv(test_project, "res://multiagent/seed_spaces.tscn", n_engines=2, seed=0)


def test_single_agent_envs_refuse_a_group_scene(no_leaks):
    with pytest.raises(GodotEnvError, match=r"has agent groups \['scout', 'runner'\]: use godot_aigym.multiagent"):
        GodotEnv(scene=RENDEZVOUS)
    with pytest.raises(GodotEnvError, match="has agent groups"):
        GodotVectorEnv(scene=RENDEZVOUS, n_agents=2)


def test_group_envs_refuse_a_scene_without_groups(no_leaks):
    with pytest.raises(GodotEnvError, match="has no agent groups"):
        GodotParallelEnv(scene="res://envs/trivial/trivial.tscn")


def test_bad_arguments_are_refused_before_anything_starts(no_leaks):
    with pytest.raises(ValueError, match="n_copies must be a positive integer"):
        GodotGroupEnv(scene=RENDEZVOUS, n_copies=0)
    with pytest.raises(ValueError, match="autoreset_mode must be one of"):
        GodotGroupEnv(scene=RENDEZVOUS, autoreset_mode="sometimes")
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        GodotGroupEnv(scene=RENDEZVOUS, n_agentz=2)
    for fixed in ({"n_engines": 2}, {"autoreset_mode": "same_step"}):  # was "got multiple values for keyword"
        with pytest.raises(TypeError, match=f"GodotParallelEnv takes no {next(iter(fixed))}: .*use GodotGroupEnv"):
            GodotParallelEnv(scene=RENDEZVOUS, **fixed)


def test_bad_actions_name_the_group_and_a_dead_engine_closes_the_env(no_leaks):
    from godot_aigym.shm import EngineDiedError

    env = GodotGroupEnv(scene=RENDEZVOUS, n_copies=2)
    try:
        with pytest.raises(RuntimeError, match="call reset"):
            env.step({})
        env.reset(seed=0)
        runner = np.zeros((2, 2), np.float32)
        with pytest.raises(ValueError, match=r"missing \['scout'\]"):
            env.step({"runner": runner})
        with pytest.raises(ValueError, match=r"unknown \['chaser'\]"):
            env.step({"scout": [0, 0], "runner": runner, "chaser": [0]})
        with pytest.raises(ValueError, match="agent group 'scout'.*outside the action space Discrete"):
            env.step({"scout": [0, 5], "runner": runner})
        with pytest.raises(ValueError, match="agent group 'runner'.*outside the action space Box"):
            env.step({"scout": [0, 0], "runner": runner + 2})
        with pytest.raises(ValueError, match="actions must map each group"):
            env.step([0, 0])
        env.step({"scout": [0, 0], "runner": runner})  # still usable
        env.links[0].proc.popen.kill()  # then its engine dies
        with pytest.raises(EngineDiedError):
            env.step({"scout": [0, 0], "runner": runner})
        with pytest.raises(RuntimeError, match="an engine failed"):
            env.reset()
    finally:
        env.close()
    with pytest.raises(RuntimeError, match="closed"):
        env.reset()


def test_more_agents_than_an_engine_holds_names_copies_and_groups(no_leaks):
    # rendezvous: 2 agents per copy; was the engine's "n_agents must be 1..100000, got 120000"
    with pytest.raises(GodotEnvError, match=r"60000 copies x 2 agents per copy = 120000 agents, more than an engine's "
                                            r"100000: fewer copies per engine \(n_copies\), more engines"):
        GodotGroupEnv(scene=RENDEZVOUS, n_copies=60000)
