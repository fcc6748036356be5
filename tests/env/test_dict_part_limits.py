"""Dict observations with many parts or long part names, in a real headless engine: an engine's
chunk holds ~120 parts (2 tensors each), and past that, or with a part name too long for its
tensors' names, start-up fails with a GodotEnvError naming the fix (was ChunkFull suggesting a
capacity= the env does not take at 28 parts, or InvalidName of an internal tensor name)."""

from __future__ import annotations

import pytest
from gymnasium import spaces

from godot_aigym.env import GodotEnv, GodotEnvError


def test_a_hundred_parts_fit(test_project, no_leaks):
    env = GodotEnv(test_project, "res://env/dict_100_parts.tscn")
    try:
        assert len(env.observation_space.spaces) == 101  # 100 parts and the state
        obs, _ = env.reset(seed=0)
        obs, *_ = env.step(0)
        assert all(obs[f"p{i}"] == obs["p0"] for i in range(100)) and env.observation_space.contains(obs)
        assert env.observation_space["p99"] == spaces.Discrete(4)
    finally:
        env.close()


@pytest.mark.parametrize("scene, message", [
    ("res://env/dict_130_parts.tscn", r"declares 130 observation parts .* at most 12\d: merge sensors"),
    ("res://env/dict_long_part_name.tscn", r"observation part name 'target_seen_by_the_agent_on_its_left_side_in_frames' "
                                           r"has 51 characters, at most 49 fit .*gym_final_obs_<name>.*shorten it"),
])
def test_parts_that_do_not_fit_are_refused_naming_the_fix(test_project, no_leaks, scene, message):
    with pytest.raises(GodotEnvError, match=message):
        GodotEnv(test_project, scene)
