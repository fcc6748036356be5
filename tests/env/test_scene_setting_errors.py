"""Settings a scene or the command line got wrong are start-up errors naming what is wrong (real
engine): an enum property outside its enum (a hand-edited or generated .tscn holds any int; was an
engine "Out of bounds get index" for action_type, silently accepted for step_mode), raised by the
host like any other settings error; a --policy file that does not exist (the message named the
demo's command, in any game)."""

from __future__ import annotations

import pytest
from env_testutil import DIALS

from godot_aigym.engine import GodotProcess, LaunchOptions
from godot_aigym.env import GodotEnv, GodotEnvError


@pytest.mark.parametrize("scene, message", [
    ("res://env/bad_action_type.tscn",
     r"the environment reported an error: action_type is 7, not one of BOX \(0\), DISCRETE \(1\), MULTI_DISCRETE \(2\)"),
    ("res://env/bad_step_mode.tscn",
     r"the environment reported an error: step_mode is 9, not one of PHYSICS \(0\), IMMEDIATE \(1\)"),
])
def test_enum_out_of_range_is_named(no_leaks, test_project, scene, message):
    with pytest.raises(GodotEnvError, match=message):
        GodotEnv(test_project, scene)


def test_missing_policy_file_is_named(demo, godot, tmp_path, no_leaks):
    missing = tmp_path / "missing.jit"
    options = LaunchOptions(project=demo, scene=DIALS, headless=True,
                            user_args=("--play", "--policy", str(missing), "--play-episodes", "1"))
    with GodotProcess(options, godot=godot) as proc:
        code = proc.wait(timeout=120)
        log = proc.log()
    assert code != 0, log[-1500:]
    assert f"policy not found: no file {missing} (--policy or the GymEnv's policy_path" in log, log[-1500:]
    assert "godot-aigym demo" not in log
