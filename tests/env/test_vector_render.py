"""render() of the vector environments: gymnasium's tuple of num_envs frames from real rendering
engines (an engine's agents share its frame), None for render_mode "human"/None, and a clear
refusal from engines that render nothing or are busy."""

from __future__ import annotations

import numpy as np
import pytest
from env_testutil import CARTPOLE, TRIVIAL

from godot_aigym.env import GodotAsyncVectorEnv, GodotVectorEnv
from godot_aigym.env.protocol import GodotEnvError


@pytest.mark.parametrize("cls", [GodotVectorEnv, GodotAsyncVectorEnv])
def test_rgb_array_gives_one_frame_per_sub_environment(demo, no_leaks, cls):
    env = cls(demo, CARTPOLE, n_agents=2, n_engines=2, render_mode="rgb_array", rendering=True)
    try:
        env.reset(seed=0)
        frames = env.render()
        assert isinstance(frames, tuple) and len(frames) == env.num_envs == 4
        for f in frames:
            assert f.shape == (64, 64, 3) and f.dtype == np.uint8
        assert frames[0] is frames[1] and frames[2] is frames[3]  # one engine, one window
        assert frames[1] is not frames[2]
        assert len(np.unique(frames[0].reshape(-1, 3), axis=0)) >= 3  # background, cart, pole
    finally:
        env.close()


@pytest.mark.parametrize("cls", [GodotVectorEnv, GodotAsyncVectorEnv])
def test_headless_engines_are_refused_and_other_modes_give_none(demo, no_leaks, cls):
    for mode in (None,):  # "human": the engines' own windows, also None (not run: it needs a display)
        with_mode = cls(demo, TRIVIAL, n_agents=2, n_engines=2, render_mode=mode, rendering=False)
        try:
            with_mode.reset(seed=0)
            assert with_mode.render() is None
        finally:
            with_mode.close()
    env = cls(demo, TRIVIAL, n_agents=2, n_engines=2, render_mode="rgb_array")
    try:
        env.reset(seed=0)
        with pytest.raises(GodotEnvError, match=rf"^{cls.__name__}\.render\(\) needs engines that render: "
                                                "create it with rendering=True"):
            env.render()
        env.step(np.zeros((2 if cls is GodotAsyncVectorEnv else 4, 2), np.float32))  # still usable
    finally:
        env.close()


def test_async_render_needs_idle_engines(demo, no_leaks):
    env = GodotAsyncVectorEnv(demo, CARTPOLE, n_agents=1, n_engines=2, render_mode="rgb_array", rendering=True)
    try:
        env.reset(seed=0)
        env.send(np.zeros((1,), np.int64), [1])
        with pytest.raises(RuntimeError, match=r"^render\(\) needs every engine idle: engines \[1\]"):
            env.render()
        env.recv()
        assert len(env.render()) == 2
    finally:
        env.close()


def test_sync_render_between_step_async_and_step_wait_is_refused(demo, no_leaks):
    # a RENDER posted while a STEP is in flight would overwrite its header: refused, the step intact
    env = GodotVectorEnv(demo, TRIVIAL, n_agents=2, n_engines=2, render_mode="rgb_array", rendering=True)
    try:
        env.reset(seed=0)
        env.step(np.full((4, 2), 0.25, np.float32))
        env.step_async(np.full((4, 2), 0.75, np.float32))
        with pytest.raises(RuntimeError, match=r"^render\(\) between step_async\(\) and step_wait\(\)"):
            env.render()
        obs, *_ = env.step_wait()
        assert (obs[:, 0] == 0.75).all() and (obs[:, 1] == 0.75).all()
        assert len(env.render()) == 4
    finally:
        env.close()
