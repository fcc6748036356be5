"""GodotGroupEnv's routing over the padded rows, in milliseconds: the protocol-level fake engine
(tests/env/fake_engine.py, the trivial rules over real shared memory) declares two groups on its
rows -- "wide" (obs 4, Box(2) actions) and "narrow" (obs 3, Box(1): its second action float is
padding, so it reads 0) -- and two engines run side by side."""

from __future__ import annotations

import numpy as np
import pytest
from fake_engine import FakeEngine
from ma_testutil import DEMO

from godot_aigym.env import protocol as P
from godot_aigym.multiagent import GodotGroupEnv

TRIVIAL = "res://envs/trivial/trivial.tscn"


def box(n, lo=None, hi=None):
    return {"type": "box", "shape": [n], "low": [lo] * n, "high": [hi] * n, "dtype": "float32"}


def group_spec(copies: int) -> dict:
    # the trivial rows: 4 observation floats, 2 action floats per agent; copies = 2 + 2 agents
    return {"copies": copies, "observation": {**box(4), "type": P.GROUPS_TYPE},
            "action": {**box(2, -1.0, 1.0), "type": P.GROUPS_TYPE},
            "groups": [{"name": "wide", "policy": "p", "offset": 0, "n_agents": copies // 2, "agents_per_copy": 1,
                        "observation": box(4), "action": box(2, -1.0, 1.0), "action_width": 2},
                       {"name": "narrow", "policy": "p", "offset": copies // 2, "n_agents": copies // 2,
                        "agents_per_copy": 1, "observation": box(3), "action": box(1, -1.0, 1.0), "action_width": 1}]}


@pytest.fixture
def env():
    env = GodotGroupEnv(DEMO, TRIVIAL, n_copies=4, n_engines=2, autoreset_mode="same_step",
                        launcher=FakeEngine(spec_overrides=group_spec(4)), cpus=None)
    yield env
    env.close()


def test_actions_reach_their_agents_rows_and_observations_come_back_sliced(env):
    assert env.n_group_agents == {"wide": 4, "narrow": 4} and env.policies == {"wide": "p", "narrow": "p"}
    obs = env.reset(seed=1)
    assert obs["wide"].shape == (4, 4) and obs["narrow"].shape == (4, 3)
    wide = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8]], np.float32)  # engine 0: rows 0-1, engine 1: 2-3
    narrow = np.array([[-0.1], [-0.2], [-0.3], [-0.4]], np.float32)
    obs, rew, term, trunc = env.step({"wide": wide, "narrow": narrow})
    np.testing.assert_array_equal(obs["wide"][:, :2], wide)
    np.testing.assert_allclose(obs["wide"][:, 2], wide.sum(axis=1), rtol=1e-6)
    np.testing.assert_array_equal(obs["narrow"][:, 0], narrow[:, 0])
    np.testing.assert_array_equal(obs["narrow"][:, 1], 0)  # the padding of narrow's action row
    np.testing.assert_allclose(rew["wide"], wide[:, 0] - 0.5 * wide[:, 1], rtol=1e-6)
    np.testing.assert_allclose(rew["narrow"], narrow[:, 0], rtol=1e-6)
    assert rew["wide"].dtype == np.float64 and term["narrow"].dtype == np.bool_ and not trunc["wide"].any()


def test_masks_reach_the_right_engine_and_rows(env):
    env.reset(seed=2)
    moved = env.step({"wide": np.full((4, 2), 0.5, np.float32), "narrow": np.full((4, 1), 0.5, np.float32)}).obs
    obs = env.reset(mask={"narrow": np.array([False, False, False, True])})  # engine 1's second narrow agent
    np.testing.assert_array_equal(obs["wide"], moved["wide"])
    np.testing.assert_array_equal(obs["narrow"][:3], moved["narrow"][:3])
    assert obs["narrow"][3, 2] == 0 and moved["narrow"][3, 2] != 0  # restarted: its sum is 0 again


def test_same_step_final_observations_per_group(env):
    env.reset(seed=3)
    step = None
    for _ in range(10):  # wide's sums reach 10 after 5 steps of (1, 1): terminated, restarted at once
        step = env.step({"wide": np.ones((4, 2), np.float32), "narrow": np.zeros((4, 1), np.float32)})
        if step.terminated["wide"].any():
            break
    assert step.terminated["wide"].all() and not step.terminated["narrow"].any()
    np.testing.assert_array_equal(step.final_obs["wide"][:, 2], 10)  # the last observation kept
    np.testing.assert_array_equal(step.obs["wide"][:, 2], 0)         # the first of the next episode
    assert step.final_obs["narrow"].shape == (4, 3)
