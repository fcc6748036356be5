"""render(): rgb_array frames of the main window (lazily switched on), RecordVideo, SB3's default
make_vec_env, and render_mode="human" under the host's private Xvfb. Real engines."""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np
import pytest

import godot_aigym.env  # noqa: F401  (registers the ids)
from godot_aigym.env import GodotEnv
from godot_aigym.env.protocol import GodotEnvError

CARTPOLE = "res://envs/cartpole/cartpole.tscn"


def _colours(frame: np.ndarray) -> int:
    return len(np.unique(frame.reshape(-1, 3), axis=0))


def test_rgb_array_trains_headless_and_renders_from_the_first_render_call(display):
    env = gym.make("godot_aigym/CartPole-v0", render_mode="rgb_array")
    try:
        inner = env.unwrapped
        assert not inner.link.renders  # no X server, no renderer until a frame is asked for
        env.reset(seed=4)
        frame = env.render()
        assert inner.link.renders
        assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8
        assert _colours(frame) >= 3  # background, cart, pole
        obs, *_ = env.step(1)
        moved = env.render()
        assert (moved != frame).any()  # the cart moved
        assert (env.render() == moved).all()  # a frame shows the state of the last answer
    finally:
        env.close()


def test_render_in_mid_episode_of_a_headless_env_names_the_fix():
    env = GodotEnv(scene=CARTPOLE, render_mode="rgb_array")
    try:
        env.reset(seed=0)
        env.step(0)
        with pytest.raises(GodotEnvError, match="rendering=True"):
            env.render()
    finally:
        env.close()
    with GodotEnv(scene=CARTPOLE, render_mode="rgb_array", rendering=False) as env:
        env.reset(seed=0)
        with pytest.raises(GodotEnvError, match="rendering=True"):
            env.render()


def test_record_video_writes_a_video_of_an_episode(display, tmp_path):
    import imageio.v3 as iio

    env = gym.wrappers.RecordVideo(gym.make("godot_aigym/CartPole-v0", render_mode="rgb_array", rendering=True,
                                            max_episode_steps=30), str(tmp_path), disable_logger=True)
    try:
        env.reset(seed=1)
        steps, done = 0, False
        while not done:  # alternate pushes: no random draw decides how long the episode lasts
            _, _, terminated, truncated, _ = env.step(steps % 2)
            steps, done = steps + 1, terminated or truncated
    finally:
        env.close()
    videos = list(tmp_path.glob("*.mp4"))
    assert len(videos) == 1
    frames = iio.imread(videos[0])
    assert steps >= 10
    assert frames.ndim == 4 and frames.shape[0] == steps + 1  # the reset frame and one per step
    assert all(frame.std() > 5 for frame in frames)  # not blank


def test_sb3_make_vec_env_with_its_defaults_trains():
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    from godot_aigym.env.sb3 import folderless_logger

    venv = make_vec_env("godot_aigym/CartPole-v0", n_envs=2)  # passes render_mode="rgb_array"
    try:
        assert venv.render_mode == "rgb_array"
        assert not any(env.unwrapped.link.renders for env in venv.envs)  # trains headless
        model = PPO("MlpPolicy", venv, n_steps=32, batch_size=64, n_epochs=1, seed=0)
        model.set_logger(folderless_logger())  # no /tmp/SB3-<date> folder
        model.learn(128)  # two rollouts of 2 x 32 steps, an update after each
    finally:
        venv.close()


def test_human_mode_opens_a_window_on_the_private_display(display, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    env = GodotEnv(scene=CARTPOLE, render_mode="human", max_episode_steps=5)
    try:
        assert env.link.renders and env.engine.options.env.get("DISPLAY") == display[0].display
        env.reset(seed=0)
        env.step(0)
        assert env.render() is None  # the window shows itself
        assert _colours(env.link.render()) >= 3
    finally:
        env.close()
    assert os.environ.get("DISPLAY") is None


def test_an_offscreen_engine_draws_its_main_window_only_when_asked(render_gdscript):
    """On the host's private X server nobody sees the main window: GymEnv does not draw it (no blit
    and buffer swap per frame, docs/RENDERING.md), SubViewports (cameras) still render every frame,
    and render() frames draw it once (OffscreenWindow)."""
    run = render_gdscript("res://render/test_offscreen_window.gd")
    assert run.results["root_once"] == [255, 0, 0]
    assert run.results["root_not_drawn"] == [255, 0, 0]  # turned yellow meanwhile, never drawn
    assert run.results["sub_while_root_not_drawn"] == [0, 0, 255]
    assert run.results["root_once_again"] == [255, 255, 0]


def test_offscreen_drawing_can_be_switched_off(render_gdscript, monkeypatch):
    """AIGYM_OFFSCREEN=0 (LaunchOptions.env, or the host's environment): the main window is drawn
    every frame, for a game that reads its observations from get_viewport().get_texture()."""
    run = render_gdscript("res://render/test_offscreen_opt_out.gd", env={"AIGYM_OFFSCREEN": "0"})
    assert run.results["root_first"] == [255, 0, 0]
    assert run.results["root_later"] == [255, 255, 0]  # turned yellow and drawn, stop_drawing notwithstanding
    monkeypatch.setenv("AIGYM_OFFSCREEN", "0")
    assert render_gdscript("res://render/test_offscreen_opt_out.gd").results["root_later"] == [255, 255, 0]
