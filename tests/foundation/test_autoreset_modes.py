"""One parser of autoreset modes (env/autoreset.py) for `GodotVectorEnv` and `GodotGroupEnv`:
gymnasium's AutoresetMode, its value as gymnasium spells it, or its name; anything else is refused
naming the valid ones, before an engine starts."""

from __future__ import annotations

import pytest
from demo_fixtures import nothing_left_behind, prepared_demo
from gymnasium.vector import AutoresetMode

from godot_aigym.env import GodotVectorEnv
from godot_aigym.env.autoreset import parse_autoreset_mode
from godot_aigym.multiagent import GodotGroupEnv

TRIVIAL = "res://envs/trivial/trivial.tscn"
RENDEZVOUS = "res://envs/rendezvous/rendezvous.tscn"


@pytest.mark.parametrize("mode", list(AutoresetMode))
def test_every_spelling_gymnasium_gives_a_mode_is_accepted(mode):
    for text in (mode, mode.value, mode.name, mode.name.lower()):
        assert parse_autoreset_mode(text) is mode


@pytest.mark.parametrize("bad", ["nextstep", "Next_Step", "sometimes", "", 1, None])
def test_anything_else_is_refused_naming_the_valid_modes(bad):
    with pytest.raises(ValueError) as err:
        parse_autoreset_mode(bad)
    assert f"got {bad!r}" in str(err.value)
    for mode in AutoresetMode:
        assert f"AutoresetMode.{mode.name} ({mode.value!r} or {mode.name.lower()!r})" in str(err.value)


@pytest.mark.parametrize("env_class, scene", [(GodotVectorEnv, TRIVIAL), (GodotGroupEnv, RENDEZVOUS)])
def test_both_batched_envs_refuse_a_bad_mode_before_an_engine_starts(godot, env_class, scene):
    demo = prepared_demo(godot)
    with nothing_left_behind(), pytest.raises(ValueError, match=r"autoreset_mode must be one of AutoresetMode\.NEXT_STEP"):
        env_class(demo, scene, autoreset_mode="sometimes")


@pytest.mark.parametrize("text", ["next_step", "NextStep", "NEXT_STEP"])
def test_the_vector_env_takes_the_mode_as_the_group_env_does(godot, text):
    demo = prepared_demo(godot)
    with nothing_left_behind():
        env = GodotVectorEnv(demo, TRIVIAL, n_agents=2, autoreset_mode=text)
        try:
            assert env.autoreset_mode is AutoresetMode.NEXT_STEP
            assert env.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
            env.reset(seed=0)
            env.step(env.action_space.sample())
        finally:
            env.close()
