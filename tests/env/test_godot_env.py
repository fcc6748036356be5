"""GodotEnv on the demo scenes, in the real engine: the Gymnasium contract, exact values,
seeds, terminated vs truncated, action repeat, action checking."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from env_testutil import CARTPOLE, TRIVIAL
from gymnasium.utils.env_checker import check_env

from godot_aigym.env import GodotEnv, GodotEnvError


@pytest.fixture(scope="module")
def trivial(demo):
    env = GodotEnv(demo, TRIVIAL, seed=7)
    yield env
    env.close()


@pytest.fixture(scope="module")
def cartpole(demo):
    env = GodotEnv(demo, CARTPOLE, seed=7)
    yield env
    env.close()


def _check_env_strict(env):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    messages = [str(w.message) for w in caught]
    assert not messages, "check_env warned:\n" + "\n".join(messages)


def test_check_env_trivial(trivial):
    _check_env_strict(trivial)


def test_check_env_cartpole(cartpole):
    _check_env_strict(cartpole)


def test_spaces_come_from_the_scene(trivial, cartpole):
    big = np.finfo(np.float32).max  # unbounded dimensions, as in gymnasium's own CartPole
    assert trivial.observation_space == gymnasium.spaces.Box(
        np.array([-1, -1, -big, 0], np.float32), np.array([1, 1, big, big], np.float32), dtype=np.float32)
    assert trivial.action_space == gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32)
    assert cartpole.action_space == gymnasium.spaces.Discrete(2)
    assert cartpole.observation_space.shape == (4,)
    assert cartpole.env_spec.max_episode_steps == 500
    assert trivial.env_spec.max_episode_steps == 50
    assert cartpole.env_spec.physics_ticks_per_second == 50


def test_trivial_exact_values(trivial):
    obs, info = trivial.reset(seed=3)
    assert info == {}
    assert obs.dtype == np.float32 and obs.shape == (4,)
    assert obs[2] == 0.0 and obs[3] == 0.0 and -1 <= obs[0] <= 1 and -1 <= obs[1] <= 1
    obs, reward, terminated, truncated, info = trivial.step(np.array([0.5, -0.25], np.float32))
    np.testing.assert_array_equal(obs, np.array([0.5, -0.25, 0.25, 1.0], np.float32))
    assert reward == 0.5 - 0.5 * -0.25
    assert (terminated, truncated, info) == (False, False, {})
    assert type(reward) is float and type(terminated) is bool and type(truncated) is bool
    obs, reward, *_ = trivial.step([1.0, 1.0])  # a list works too
    np.testing.assert_array_equal(obs, np.array([1.0, 1.0, 2.25, 2.0], np.float32))
    assert reward == 0.5


def test_terminated_and_truncated_are_distinct(trivial):
    trivial.reset(seed=1)
    flags = []
    for _ in range(5):  # sum grows by 2 per step: terminated when it reaches 10, at step 5
        _, _, terminated, truncated, _ = trivial.step(np.array([1.0, 1.0], np.float32))
        flags.append((terminated, truncated))
    assert flags == [(False, False)] * 4 + [(True, False)]
    trivial.reset()
    zero = np.zeros(2, np.float32)
    for step in range(1, 51):  # never terminates: truncated by the scene's limit of 50 steps
        obs, _, terminated, truncated, _ = trivial.step(zero)
        assert not terminated
        assert truncated == (step == 50)
    assert obs[3] == 50


def test_step_requires_reset(trivial):
    trivial.reset(seed=1)
    for _ in range(5):
        *_, terminated, _, _ = trivial.step(np.ones(2, np.float32))
    assert terminated
    with pytest.raises(RuntimeError, match="reset"):
        trivial.step(np.zeros(2, np.float32))
    trivial.reset()


def test_same_seed_same_observations(demo, cartpole):
    """Same seed -> same episode: within one engine, and in a second engine process."""
    actions = [0, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0] * 4

    def episode(env, seed):
        obs = [env.reset(seed=seed)[0]]
        for a in actions:
            o, _, terminated, truncated, _ = env.step(a)
            obs.append(o)
            if terminated or truncated:
                break
        return np.array(obs)

    first = episode(cartpole, 11)
    assert len(first) > 10
    np.testing.assert_array_equal(first, episode(cartpole, 11))
    other = GodotEnv(demo, CARTPOLE, seed=99)
    try:
        np.testing.assert_array_equal(first, episode(other, 11))
    finally:
        other.close()
    assert not np.array_equal(first[0], episode(cartpole, 12)[0])


def test_seed_at_launch_reaches_the_game(demo):
    """GodotEnv(seed=s) seeds the game's RNG: the first reset without a seed is reproducible."""
    envs = [GodotEnv(demo, TRIVIAL, seed=s) for s in (5, 5, 6)]
    try:
        first = [env.reset()[0] for env in envs]
        np.testing.assert_array_equal(first[0], first[1])
        assert not np.array_equal(first[0], first[2])
    finally:
        for env in envs:
            env.close()


def test_action_repeat(demo):
    env = GodotEnv(demo, TRIVIAL, action_repeat=3, max_episode_steps=4)
    try:
        assert env.env_spec.action_repeat == 3 and env.env_spec.max_episode_steps == 4
        env.reset(seed=0)
        obs, reward, terminated, truncated, _ = env.step(np.array([1.0, 0.0], np.float32))
        np.testing.assert_array_equal(obs, [1.0, 0.0, 3.0, 3.0])  # 3 ticks of the same action
        assert reward == 1.0
        for _ in range(3):
            obs, _, terminated, truncated, _ = env.step(np.array([0.5, 0.0], np.float32))
        np.testing.assert_array_equal(obs, [0.5, 0.0, 7.5, 12.0])
        assert truncated and not terminated  # max_episode_steps=4 counts steps, not ticks
    finally:
        env.close()


def test_cartpole_physics_moves(cartpole):
    obs, _ = cartpole.reset(seed=0)
    for _ in range(5):
        obs2, reward, *_ = cartpole.step(1)  # push right: the cart accelerates to the right
        assert reward == 1.0
    assert obs2[1] > obs[1] + 0.5
    steps = 0
    cartpole.reset(seed=0)
    while True:
        _, _, terminated, truncated, _ = cartpole.step(1)
        steps += 1
        if terminated or truncated:
            break
    assert terminated and not truncated and 5 <= steps <= 30  # the pole falls quickly


@pytest.mark.parametrize("action, match", [
    (np.array([1.5, 0.0], np.float32), "outside the action space Box"),
    (np.array([np.nan, 0.0], np.float32), "outside the action space"),
    (np.array([0.0, -1.01]), "outside the action space"),
    (np.zeros(3, np.float32), "shape"),
    ("left", "expected real numbers|not in the action space"),
    (["0.5", "0.1"], "expected real numbers"),  # not parsed as numbers
    (np.array([0.5 + 1j, 0.1]), "expected real numbers"),  # the imaginary part is not dropped
])
def test_box_action_outside_space(trivial, action, match):
    trivial.reset(seed=0)
    with pytest.raises(ValueError, match=match) as info:
        trivial.step(action)
    assert "action" in str(info.value)
    obs, *_ = trivial.step(np.array([0.25, 0.25], np.float32))  # still usable
    assert obs[0] == 0.25


@pytest.mark.parametrize("action", [2, -1, 0.5, np.array([0, 1]), "1", None])
def test_discrete_action_outside_space(cartpole, action):
    cartpole.reset(seed=0)
    with pytest.raises(ValueError, match=r"action .* Discrete\(2\)"):
        cartpole.step(action)
    for ok in (0, np.int64(1), np.array(1), True):
        cartpole.step(ok)


def test_gymnasium_make_and_close_is_idempotent(demo, no_leaks):
    env = gymnasium.make("godot_aigym/CartPole-v0")
    inner = env.unwrapped
    pid = inner.engine.pid
    try:
        obs, _ = env.reset(seed=0)
        assert env.observation_space.contains(obs)
        _, reward, *_ = env.step(env.action_space.sample())
        assert reward == 1.0
    finally:
        env.close()
    env.close()
    inner.close()
    assert inner.engine is None
    with pytest.raises(RuntimeError, match="closed"):
        inner.reset()
    with pytest.raises((RuntimeError, AttributeError)):
        inner.step(0)
    from env_testutil import wait_gone

    assert wait_gone(pid, 1.0)


def test_engine_log_is_clean(demo, tmp_path):
    """A whole session (reset, steps, autoreset, close) leaves no error in the engine log."""
    log = tmp_path / "engine.log"
    env = GodotEnv(demo, CARTPOLE, log_path=log)
    env.reset(seed=0)
    for _ in range(200):
        *_, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    env.close()
    text = log.read_text()
    bad = [line for line in text.splitlines() if "ERROR" in line or "WARNING" in line or "leaked" in line]
    assert not bad, "\n".join(bad)


def test_batched_and_per_agent_cartpole_agree(demo):
    """cartpole.tscn (batched callbacks) and cartpole_simple.tscn (per-agent callbacks on a plain
    GymEnv) are the same environment: identical episodes for the same seed and actions."""
    from godot_aigym.env import GodotVectorEnv

    rng = np.random.default_rng(0)
    actions = rng.integers(0, 2, size=(60, 4))
    runs = []
    for scene in (CARTPOLE, "res://envs/cartpole/cartpole_simple.tscn"):
        env = GodotVectorEnv(demo, scene, n_agents=4, seed=3)
        try:
            obs = [env.reset(seed=21)[0]]
            for a in actions:
                o, r, te, tr, _ = env.step(a)
                obs.append(np.concatenate([o, r[:, None], te[:, None], tr[:, None]], axis=1))
            runs.append(np.array(obs[1:]))
            first = obs[0]
        finally:
            env.close()
    assert runs[0][:, :, 5].any()  # episodes ended (and restarted) along the way
    np.testing.assert_array_equal(runs[0], runs[1])
    assert first.shape == (4, 4)


def test_big_seeds(trivial):
    for seed in (2**64 - 1, 2**63, 2**40 + 7, 0):
        first, _ = trivial.reset(seed=seed)
        again, _ = trivial.reset(seed=seed)
        np.testing.assert_array_equal(first, again)
    assert not np.array_equal(trivial.reset(seed=2**64 - 1)[0], trivial.reset(seed=2**63)[0])


def test_engine_refuses_a_negative_step_limit(demo, no_leaks):
    """The engine checks its own arguments too (a host of another version, or a user in the
    editor): a negative limit is a configuration error reported at start-up."""
    with pytest.raises(ValueError, match="max_episode_steps must be an integer >= 0"):
        GodotEnv(demo, TRIVIAL, max_episode_steps=-5)  # refused before an engine starts
    with pytest.raises(GodotEnvError, match=r"reported an error: max_episode_steps must be >= 0 \(0: no limit\), "
                                            r"got -5"):
        GodotEnv(demo, TRIVIAL, user_args=("--max-episode-steps", "-5"))


def test_a_relative_project_survives_a_chdir_before_the_rendering_relaunch(demo, tmp_path, monkeypatch, no_leaks):
    # the first render() of an rgb_array env relaunches the engine rendering: it looked for the
    # project (and the log) relative to the new working directory ("not a Godot project: ...")
    import os

    monkeypatch.chdir(tmp_path)
    env = GodotEnv(os.path.relpath(demo), TRIVIAL, render_mode="rgb_array", log_path="engine.log")
    try:
        env.reset(seed=0)
        (tmp_path / "elsewhere").mkdir()
        monkeypatch.chdir(tmp_path / "elsewhere")
        assert env.render().shape == (64, 64, 3)
    finally:
        env.close()
    assert (tmp_path / "engine.log").stat().st_size > 0  # where it was asked for, not in elsewhere/
