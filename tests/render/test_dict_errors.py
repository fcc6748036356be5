"""Dict-observation configuration errors: clear start-up errors naming the part and the fix, and
nothing left behind (engines, chunks). Headless engines: the checks come before rendering."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from godot_aigym.env import GodotEnv, GodotVectorEnv
from godot_aigym.env.protocol import GodotEnvError


sys.path.insert(0, str(Path(__file__).parent.parent / "env"))
from env_testutil import engine_children, our_chunks  # noqa: E402


@pytest.mark.parametrize("scene,message", [
    ("res://env/dict_mismatch.tscn", r"part 'camera': agent B's sensor has shape \[8, 12, 3\].*every agent's must match"),
    ("res://env/dict_zero.tscn", r"part 'camera'.*declares the shape \[8, 0, 3\].*fix its size"),
    ("res://env/dict_missing.tscn", r"part 'camera': agent A has no node at 'Eye'"),
])
def test_bad_parts_are_refused_naming_the_part(test_project, scene, message):
    before = our_chunks(), engine_children()
    with pytest.raises(GodotEnvError, match=message):
        GodotVectorEnv(test_project, scene, n_agents=2, engine_errors="ignore")
    assert (our_chunks(), engine_children()) == before  # the failed start-up stopped its engine, unlinked its chunk


def test_render_without_a_renderer_names_the_fix(test_project):
    with GodotEnv(scene="res://envs/cartpole/cartpole.tscn", render_mode="rgb_array", rendering=False) as env:
        env.reset(seed=0)
        with pytest.raises(GodotEnvError, match="rendering=True"):
            env.link.render()
