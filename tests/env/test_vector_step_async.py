"""`GodotVectorEnv.step_async` / `step_wait`: the split step returns what `step` returns, and
misuse or a failing engine raises our documented errors and leaves a defined state."""

from __future__ import annotations

import copy
import os
import signal

import numpy as np
import pytest
from env_testutil import CARTPOLE, TRIVIAL
from gymnasium.vector import AutoresetMode

from godot_aigym.env import GodotVectorEnv
from godot_aigym.shm.errors import EngineTimeoutError
from godot_aigym.shm import EngineDiedError

ZEROS = np.zeros((4, 2), np.float32)


@pytest.mark.parametrize("n", [1, 2], ids=["1-engine", "2-engines"])
def test_split_step_returns_what_step_returns(demo, n):
    """16 cart-poles on 1 or 2 engines (both code paths): the same seeded episode stepped, then
    split-stepped (a reset with a seed starts the same episodes: test_godot_env, test_vector_env)."""
    env = GodotVectorEnv(demo, CARTPOLE, n_agents=16 // n, n_engines=n, seed=5, autoreset_mode=AutoresetMode.SAME_STEP)
    try:
        runs = []
        for split in (False, True):
            env.reset(seed=3)
            env.action_space.seed(11)
            run = []
            for _ in range(300):  # long enough for episodes to end (final_obs infos compared too)
                actions = env.action_space.sample()
                if split:
                    assert env.step_async(actions) is None
                    result = env.step_wait()
                else:
                    result = env.step(actions)
                run.append(copy.deepcopy(result))  # kept past the next step
            runs.append(run)
    finally:
        env.close()
    ended = 0
    for a, b in zip(*runs):
        for x, y in zip(a[:4], b[:4]):
            assert x.dtype == y.dtype and np.array_equal(x, y)
        assert a[4].keys() == b[4].keys()
        if a[4]:
            ended += 1
            assert np.array_equal(a[4]["_final_obs"], b[4]["_final_obs"])
            for x, y in zip(a[4]["final_obs"], b[4]["final_obs"]):
                assert (x is None and y is None) or np.array_equal(x, y)
    assert ended > 0


def test_misuse_is_refused_and_the_env_stays_usable(demo):
    env = GodotVectorEnv(demo, TRIVIAL, n_agents=2, n_engines=2)
    try:
        with pytest.raises(RuntimeError, match="reset"):
            env.step_async(ZEROS)
        env.reset(seed=0)
        with pytest.raises(RuntimeError, match="step_wait\\(\\) without a step_async"):
            env.step_wait()
        with pytest.raises(ValueError):
            env.step_async(np.zeros((3, 2), np.float32))  # bad actions: nothing sent
        with pytest.raises(RuntimeError, match="step_wait\\(\\) without a step_async"):
            env.step_wait()
        env.step_async(ZEROS)
        for misuse in (lambda: env.step_async(ZEROS), lambda: env.step(ZEROS), lambda: env.reset(seed=0)):
            with pytest.raises(RuntimeError, match="call step_wait\\(\\) first"):
                misuse()
        obs, *_ = env.step_wait()  # the step sent is still collected
        assert obs.shape == (4, env.single_observation_space.shape[0])
        env.step(ZEROS)
        env.reset(seed=1)
        env.step_async(ZEROS)
    finally:
        env.close()  # with a step pending
    for call in (lambda: env.step_async(ZEROS), env.step_wait):
        with pytest.raises(RuntimeError, match="closed"):
            call()


def test_an_engine_death_in_step_wait_closes_the_env(demo, no_leaks):
    env = GodotVectorEnv(demo, TRIVIAL, n_agents=2, n_engines=2)
    env.reset(seed=0)
    handles = [link.handle for link in env.links]
    os.kill(env.engines[1].pid, signal.SIGKILL)
    with pytest.raises(EngineDiedError):
        for _ in range(1000):
            env.step_async(ZEROS)
            env.step_wait()
    assert not any(os.path.exists(f"/dev/shm/{h}") for h in handles)  # both engines stopped
    for call in (lambda: env.step_async(ZEROS), env.step_wait):
        with pytest.raises(RuntimeError, match="create a new GodotVectorEnv"):
            call()
    env.close()


@pytest.mark.parametrize("n_engines", [1, 2])
def test_a_hung_engine_times_out_in_step_wait(demo, no_leaks, n_engines):
    env = GodotVectorEnv(demo, TRIVIAL, n_agents=2, n_engines=n_engines, step_timeout=60)
    env.reset(seed=0)  # live engines' answers: under the generous timeout, however loaded the machine
    for link in env.links:
        assert link.step_timeout == 60
        link.step_timeout = 0.5  # only the hung command waits this short
    procs = env.engines
    os.kill(procs[0].pid, signal.SIGSTOP)  # alive, never answers
    try:
        env.step_async(np.zeros((env.num_envs, 2), np.float32))  # sending does not wait
        with pytest.raises(EngineTimeoutError, match="did not answer within 0.5 s"):
            env.step_wait()
        assert not any(p.alive() for p in procs)
        with pytest.raises(RuntimeError, match="create a new GodotVectorEnv"):
            env.step_wait()
    finally:
        for p in procs:
            if p.alive():
                os.kill(p.pid, signal.SIGKILL)
    env.close()
