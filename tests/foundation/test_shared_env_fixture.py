"""tests/conftest.py's `shared_env`: one engine per module and arguments, closed at the module's end."""

from __future__ import annotations

import pytest

from godot_aigym.env import GodotEnv
from godot_aigym.env.link import demo_project, prepare_project

TRIVIAL = "res://envs/trivial/trivial.tscn"


@pytest.fixture(scope="module")
def demo(godot):
    project = demo_project()
    prepare_project(project, godot)
    return project


def test_the_same_arguments_give_the_same_open_environment(shared_env, demo):
    env = shared_env(GodotEnv, demo, TRIVIAL, seed=1)
    assert shared_env(GodotEnv, demo, TRIVIAL, seed=1) is env
    assert shared_env(GodotEnv, demo, TRIVIAL, seed=2) is not env
    env.reset(seed=0)
    env.step(env.action_space.sample())


def test_a_closed_one_is_replaced(shared_env, demo):
    env = shared_env(GodotEnv, demo, TRIVIAL, seed=1)
    env.reset(seed=0)  # still open: made by the test above
    env.close()
    again = shared_env(GodotEnv, demo, TRIVIAL, seed=1)
    assert again is not env
    again.reset(seed=0)
