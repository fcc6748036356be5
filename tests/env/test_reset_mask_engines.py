"""A reset_mask that selects no agent of an engine leaves that engine alone. The protocol's masked
count 0 means "every agent", so a mask with nothing for engine k used to reset ALL of engine k's
agents (EngineLink.send_reset now sends nothing then and says so). Fake engines: milliseconds."""

from __future__ import annotations

import numpy as np
from env_testutil import DEMO, TRIVIAL
from fake_engine import FakeEngine

from godot_aigym.env import GodotVectorEnv


def test_a_mask_selecting_one_engines_agents_leaves_the_other_engine_alone():
    env = GodotVectorEnv(DEMO, TRIVIAL, n_agents=2, n_engines=2, launcher=FakeEngine(), cpus=None,
                         autoreset_mode="Disabled")
    try:
        env.reset(seed=1)
        moved, *_ = env.step(np.full((4, 2), 0.5, np.float32))
        obs, _ = env.reset(options={"reset_mask": np.array([False, False, False, True])})
        np.testing.assert_array_equal(obs[:3], moved[:3])   # engine 0 and agent 2 kept their state
        assert obs[3, 3] == 0 and moved[3, 3] == 1           # agent 3 restarted (tick count 0)
        obs, _ = env.reset(options={"reset_mask": np.zeros(4, bool)})  # nobody: no engine is asked
        np.testing.assert_array_equal(obs[:3], moved[:3])
        env.step(np.zeros((4, 2), np.float32))  # the engines still answer in step
    finally:
        env.close()
