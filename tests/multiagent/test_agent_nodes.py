"""Agent-node groups (GymAgentGroup.agent_scene, the GymEnv agent callbacks) on a plain
GymGroupEnv: Discrete and MultiDiscrete groups, several agents per copy, a shared policy name."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from godot_aigym.multiagent import GodotGroupEnv, GodotParallelEnv


def test_agent_node_groups_step_exactly(test_project, no_leaks):
    with GodotGroupEnv(test_project, "res://multiagent/agent_nodes.tscn", n_copies=2, seed=3,
                       autoreset_mode="disabled") as env:
        assert env.n_group_agents == {"left": 4, "right": 2}  # agents_per_copy x copies
        assert env.env_spec.n_agents == 6 and env.env_spec.copies == 2
        assert env.policies == {"left": "shared", "right": "shared"}
        assert env.action_spaces == {"left": spaces.Discrete(3), "right": spaces.MultiDiscrete([2, 3])}
        obs = env.reset()
        values = {g: o[:, 0].copy() for g, o in obs.items()}
        assert (obs["left"] == values["left"][:, None]).all() and obs["right"].shape == (2, 3)
        for t in range(3):
            left = np.array([0, 1, 2, 1])
            right = np.array([[1, 2], [0, 1]])
            obs, rew, term, trunc = env.step({"left": left, "right": right})
            values["left"] += left
            values["right"] += right[:, 0] + 10 * right[:, 1]
            for g in values:
                np.testing.assert_array_equal(obs[g], np.repeat(values[g][:, None], obs[g].shape[1], 1))
                np.testing.assert_array_equal(rew[g], values[g])
                np.testing.assert_array_equal(term[g], values[g] >= 20)


def test_agent_node_groups_pass_the_parallel_api_test(test_project, no_leaks):
    from pettingzoo.test import parallel_api_test
    env = GodotParallelEnv(test_project, "res://multiagent/agent_nodes.tscn", seed=1)
    try:
        assert env.possible_agents == ["left_0", "left_1", "right_0"]
        parallel_api_test(env, num_cycles=30)
    finally:
        env.close()
