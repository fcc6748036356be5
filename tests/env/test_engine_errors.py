"""Errors the engine logs while serving a command (script errors, push_error) reach Python:
raised as GodotScriptError by default, warned about or ignored on request. The environment
stays usable after reset(). Scene: tests/project/env/faulty.tscn (misbehaves on demand)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from godot_aigym.env import GodotEnv, GodotVectorEnv
from godot_aigym.env.protocol import GodotScriptError, GodotScriptWarning

FAULTY = "res://env/faulty.tscn"


@pytest.fixture(scope="module")
def faulty(test_project):
    env = GodotEnv(test_project, FAULTY, seed=1)
    yield env
    env.close()


def test_a_script_error_in_a_callback_is_raised_with_its_place(faulty):
    faulty.reset()
    obs, *_ = faulty.step(0)
    assert obs.tolist() == [0.0]
    with pytest.raises(GodotScriptError, match=r"(?s)logged 1 error.*null.*faulty_agent\.gd:\d+"):
        faulty.step(1)
    with pytest.raises(RuntimeError, match="reset"):  # the step's results are lost: start over
        faulty.step(0)
    faulty.reset()
    obs, reward, *_ = faulty.step(0)
    assert obs.tolist() == [0.0] and reward == 1.0


def test_push_error_is_raised_and_floods_are_summarised(faulty):
    faulty.reset()
    with pytest.raises(GodotScriptError, match=r"faulty agent: custom problem 42 \(res://env/faulty_agent\.gd:\d+, "
                                               r"apply_action\)"):  # the script's line, not the engine's
        faulty.step(2)
    faulty.reset()
    with pytest.raises(GodotScriptError, match=r"(?s)logged 25 error.*flood 0.*flood 19\b.*and 5 more") as err:
        faulty.step(3)
    assert "flood 20" not in str(err.value)
    with pytest.raises(GodotScriptError, match="error during reset"):  # errors in reset() too
        faulty.reset()
    faulty.reset()
    assert faulty.step(0)[0].tolist() == [0.0]


def test_warn_mode_keeps_the_results(test_project, no_leaks):
    """End to end with "warn" ("ignore" and both modes' bookkeeping: test_host_logic_fake.py)."""
    for mode in ("warn",):
        env = GodotEnv(test_project, FAULTY, seed=1, engine_errors=mode)
        try:
            env.reset()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                obs, reward, *_ = env.step(2)
            assert obs.tolist() == [2.0] and reward == 1.0
            messages = [str(w.message) for w in caught if issubclass(w.category, GodotScriptWarning)]
            if mode == "warn":
                assert len(messages) == 1 and "custom problem 42" in messages[0]
                assert caught[0].filename == __file__  # points at the step() call
            else:
                assert messages == []
            assert env.step(0)[0].tolist() == [0.0]  # counted once: nothing left over
        finally:
            env.close()
    with pytest.raises(ValueError, match="engine_errors"):
        GodotEnv(test_project, FAULTY, engine_errors="loud")


def test_vector_env_reports_after_every_engine_answered(test_project, no_leaks):
    venv = GodotVectorEnv(test_project, FAULTY, n_agents=2, n_engines=2, seed=3)
    try:
        venv.reset()
        with pytest.raises(GodotScriptError, match="custom problem 42"):
            venv.step(np.array([0, 0, 2, 0]))
        with pytest.raises(RuntimeError, match="reset"):
            venv.step(np.zeros(4, np.int64))
        obs, _ = venv.reset()
        obs, reward, *_ = venv.step(np.array([0, 0, 0, 0]))  # every engine in step again
        assert obs.ravel().tolist() == [0.0] * 4 and reward.tolist() == [1.0] * 4
    finally:
        venv.close()


@pytest.mark.parametrize("n_engines", [1, 2])
def test_split_step_reports_like_step(test_project, no_leaks, n_engines):
    """step_async + step_wait (the RLlib runner's step): the engine's errors raised by step_wait
    (the env then needs reset()), or warned about at step_wait's caller with the results kept."""
    n = 4 // n_engines
    for mode in ("raise", "warn"):
        venv = GodotVectorEnv(test_project, FAULTY, n_agents=n, n_engines=n_engines, seed=3, engine_errors=mode)
        try:
            venv.reset()
            venv.step_async(np.array([0, 0, 2, 0]))
            if mode == "raise":
                with pytest.raises(GodotScriptError, match="custom problem 42"):
                    venv.step_wait()
                with pytest.raises(RuntimeError, match="reset"):
                    venv.step_async(np.zeros(4, np.int64))
                venv.reset()
            else:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    obs, reward, *_ = venv.step_wait()
                assert obs.ravel().tolist() == [0.0, 0.0, 2.0, 0.0] and reward.tolist() == [1.0] * 4
                ours = [w for w in caught if issubclass(w.category, GodotScriptWarning)]
                assert len(ours) == 1 and "custom problem 42" in str(ours[0].message)
                assert ours[0].filename == __file__  # points at the step_wait() call
            venv.step_async(np.zeros(4, np.int64))
            obs, reward, *_ = venv.step_wait()  # counted once: nothing left over
            assert obs.ravel().tolist() == [0.0] * 4 and reward.tolist() == [1.0] * 4
        finally:
            venv.close()
