"""Dict observations with camera parts through the step protocol: real engine under Xvfb, real
shared memory. The reach scene (demo_project/envs/reach) paints a blue floor, a red tile and a
black sky with unshaded colours; its `state` part says where the camera and the tile are, so the
test knows which bytes every image must hold."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

from godot_aigym.env import GodotEnv, GodotVectorEnv
from godot_aigym.env.protocol import F32_MAX, GodotEnvError

REACH = "res://envs/reach/reach.tscn"
REACH_STATE = "res://envs/reach/reach_state.tscn"
REACH_DRIFT = "res://envs/reach/reach_drift.tscn"  # PHYSICS steps; the tile drifts 0.1 per tick
SIZE, HEIGHT, FOV = 42, 8.0, 75.0  # reach_agent.gd
BLACK, BLUE, RED = (0, 0, 0), (0, 0, 255), (255, 0, 0)


def _tile_centre_px(state: np.ndarray) -> tuple[float, float]:
    """(row, column) where the tile's centre must appear: the camera looks straight down, image
    up is -Z, right is +X."""
    bx, bz, tx, tz = state
    per_unit = SIZE / (2 * HEIGHT * math.tan(math.radians(FOV / 2)))
    return SIZE / 2 + (tz - bz) * per_unit, SIZE / 2 + (tx - bx) * per_unit


def _check_frame(image: np.ndarray, state: np.ndarray) -> None:
    assert image.shape == (SIZE, SIZE, 3) and image.dtype == np.uint8
    colours = {tuple(c) for c in np.unique(image.reshape(-1, 3), axis=0)}
    assert colours <= {BLACK, BLUE, RED}, f"unexpected colours {colours}"  # exact bytes, no blending
    assert tuple(image[SIZE // 2, SIZE // 2]) in (BLUE, RED)  # the camera is over the floor
    red = np.argwhere((image == RED).all(axis=2))
    row, col = _tile_centre_px(state)
    if 2 <= row < SIZE - 2 and 2 <= col < SIZE - 2:
        assert len(red) > 4
        assert abs(red[:, 0].mean() + 0.5 - row) < 1.0 and abs(red[:, 1].mean() + 0.5 - col) < 1.0


@pytest.fixture(scope="module")
def reach_state(display):
    """One rendering engine of the reach_state scene for the tests that reset (with a seed) and step it."""
    env = GodotEnv(scene=REACH_STATE, rendering=True)
    yield env
    env.close()


def test_reach_pixels_follow_the_state(reach_state):
    env = reach_state
    assert env.observation_space == spaces.Dict({
        "camera": spaces.Box(0, 255, (SIZE, SIZE, 3), np.uint8),
        "state": spaces.Box(-F32_MAX, F32_MAX, (4,), np.float32)})  # unbounded: as flat Boxes
    obs, _ = env.reset(seed=3)
    _check_frame(obs["camera"], obs["state"])
    for action in (1, 1, 3, 3, 2, 4, 0):
        before = obs["state"].copy()
        obs, reward, terminated, truncated, _ = env.step(action)
        _check_frame(obs["camera"], obs["state"])  # the picture shows the state after the step
        if terminated:
            break
        moved = obs["state"][:2] - before[:2]
        assert np.allclose(moved, 0.3 * np.array([[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]][action]), atol=1e-5)


@pytest.mark.parametrize("repeat", [1, 3])
def test_physics_steps_with_images_take_their_ticks_only(display, repeat):
    """The frame drawn after a PHYSICS step runs with physics paused: a step moves the drifting
    tile by exactly `action_repeat` ticks (one more without the pause), and its pixels show it
    where the step's observation says."""
    env = GodotEnv(scene=REACH_DRIFT, rendering=True, action_repeat=repeat)
    try:
        obs, _ = env.reset(seed=4)
        _check_frame(obs["camera"], obs["state"])
        for _ in range(6):
            before = obs["state"].copy()
            obs, _, terminated, truncated, _ = env.step(0)
            _check_frame(obs["camera"], obs["state"])
            assert obs["state"][2] - before[2] == pytest.approx(0.1 * repeat, abs=1e-4)
            assert not (terminated or truncated)
    finally:
        env.close()


def test_dict_env_passes_gymnasium_check_env(reach_state):
    check_env(reach_state, skip_render_check=True)


def test_sixteen_camera_agents_train_with_sb3_multi_input_policy(display):
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecTransposeImage

    from godot_aigym.env.sb3 import GodotVecEnv, folderless_logger

    venv = GodotVecEnv(scene=REACH_STATE, n_agents=16, seed=0, rendering=True, max_episode_steps=5)
    try:
        obs = venv.reset()
        assert obs["camera"].shape == (16, SIZE, SIZE, 3) and obs["state"].shape == (16, 4)
        for i in range(16):  # each agent sees its own floor and tile
            _check_frame(obs["camera"][i], obs["state"][i])
        model = PPO("MultiInputPolicy", VecTransposeImage(venv), n_steps=8, batch_size=64, n_epochs=1, seed=0)
        model.set_logger(folderless_logger())  # no /tmp/SB3-<date> folder
        model.learn(16 * 8)  # one rollout and one update: what SB3 does with every rollout
        # episodes of 5 steps ended in SAME_STEP autoresets: terminal observations are Dicts
        venv.reset()
        for _ in range(5):
            _, _, dones, infos = venv.step(np.zeros(16, np.int64))
        assert dones.all()
        final = infos[0]["terminal_observation"]
        assert set(final) == {"camera", "state"}
        _check_frame(final["camera"], final["state"])
    finally:
        venv.close()


def test_vector_env_over_two_engines_gathers_parts(display):
    envs = GodotVectorEnv(scene=REACH_STATE, n_agents=2, n_engines=2, seed=5, rendering=True)
    try:
        obs, _ = envs.reset(seed=5)
        assert obs["camera"].shape == (4, SIZE, SIZE, 3)
        obs, *_ = envs.step(np.array([1, 2, 3, 4]))
        for i in range(4):
            _check_frame(obs["camera"][i], obs["state"][i])
    finally:
        envs.close()


def test_image_part_in_a_headless_engine_names_the_fix():
    with pytest.raises(GodotEnvError, match=r"part 'camera'.*rendering=True"):
        GodotEnv(scene=REACH, engine_errors="ignore")
