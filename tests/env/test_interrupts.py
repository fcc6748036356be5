"""An interrupt (KeyboardInterrupt) in the middle of a command may leave an engine's answer
untaken: the next command would read it as its own, a stale observation with no error. The
environments close instead and say why; nothing is left behind."""

from __future__ import annotations

import numpy as np
import pytest
from env_testutil import TRIVIAL

from godot_aigym.env import GodotEnv, GodotVectorEnv


def _interrupt(*_args, **_kwargs):
    raise KeyboardInterrupt


def test_an_interrupted_step_closes_the_env(demo, no_leaks):
    env = GodotEnv(demo, TRIVIAL, seed=0)
    try:
        env.reset(seed=0)
        send, step = env._link.send_step, env._step
        env._step = lambda action, autoreset=0: (send(action, autoreset), _interrupt())  # posted, answer untaken
        with pytest.raises(KeyboardInterrupt):
            env.step(np.array([0.5, 0.25], np.float32))
        env._step = step  # (without the closing, the next step would take the untaken answer as its own)
        with pytest.raises(RuntimeError, match=r"^the environment is closed because a command was interrupted "
                                               r"\(KeyboardInterrupt\): its engine's answer is unknown"):
            env.step(np.array([0.5, 0.25], np.float32))
    finally:
        env.close()


def test_an_interrupted_vector_step_closes_the_env(demo, no_leaks):
    env = GodotVectorEnv(demo, TRIVIAL, n_agents=2, n_engines=2, seed=0)
    try:
        env.reset(seed=0)
        env._relay_step = None  # every post, then every wait, one by one
        receives = env._receives
        env._receives = [receives[0], _interrupt]  # engine 0's answer taken, engine 1's not
        with pytest.raises(KeyboardInterrupt):
            env.step(np.full((4, 2), 0.5, np.float32))
        env._receives = receives
        with pytest.raises(RuntimeError, match=r"^the vector environment is closed because a command was "
                                               r"interrupted \(KeyboardInterrupt\)"):
            env.step(np.full((4, 2), 0.25, np.float32))
        with pytest.raises(RuntimeError, match="interrupted"):
            env.reset(seed=0)
    finally:
        env.close()
