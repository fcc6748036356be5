"""Play mode from pixels: a CNN policy (SB3's CnnPolicy network) exported with export_policy runs
in the engine through cTorchModel from the same camera frames Python sees, and acts the same:
the same seeded episodes give the same returns and lengths in Python and in Godot."""

from __future__ import annotations

import numpy as np
import torch

from godot_aigym.env import GodotEnv
from godot_aigym.demo.pixels import PixelPolicy, play_in_engine
from godot_aigym.torch_export import export_policy


REACH = "res://envs/reach/reach.tscn"


def _python_returns(module, seed: int, episodes: int) -> list[tuple[float, int]]:
    out = []
    with GodotEnv(scene=REACH, rendering=True, seed=seed) as env:
        for _ in range(episodes):
            obs, _ = env.reset()
            total, steps, done = 0.0, 0, False
            while not done:
                with torch.no_grad():
                    logits = module(torch.as_tensor(obs["camera"], dtype=torch.float32)[None])
                obs, reward, terminated, truncated, _ = env.step(int(logits.argmax()))
                total, steps, done = total + reward, steps + 1, terminated or truncated
            out.append((total, steps))
    return out


def test_cnn_policy_plays_in_engine_like_in_python(display, tmp_path, godot):
    from gymnasium import spaces
    from stable_baselines3.common.policies import ActorCriticCnnPolicy

    torch.manual_seed(3)
    policy = ActorCriticCnnPolicy(spaces.Box(0, 255, (3, 42, 42), np.uint8), spaces.Discrete(5), lambda _: 1e-3)
    module = PixelPolicy(policy).eval()
    path = export_policy(module, torch.rand(2, 42, 42, 3) * 255, tmp_path / "reach_cnn.jit")
    seed, episodes = 11, 3
    expected = _python_returns(module, seed, episodes)

    result = play_in_engine(path, seed, episodes, godot=godot)
    got = list(zip(result["returns"], result["lengths"]))
    assert [n for _, n in got] == [n for _, n in expected]
    assert np.allclose([r for r, _ in got], [r for r, _ in expected], atol=1e-4)


def _play_log(policy_path, scene: str, godot) -> tuple[int, str]:
    from godot_aigym.display import rendering_launch_options, shared_display
    from godot_aigym.engine import GodotProcess, LaunchOptions
    from godot_aigym.env.project import demo_project

    options = rendering_launch_options(LaunchOptions(
        project=demo_project(), scene=scene, seed=0, fixed_fps=50,
        user_args=("--play", "--policy", str(policy_path), "--play-episodes", "1")), *shared_display(godot))
    with GodotProcess(options, godot=godot) as proc:
        return proc.wait(timeout=120), proc.log()


def test_play_refuses_a_policy_that_does_not_fit_the_image_part(display, tmp_path, godot):
    path = export_policy(torch.nn.Linear(5, 5), torch.zeros(1, 5), tmp_path / "five.jit")
    code, log = _play_log(path, REACH, godot)
    assert code != 0
    assert "takes 5 values per observation; the image part 'camera' of shape [42, 42, 3] has 5292" in log, log[-1500:]
    # an image beside other parts: refused at start, naming the parts
    code, log = _play_log(path, "res://envs/reach/reach_state.tscn", godot)
    assert code != 0 and "play mode feeds cTorchModel one image part" in log and "camera" in log, log[-1500:]
