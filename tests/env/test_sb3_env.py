"""Stable-Baselines3 trains on the Godot environments unchanged (not a convergence test).
The trivial-scene tests share one vector environment (shared_env: one engine start); each
starts with its own reset/seed."""

from __future__ import annotations

import numpy as np
import pytest
from env_testutil import CARTPOLE, DIALS, TRIVIAL

torch = pytest.importorskip("torch")
sb3 = pytest.importorskip("stable_baselines3")

from stable_baselines3 import PPO, SAC  # noqa: E402
from stable_baselines3.common.env_checker import check_env as sb3_check_env  # noqa: E402
from stable_baselines3.common.vec_env import VecMonitor  # noqa: E402

from godot_aigym.env import GodotEnv  # noqa: E402
from godot_aigym.env.sb3 import GodotVecEnv, folderless_logger  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_sb3_check_env_and_ppo_on_godot_env(demo, no_leaks):
    env = GodotEnv(demo, CARTPOLE, seed=0)
    try:
        sb3_check_env(env, warn=True)
        model = PPO("MlpPolicy", env, n_steps=256, batch_size=64, n_epochs=1, seed=0, device="cpu")
        model.set_logger(folderless_logger())  # no /tmp/SB3-<date> folder
        model.learn(512)
        action, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
        assert env.action_space.contains(int(action))
    finally:
        env.close()


def test_ppo_on_vec_env_many_agents(demo, no_leaks):
    venv = VecMonitor(GodotVecEnv(demo, CARTPOLE, n_agents=8, n_engines=2, seed=0))
    try:
        assert venv.num_envs == 16
        model = PPO("MlpPolicy", venv, n_steps=64, batch_size=256, n_epochs=2, seed=0, device="cpu")
        model.set_logger(folderless_logger())  # no /tmp/SB3-<date> folder
        model.learn(2048)  # two rollouts of 16 x 64 steps with an update between
        assert model.num_timesteps >= 2048
        assert len(model.ep_info_buffer) > 16  # episodes ended and were reset inside the engines
    finally:
        venv.close()


def test_vec_env_terminal_observation(demo, shared_env):
    venv = shared_env(GodotVecEnv, demo, TRIVIAL, n_agents=2, seed=0)
    venv.seed(0)
    obs = venv.reset()
    assert obs.shape == (2, 4)
    acts = np.array([[1.0, 1.0], [0.0, 0.0]], np.float32)
    for _ in range(5):
        obs, rew, dones, infos = venv.step(acts)
    assert dones.tolist() == [True, False]
    assert infos[0]["terminal_observation"].tolist() == [1.0, 1.0, 10.0, 5.0]
    assert infos[0]["TimeLimit.truncated"] is False
    assert obs[0, 3] == 0.0 and "terminal_observation" not in infos[1]
    venv.seed(5)
    first = venv.reset()
    venv.seed(5)
    np.testing.assert_array_equal(first, venv.reset())


def test_sac_on_box_actions(demo, shared_env):
    venv = shared_env(GodotVecEnv, demo, TRIVIAL, n_agents=2, seed=0)
    model = SAC("MlpPolicy", venv, learning_starts=64, batch_size=32, seed=0, device="cpu")
    model.set_logger(folderless_logger())  # no /tmp/SB3-<date> folder
    model.learn(200)  # SB3 seeds and resets the environment itself; ~70 updates after learning_starts
    assert model.num_timesteps >= 200 and model.replay_buffer.size() > 64


def test_ppo_with_a_multi_discrete_action_space(demo, no_leaks):
    venv = GodotVecEnv(demo, DIALS, n_agents=8, seed=2)
    try:
        model = PPO("MlpPolicy", venv, n_steps=64, batch_size=128, n_epochs=1, seed=0, device="cpu")
        model.set_logger(folderless_logger())  # no /tmp/SB3-<date> folder
        model.learn(1024)
        obs = venv.reset()
        actions, _ = model.predict(obs, deterministic=True)
        assert actions.shape == (8, 3)
        assert all(venv.action_space.contains(a) for a in actions)
        obs, rewards, dones, infos = venv.step(actions)
        assert obs.shape == (8, 3) and rewards.shape == (8,)
    finally:
        venv.close()
