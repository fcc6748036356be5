"""GodotEnvRunner in this process (no cluster): one engine per EnvRunner for all its
sub-environments, returns and truncation as the engine computed them, seeds reproduce."""

from __future__ import annotations

import numpy as np
import pytest

import godot_aigym.rllib as godot_rllib  # a missing Ray fails here (no skip); RLlib is imported on first use
from godot_aigym.rllib.train import build_config

from rllib_testutil import assert_nothing_left

TRIVIAL = "godot_aigym/Trivial-v0"
LIMIT = 5


@pytest.fixture(autouse=True, scope="module")
def _ray(local_ray):
    yield  # one loopback instance for the module (conftest.local_ray), down and removed after


def _runner(env=TRIVIAL, agents=8, engines=1, seed=3, **env_config):
    config = build_config(env, env_runners=0, agents=agents, engines=engines, seed=seed,
                          env_config={"max_episode_steps": LIMIT, **env_config}, fragment=LIMIT)
    return godot_rllib.GodotEnvRunner(config=config)


def test_one_engine_drives_all_sub_environments_and_returns_reach_rllib():
    runner = _runner()
    info = runner.godot_info()
    try:
        assert runner.num_envs == 8 and len(info["engine_pids"]) == 1, info
        episodes = runner.sample(num_episodes=16, explore=False)
        assert len(episodes) >= 16
        for ep in episodes:
            obs, actions, rewards = ep.get_observations(), ep.get_actions(), ep.get_rewards()
            # the trivial scene reports the action it applied (obs[0:2]) and rewards a0 - 0.5 a1
            applied = np.clip(np.asarray(actions, np.float32), -1, 1)
            np.testing.assert_allclose(np.asarray(obs)[1:, :2], applied, atol=1e-6)
            expected = [float(np.float32(a0) - 0.5 * np.float32(a1)) for a0, a1 in np.asarray(obs)[1:, :2]]
            np.testing.assert_allclose(rewards, expected, atol=1e-5)
            np.testing.assert_allclose(ep.get_return(), sum(expected), atol=1e-4)
            if not ep.is_terminated:  # every episode that did not end early was cut by the engine's limit
                assert ep.is_truncated and len(ep) == LIMIT, (len(ep), ep.is_truncated)
            else:
                assert not ep.is_truncated and np.asarray(obs)[-1, 2] >= 10.0
        metrics = runner.get_metrics()
        assert float(metrics["episode_return_mean"]) == pytest.approx(np.mean([e.get_return() for e in episodes]), abs=1e-4)
    finally:
        runner.stop()
    assert_nothing_left(set(), set(info["engine_pids"]))


def test_the_worker_seed_reaches_the_engines():
    first = []
    for seed in (3, 3, 4):
        runner = _runner(seed=seed, agents=2, engines=2)
        try:
            eps = runner.sample(num_episodes=4, explore=False)
            assert len(runner.godot_info()["engine_pids"]) == 2
            first.append(np.stack([e.get_observations()[0] for e in eps[:4]]))
        finally:
            runner.stop()
    np.testing.assert_array_equal(first[0], first[1])  # same seed: same first observations
    assert not np.array_equal(first[0], first[2])


def test_an_unknown_environment_name_is_refused_by_name():
    config = build_config("godot_aigym/NoSuchEnv-v0", env_runners=0)
    with pytest.raises(ValueError, match=r"'godot_aigym/NoSuchEnv-v0' is not a Godot environment .*register_scene"):
        godot_rllib.GodotEnvRunner(config=config)


def test_rllib_sync_vectorization_is_refused_with_what_to_write():
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

    config = PPOConfig().environment(TRIVIAL).env_runners(num_env_runners=0, num_envs_per_env_runner=2)
    with pytest.raises(ValueError, match="GodotEnvRunner"):
        SingleAgentEnvRunner(config=config)


def test_rllibs_own_runner_with_the_vector_entry_point_drives_our_vector_env():
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

    config = (PPOConfig().environment(TRIVIAL, env_config={"max_episode_steps": LIMIT})
              .env_runners(num_env_runners=0, num_envs_per_env_runner=4, gym_env_vectorize_mode="vector_entry_point"))
    runner = SingleAgentEnvRunner(config=config)
    try:
        engines = runner.env.unwrapped.engines
        assert len(engines) == 1 and runner.num_envs == 4
        eps = runner.sample(num_episodes=4, explore=False)
        assert all(e.is_truncated or e.is_terminated for e in eps)
    finally:
        runner.stop()
    assert_nothing_left(set(), {p.pid for p in engines})
