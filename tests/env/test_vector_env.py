"""GodotVectorEnv: N agents in one engine x M engines, batched values, autoreset modes, seeds."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
from env_testutil import CARTPOLE, TRIVIAL
from gymnasium.vector import AutoresetMode

from godot_aigym.env import GodotVectorEnv
from godot_aigym.shm import CorruptedSemaphore, EngineDiedError


def distinct_actions(n: int) -> np.ndarray:
    """Per-agent actions that never terminate the trivial env (sum of a step stays < 0.3)."""
    a0 = np.linspace(-0.9, 0.1, n, dtype=np.float32)
    a1 = np.linspace(0.1, -0.2, n, dtype=np.float32)
    return np.stack([a0, a1], axis=1)


@pytest.fixture(scope="module")
def venv(demo):
    env = GodotVectorEnv(demo, TRIVIAL, n_agents=3, n_engines=2, seed=100)
    yield env
    env.close()


def test_shapes_and_batched_values(venv):
    assert venv.num_envs == 6 and venv.n_agents == 3 and venv.n_engines == 2
    assert venv.single_observation_space.shape == (4,)
    assert venv.observation_space.shape == (6, 4)
    assert venv.action_space.shape == (6, 2)
    assert venv.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    obs, info = venv.reset(seed=1)
    assert obs.shape == (6, 4) and obs.dtype == np.float32 and info == {}
    assert np.all(obs[:, 2:] == 0)
    acts = distinct_actions(6)
    obs, rew, term, trunc, info = venv.step(acts)
    assert rew.shape == (6,) and term.dtype == np.bool_ and trunc.dtype == np.bool_
    np.testing.assert_array_equal(obs[:, :2], acts)
    np.testing.assert_allclose(obs[:, 2], acts.sum(axis=1), rtol=1e-6)
    np.testing.assert_array_equal(obs[:, 3], 1)
    np.testing.assert_allclose(rew, acts[:, 0] - 0.5 * acts[:, 1], rtol=1e-6)
    obs2, *_ = venv.step(acts)
    np.testing.assert_allclose(obs2[:, 2], 2 * acts.sum(axis=1), rtol=1e-6)
    assert not np.shares_memory(obs, obs2)


def test_engines_are_seeded_differently(venv, demo):
    obs, _ = venv.reset(seed=5)
    again, _ = venv.reset(seed=5)
    np.testing.assert_array_equal(obs, again)
    assert not np.array_equal(obs[:3], obs[3:])  # engine 1 is seeded with seed + 1
    other = GodotVectorEnv(demo, TRIVIAL, n_agents=3, n_engines=1)
    try:
        third, _ = other.reset(seed=6)
        np.testing.assert_array_equal(third, obs[3:])
    finally:
        other.close()


def test_next_step_autoreset(venv):
    venv.reset(seed=2)
    acts = distinct_actions(6)
    acts[4] = [1.0, 1.0]  # agent 1 of engine 1 terminates at step 5
    for step in range(1, 6):
        obs, rew, term, trunc, _ = venv.step(acts)
    assert term.tolist() == [False, False, False, False, True, False] and not trunc.any()
    assert obs[4].tolist() == [1.0, 1.0, 10.0, 5.0]
    obs, rew, term, trunc, _ = venv.step(acts)  # its action is ignored; it starts a new episode
    assert obs[4, 2] == 0.0 and obs[4, 3] == 0.0 and rew[4] == 0.0 and not term[4] and not trunc[4]
    assert np.all(obs[[0, 1, 2, 3, 5], 3] == 6)
    obs, *_ = venv.step(acts)
    assert obs[4].tolist() == [1.0, 1.0, 2.0, 1.0]


def _limited(shared_env, demo, mode: str) -> GodotVectorEnv:
    """4 trivial agents, episodes cut at 6 steps, in autoreset `mode`: one engine per mode and module."""
    return shared_env(GodotVectorEnv, demo, TRIVIAL, n_agents=4, max_episode_steps=6, autoreset_mode=mode)


def test_same_step_autoreset(demo, shared_env):
    env = _limited(shared_env, demo, "SameStep")
    assert env.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    env.reset(seed=3)
    acts = distinct_actions(4)
    acts[2] = [1.0, 1.0]
    for _ in range(4):
        _, _, term, _, info = env.step(acts)
        assert info == {}
    obs, rew, term, trunc, info = env.step(acts)
    assert term.tolist() == [False, False, True, False] and not trunc.any()
    assert rew[2] == 0.5  # the reward of the last step, not 0
    assert obs[2, 2] == 0.0 and obs[2, 3] == 0.0  # already the first observation of the next episode
    assert info["_final_obs"].tolist() == [False, False, True, False]
    assert info["final_obs"][2].tolist() == [1.0, 1.0, 10.0, 5.0]
    assert info["final_obs"][0] is None
    obs, *_ = env.step(acts)
    assert obs[2].tolist() == [1.0, 1.0, 2.0, 1.0]


def test_truncation_and_disabled_autoreset_with_reset_mask(demo):
    env = GodotVectorEnv(demo, TRIVIAL, n_agents=3, autoreset_mode=AutoresetMode.DISABLED, max_episode_steps=6)
    try:
        env.reset(seed=4)
        acts = distinct_actions(3)
        acts[0] = [1.0, 1.0]
        for _ in range(5):
            obs, _, term, trunc, _ = env.step(acts)
        assert term.tolist() == [True, False, False] and not trunc.any()
        with pytest.raises(RuntimeError, match="reset_mask"):
            env.step(acts)
        for bad in ([{"reset_mask": [True, False, False]}], ("reset_mask",)):  # was AttributeError: no 'get'
            with pytest.raises(TypeError, match=r"options must be a dict \(e\.g\. \{'reset_mask': mask\}\) or None"):
                env.reset(options=bad)
        obs, _ = env.reset(options={"reset_mask": np.array([True, False, False])})
        assert obs[0, 3] == 0 and obs[1, 3] == 5 and obs[2, 3] == 5
        obs, _, term, trunc, _ = env.step(acts)
        assert obs[:, 3].tolist() == [1, 6, 6]
        assert trunc.tolist() == [False, True, True] and not term.any()  # the engine's step limit
    finally:
        env.close()


def test_an_engine_death_closes_the_vector_env(demo, no_leaks):
    env = GodotVectorEnv(demo, TRIVIAL, n_agents=2, n_engines=2)
    env.reset(seed=0)
    handles = [link.handle for link in env.links]
    os.kill(env.engines[1].pid, signal.SIGKILL)
    with pytest.raises(EngineDiedError):
        for _ in range(1000):
            env.step(np.zeros((4, 2), np.float32))
    assert not any(os.path.exists(f"/dev/shm/{h}") for h in handles)  # both engines stopped
    with pytest.raises(RuntimeError, match="create a new GodotVectorEnv"):
        env.step(np.zeros((4, 2), np.float32))
    env.close()
    with pytest.raises(RuntimeError, match="closed"):
        env.step(np.zeros((4, 2), np.float32))


@pytest.mark.parametrize("which", ["command", "answer"])
def test_a_corrupted_semaphore_of_one_engine_is_named_by_the_step(demo, no_leaks, which):
    """The step of several engines posts and waits in one C call (shm.relay.relay); what it cannot
    do -- a post or a wait on garbage bytes -- is left to that engine's own post or wait, which
    names the semaphore, as without it."""
    env = GodotVectorEnv(demo, TRIVIAL, n_agents=2, n_engines=2)
    try:
        env.reset(seed=0)
        env.step(np.zeros((4, 2), np.float32))
        link = env.links[1]
        sem = link.command_semaphore if which == "command" else link.answer_semaphore
        link.mem._mm[sem._entry.offset:sem._entry.offset + 16] = b"\xff" * 16
        with pytest.raises(CorruptedSemaphore, match=f"semaphore '{sem.name}'"):
            env.step(np.zeros((4, 2), np.float32))
    finally:
        env.close()


def test_sixteen_agents_cartpole(demo):
    env = GodotVectorEnv(demo, CARTPOLE, n_agents=16, seed=0)
    try:
        obs, _ = env.reset(seed=0)
        assert obs.shape == (16, 4)
        assert len({tuple(o) for o in obs}) == 16  # every agent has its own initial state
        pushes = np.array([0, 1] * 8)
        for _ in range(8):
            obs, rew, *_ = env.step(pushes)
        assert np.all(rew == 1.0)
        assert np.all(obs[0::2, 1] < -0.5) and np.all(obs[1::2, 1] > 0.5)  # left pushes move left
        env.action_space.seed(0)  # the draws, like the engine, are seeded: the assertion cannot flake
        returns = np.zeros(16)
        done = np.zeros(16, bool)
        for _ in range(100):
            _, rew, term, trunc, _ = env.step(env.action_space.sample())
            returns += np.where(done, 0, rew)
            done |= term | trunc
        assert done.all() and returns.max() < 100  # random play fails fast
    finally:
        env.close()


def test_vector_actions_checked(venv):
    venv.reset(seed=0)
    bad = distinct_actions(6)
    bad[3] = [0.0, 2.0]
    with pytest.raises(ValueError, match="sub-environment 3 is outside the action space"):
        venv.step(bad)
    with pytest.raises(ValueError, match="shape"):
        venv.step(np.zeros((5, 2), np.float32))
    venv.step(distinct_actions(6))


@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_the_step_limit_recurs_per_agent_from_each_episodes_start(demo, shared_env, mode):
    """The engine counts steps per agent from its own episode start (GymEpisodes: one clock and
    per-agent starts): staggered episodes are truncated each at its own limit, again and again."""
    env = _limited(shared_env, demo, mode)
    env.reset(seed=5)
    acts = distinct_actions(4)
    early = acts.copy()
    early[0] = [1.0, 1.0]  # agent 0 terminates at step 5
    ends: dict[int, list] = {0: [], 1: [], 2: [], 3: []}
    for step in range(1, 15):
        _, _, term, trunc, _ = env.step(early if step <= 5 else acts)
        for i in np.flatnonzero(term | trunc):
            ends[int(i)].append((step, "term" if term[i] else "trunc"))
    # NEXT_STEP: the step after an end is the reset step (its action ignored, not counted)
    reset_step = 1 if mode == "NextStep" else 0
    assert ends[0] == [(5, "term"), (5 + reset_step + 6, "trunc")]
    assert ends[1] == ends[2] == ends[3] == [(6, "trunc"), (6 + reset_step + 6, "trunc")]
