"""Discrete observation parts (DiscreteSensor: gymnasium Discrete and MultiDiscrete) through the
step protocol: a real headless engine, real shared memory. tests/project/env/dict_discrete.tscn is
a contextual bandit whose `target` part is the action that pays, so a policy that reads the
discrete parts earns more than chance."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

from godot_aigym.env import GodotEnv, GodotVectorEnv
from godot_aigym.shm import EngineDiedError

SCENE = "res://env/dict_discrete.tscn"


def test_discrete_parts_have_their_spaces_and_pass_check_env(test_project):
    env = GodotEnv(test_project, SCENE)
    try:
        assert env.observation_space["target"] == spaces.Discrete(4)
        assert env.observation_space["hint"] == spaces.MultiDiscrete([4, 2])
        assert env.observation_space["state"].shape == (1,)
        view = env.link.results.parts["target"]
        assert view.dtype == np.int32 and view.shape == (1,)  # the zero-copy view of the int32 tensor
        obs, _ = env.reset(seed=1)
        for _ in range(12):
            assert isinstance(obs["target"], np.int64) and obs["hint"].dtype == np.int64
            assert obs["hint"][0] == obs["target"] and obs["hint"][1] == obs["target"] % 2
            obs, reward, _, truncated, _ = env.step(int(obs["target"]))
            assert reward == 1.0
            if truncated:
                obs, _ = env.reset()
        check_env(env, skip_render_check=True)
    finally:
        env.close()


def test_vector_env_batches_discrete_parts_and_autoresets_them(test_project):
    envs = GodotVectorEnv(test_project, SCENE, n_agents=3, n_engines=2, seed=2)
    try:
        assert envs.observation_space["target"] == spaces.MultiDiscrete([4] * 6)
        obs, _ = envs.reset(seed=2)
        assert obs["target"].shape == (6,) and obs["target"].dtype == np.int64
        assert obs["hint"].shape == (6, 2)
        for step in range(10):
            obs, reward, _, truncated, _ = envs.step(obs["target"])
            np.testing.assert_array_equal(obs["hint"][:, 0], obs["target"])
        assert truncated.all()  # max_episode_steps 10; NEXT_STEP autoreset comes with the next step
        obs, reward, *_ = envs.step(obs["target"])
        assert (reward == 0).all() and envs.observation_space.contains(obs)
    finally:
        envs.close()


def test_sb3_multi_input_policy_learns_from_discrete_parts(test_project):
    from stable_baselines3 import PPO

    from godot_aigym.env.sb3 import GodotVecEnv, folderless_logger

    venv = GodotVecEnv(test_project, SCENE, n_agents=8, seed=0)
    try:
        model = PPO("MultiInputPolicy", venv, n_steps=32, batch_size=64, n_epochs=4, learning_rate=3e-3, seed=0)
        model.set_logger(folderless_logger())  # no /tmp/SB3-<date> folder
        model.learn(8 * 32 * 6)  # 6 updates: 80 of 80 targets hit with PPO seeds 0, 1 and 2 (chance: 20)
        obs = venv.reset()
        hits = 0
        for _ in range(10):
            action, _ = model.predict(obs, deterministic=True)
            hits += int((action == obs["target"]).sum())
            obs, *_ = venv.step(action)
        assert hits / 80 > 0.9, f"the policy hit {hits} of 80 targets (chance: 20)"
    finally:
        venv.close()


def test_a_discrete_value_out_of_range_names_the_sensor(test_project):
    # the engine refuses to answer with a wrong observation: it stops, and the host quotes why
    with GodotEnv(test_project, "res://env/dict_discrete_bad.tscn") as env:
        with pytest.raises(EngineDiedError, match=r"(?s)part 'target' gave 0 values.*"
                           r"DiscreteSensor 'Target': value 7 is outside Discrete\(4\)"):
            env.reset(seed=0)


def test_flat_policy_input_is_sb3s_encoding():
    import torch
    from stable_baselines3.common.preprocessing import preprocess_obs

    from godot_aigym.env.observations import flat_policy_input

    space = spaces.Dict({"target": spaces.Discrete(4), "hint": spaces.MultiDiscrete([4, 2]),
                         "state": spaces.Box(-1, 1, (1,), np.float32)})
    batch = {k: np.stack([space[k].sample() for _ in range(5)]) for k in space}
    sb3 = preprocess_obs({k: torch.as_tensor(v) for k, v in batch.items()}, space)
    expected = torch.cat([sb3[k].reshape(5, -1).float() for k in space.spaces], dim=1).numpy()  # CombinedExtractor
    np.testing.assert_array_equal(flat_policy_input(space, batch), expected)


def _play(test_project, godot, scene: str, policy, episodes: int) -> tuple[int, str]:
    from godot_aigym.engine import GodotProcess, LaunchOptions

    options = LaunchOptions(project=test_project, scene=scene, fixed_fps=60,
                            user_args=("--play", "--policy", str(policy), "--play-episodes", str(episodes)))
    with GodotProcess(options, godot=godot) as proc:
        return proc.wait(timeout=120), proc.log()


def _target_policy(size: int, offset: int):
    """A linear policy whose logits are 10 x the one-hot `target` found at `offset` of the input."""
    import torch

    layer = torch.nn.Linear(size, 4)
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.zero_()
        layer.weight[:, offset:offset + 4] = 10 * torch.eye(4)
    return layer


def test_play_mode_feeds_discrete_parts_as_sb3_does(test_project, godot, tmp_path, no_leaks):
    import torch

    from godot_aigym.torch_export import export_policy

    # sorted parts: hint (one-hot 4 + one-hot 2), state (1 float), target (one-hot 4) = 11 floats
    policy = export_policy(_target_policy(11, 7), torch.zeros(1, 11), tmp_path / "target.jit")
    code, log = _play(test_project, godot, SCENE, policy, episodes=3)
    lines = [ln for ln in log.splitlines() if ln.startswith("AIGYM_PLAY_RESULT ")]
    assert code == 0 and lines, log[-2000:]
    result = json.loads(lines[0].split(" ", 1)[1])
    assert result["returns"] == [10.0, 10.0, 10.0]  # every step acted the target: read at the right place


def test_play_mode_refuses_a_policy_that_does_not_fit_the_dict(test_project, godot, tmp_path, no_leaks):
    import torch

    from godot_aigym.torch_export import export_policy

    policy = export_policy(_target_policy(5, 0), torch.zeros(1, 5), tmp_path / "five.jit")
    code, log = _play(test_project, godot, SCENE, policy, episodes=1)
    assert code != 0
    assert ("takes 5 values per observation; the Dict parts hint (multi_discrete), state (state), target (discrete) "
            "encode to 11") in log, log[-1500:]
