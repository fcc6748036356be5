"""Settings a scene or the command line got wrong are start-up errors naming what is wrong (real
engine): an enum property outside its enum (a hand-edited or generated .tscn holds any int; was an
engine "Out of bounds get index" for action_type, silently accepted for step_mode), raised by the
host like any other settings error; a --policy file that does not exist (the message named the
demo's command, in any game)."""

from __future__ import annotations

import pytest
from env_testutil import CARTPOLE, DIALS

from godot_aigym.engine import GodotProcess, LaunchOptions
from godot_aigym.env import GodotEnv, GodotEnvError
from godot_aigym.shm import EngineDiedError


@pytest.mark.parametrize("scene, message", [
    ("res://env/bad_action_type.tscn",
     r"the environment reported an error: action_type is 7, not one of BOX \(0\), DISCRETE \(1\), MULTI_DISCRETE \(2\)"),
    ("res://env/bad_step_mode.tscn",
     r"the environment reported an error: step_mode is 9, not one of PHYSICS \(0\), IMMEDIATE \(1\)"),
    # a NaN bound became -3.4e38 in the space Python saw; low > high was gymnasium's "malformed description"
    ("res://env/bad_bounds_nan.tscn",
     r"the environment reported an error: action_low\[0\] is NaN \(use INF / -INF for an unbounded value\)"),
    ("res://env/bad_bounds_order.tscn",
     r"the environment reported an error: observation_low\[1\] = 5(\.0)? is above observation_high\[1\] = 1(\.0)?"),
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


@pytest.mark.parametrize("args, message", [
    # each ran the game with the default after a push_error, exit code 0 (a typo played 10 episodes
    # of seed 0), or with a clamped value (Godot's to_int), or one episode for -1
    (("--play-episodes", "abc"), "--play-episodes must be an integer, got 'abc'"),
    (("--play-episodes", "0"), "--play-episodes must be at least 1, got 0"),
    (("--seed", "x1"), "--seed must be an integer, got 'x1'"),
    (("--seed", "9223372036854775808"), "--seed 9223372036854775808 does not fit a 64-bit integer"),
    (("--physics-fps", "0"), "--physics-fps must be at least 1, got 0"),
    (("--n-agents", "two"), "--n-agents must be an integer, got 'two'"),
])
def test_bad_play_options_stop_the_game_naming_them(demo, godot, no_leaks, args, message):
    options = LaunchOptions(project=demo, scene=CARTPOLE, headless=True,  # its policy: only the option is wrong
                            user_args=("--play", "--policy", str(demo / "policy.jit"), "--play-episodes", "1", *args))
    with GodotProcess(options, godot=godot) as proc:
        code = proc.wait(timeout=120)
        log = proc.log()
    assert code == 1, log[-1500:]
    assert f"GymEnv: {message}" in log and "AIGYM_PLAY_START" not in log, log[-1500:]


def test_a_policy_file_not_named_jit_is_named(demo, godot, tmp_path, no_leaks):
    policy = tmp_path / "policy.pt"  # torch.jit.save takes any name; Godot's loader only *.jit
    policy.write_bytes(b"x")
    options = LaunchOptions(project=demo, scene=DIALS, headless=True, user_args=("--play", "--policy", str(policy)))
    with GodotProcess(options, godot=godot) as proc:
        code = proc.wait(timeout=120)
        log = proc.log()
    assert code == 1 and f"the policy {policy} is not a .jit file" in log, log[-1500:]  # was "no file"


def test_a_bad_option_from_python_is_a_godot_env_error(no_leaks):
    with pytest.raises(GodotEnvError, match="reported an error: --spin-us must be an integer, got 'fast'"):
        GodotEnv(scene=DIALS, user_args=("--spin-us", "fast"))


@pytest.mark.parametrize("answer, message", [
    # each was an error in the addon's copy loop (gym_env.gd:158 "Nonexistent function 'size' in base
    # 'Nil'", gym_env.gd:163 "Invalid assignment ... String on PackedFloat32Array"), not the callback
    ("null_observation", r"A\.get_observation\(\) returned null \(Nil\), not an array of 2 numbers"),
    ("string_observation", r'A\.get_observation\(\) value 0 is "a" \(String\), not a number'),
    ("string_reward", r'A\.get_reward\(\) returned "high" \(String\), not a number'),
])
def test_callbacks_answering_the_wrong_type_are_named(test_project, no_leaks, answer, message):
    env = GodotEnv(test_project, f"res://env/bad_answer_{answer}.tscn")
    try:
        with pytest.raises(EngineDiedError, match=r"stopped on an error of the scene \(exit code 1\); .*" + message):
            env.reset(seed=0)
    finally:
        env.close()



@pytest.mark.parametrize("scene, message", [
    # each was a wait until step_timeout ("did not answer within 120 s (hung?)"): a paused tree runs no
    # physics tick; a game-over change_scene_to_file freed the GymEnv node
    ("res://env/pausing.tscn", r"the scene tree was paused \(get_tree\(\)\.paused = true\)"),
    ("res://env/scene_changing.tscn", r"the GymEnv node left the scene tree \(change_scene_to_file"),
])
def test_a_scene_taken_out_of_stepping_stops_naming_it(test_project, no_leaks, scene, message):
    env = GodotEnv(test_project, scene, step_timeout=60)
    try:
        env.reset(seed=0)
        env.step(0)
        with pytest.raises(EngineDiedError, match=message):
            for _ in range(3):  # a deferred scene change: the step that asked for it may still answer
                env.step(1)
    finally:
        env.close()


def test_a_gymenv_that_processes_always_steps_on_in_a_paused_tree(test_project, no_leaks):
    """PROCESS_MODE_ALWAYS on the GymEnv: the game meant it to run while paused (the pause watch stopped it)."""
    env = GodotEnv(test_project, "res://env/pausing_always.tscn", step_timeout=60)
    try:
        env.reset(seed=0)
        env.step(1)  # pauses the tree
        for _ in range(3):
            obs, *_ = env.step(0)
        assert obs.shape == (1,)
    finally:
        env.close()
