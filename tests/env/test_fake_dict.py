"""The host's Dict-observation handling against the protocol-level fake engine (fake_engine.py,
``dict_parts=True``): part views, their dtypes and spaces, copies out of shared memory, autoreset
of parts (SAME_STEP final observations, NEXT_STEP), batching over engines. Milliseconds per
test; the same paths run on real engines in tests/render/test_dict_env.py and
tests/env/test_discrete_parts.py."""

from __future__ import annotations

import numpy as np
import pytest
from env_testutil import DEMO, TRIVIAL
from fake_engine import HINT_NVEC, IMAGE_SHAPE, PHASES, FakeEngine, dict_parts
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

from godot_aigym.env import GodotEnv, GodotEnvError, GodotVectorEnv
from godot_aigym.env.sb3 import GodotVecEnv

WALK = 0.01  # per action value: the trivial episode ends at sum >= 10 (never, here) or the step limit


def _expected(obs: dict, agents: np.ndarray) -> dict:
    """What every tensor part must hold, from the `state` part's tick count."""
    return dict_parts(agents, obs["state"][..., 3].astype(np.int64))


def _check(obs: dict, agents) -> None:
    agents = np.atleast_1d(np.asarray(agents))
    single = obs["state"].ndim == 1
    want = _expected({k: (v[None] if single else v) for k, v in obs.items()}, agents)
    for name, values in want.items():
        np.testing.assert_array_equal(obs[name], values[0] if single else values, err_msg=name)


@pytest.fixture
def env(no_leaks):
    e = GodotEnv(DEMO, TRIVIAL, launcher=FakeEngine(dict_parts=True), cpus=None, max_episode_steps=4)
    yield e
    e.close()


def test_spaces_views_and_copies(env):
    space = env.observation_space
    assert isinstance(space, spaces.Dict) and set(space) == {"state", "camera", "phase", "hint"}
    assert space["camera"] == spaces.Box(0, 255, IMAGE_SHAPE, np.uint8)
    assert space["phase"] == spaces.Discrete(PHASES) and space["hint"] == spaces.MultiDiscrete(HINT_NVEC)
    views = env.link.results.parts
    assert views["camera"].dtype == np.uint8 and views["camera"].shape == (1, *IMAGE_SHAPE)
    assert views["phase"].dtype == np.int32 and views["phase"].shape == (1,)  # zero-copy int32 views
    assert views["hint"].shape == (1, 2) and views["state"].base is not None
    obs, _ = env.reset(seed=0)
    _check(obs, 0)
    first = obs["camera"]
    obs, *_ = env.step(np.full(2, WALK, np.float32))
    _check(obs, 0)
    assert obs["state"][3] == 1 and first[0, 0, 0] == 0  # the earlier copy did not change with the step
    assert isinstance(obs["phase"], np.int64) and obs["hint"].dtype == np.int64
    assert np.shares_memory(views["camera"], env.link.results.parts["camera"])
    assert not np.shares_memory(obs["camera"], views["camera"])


def test_dict_env_passes_check_env(env):
    check_env(env, skip_render_check=True)


def test_vector_env_gathers_parts_of_two_engines_and_autoresets_them(no_leaks):
    envs = GodotVectorEnv(DEMO, TRIVIAL, launcher=FakeEngine(dict_parts=True), cpus=None, n_agents=3, n_engines=2,
                          max_episode_steps=3)
    try:
        agents = np.tile(np.arange(3), 2)  # agent index within its engine
        obs, _ = envs.reset(seed=1)
        assert envs.observation_space.contains(obs)
        kept = []
        for step in range(1, 5):
            obs, *_ = envs.step(np.full((6, 2), WALK, np.float32))
            _check(obs, agents)
            kept.append(obs)
            if step <= 3:
                np.testing.assert_array_equal(obs["state"][:, 3], step)
        np.testing.assert_array_equal(kept[2]["phase"], 3)
        np.testing.assert_array_equal(kept[3]["state"][:, 3], 0)  # NEXT_STEP: the reset's first observation
        np.testing.assert_array_equal(kept[3]["camera"][:, 0, 0, 0], 10 * agents % 256)
        assert not any(np.shares_memory(a["camera"], b["camera"]) for a, b in zip(kept, kept[1:]))
    finally:
        envs.close()


def test_sb3_same_step_autoreset_reports_final_parts(no_leaks):
    venv = GodotVecEnv(DEMO, TRIVIAL, launcher=FakeEngine(dict_parts=True), cpus=None, n_agents=2, max_episode_steps=3)
    try:
        obs = venv.reset()
        for _ in range(3):
            obs, _, dones, infos = venv.step(np.full((2, 2), WALK, np.float32))
        assert dones.all()
        _check(obs, [0, 1])
        np.testing.assert_array_equal(obs["state"][:, 3], 0)  # already reset
        for i in range(2):
            final = infos[i]["terminal_observation"]
            assert set(final) == {"state", "camera", "phase", "hint"} and final["state"][3] == 3
            _check(final, i)  # the parts before the reset, from the final-observation tensors
    finally:
        venv.close()


@pytest.mark.parametrize("part,message", [
    ({"name": "phase", "kind": "discrete", "shape": [], "n": 0, "dtype": "int32"}, r"part 'phase': Discrete needs n >= 1"),
    ({"name": "hint", "kind": "multi_discrete", "shape": [0], "nvec": [], "dtype": "int32"},
     r"part 'hint': MultiDiscrete needs a non-empty nvec"),
    ({"name": "hint", "kind": "multi_discrete", "shape": [2], "nvec": [3, 0], "dtype": "int32"},
     r"part 'hint': MultiDiscrete needs a non-empty nvec of values >= 1, got \[3, 0\]"),
    ({"name": "camera", "kind": "image", "shape": [4, 5, 4], "dtype": "uint8"}, r"part 'camera': an image has the shape"),
    ({"name": "x", "kind": "tuple", "shape": [1]}, r"part 'x': unsupported kind 'tuple'"),
])
def test_bad_part_descriptions_are_refused_naming_the_part(no_leaks, part, message):
    observation = {"type": "dict", "parts": [part]}
    with pytest.raises(GodotEnvError, match=message):
        GodotEnv(DEMO, TRIVIAL, launcher=FakeEngine(spec_overrides={"observation": observation,
                                                                    "out_size": 3}), cpus=None)
