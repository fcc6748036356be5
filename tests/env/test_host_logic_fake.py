"""The host side of the step protocol against a protocol-level fake engine (fake_engine.py: a
Python process on real shared memory with the trivial environment's rules). Milliseconds per
test instead of a Godot start-up: vector-env bookkeeping, autoreset, bad input and every error
path. The same behaviours run end to end on real engines in the other test modules."""

from __future__ import annotations

import os
import signal
import warnings

import gymnasium
import numpy as np
import pytest
from env_testutil import DEMO, TRIVIAL, wait_gone
from fake_engine import FakeEngine

from godot_aigym.env import (EnvOptions, GodotEnv, GodotEnvError, GodotScriptError, GodotScriptWarning,
                             GodotVectorEnv)
from godot_aigym.env import protocol as P
from godot_aigym.shm import EngineDiedError, EngineScriptError
from godot_aigym.shm.errors import EngineTimeoutError


def fake_env(**kwargs) -> GodotEnv:
    return GodotEnv(DEMO, TRIVIAL, launcher=kwargs.pop("launcher", FakeEngine()), cpus=None, **kwargs)


def fake_venv(**kwargs) -> GodotVectorEnv:
    return GodotVectorEnv(DEMO, TRIVIAL, launcher=kwargs.pop("launcher", FakeEngine()), cpus=None, **kwargs)


@pytest.fixture
def venv2(no_leaks):
    env = fake_venv(n_agents=2, n_engines=2)
    yield env
    env.close()


def walk(n: int, steps: int = 1) -> np.ndarray:
    return np.full((n, 2), 0.01, np.float32)


# -- bad input at the API (issue 10) ----------------------------------------------------------
def test_step_after_close_raises(venv2):
    venv2.reset(seed=0)
    venv2.close()
    with pytest.raises(RuntimeError, match="closed"):
        venv2.step(walk(4))
    with pytest.raises(RuntimeError, match="closed"):
        venv2.reset()


def test_step_after_an_engine_died_says_to_recreate(no_leaks):
    venv2 = fake_venv(n_agents=2, n_engines=2, launcher=FakeEngine(process=True))  # engines that can die
    venv2.reset(seed=0)
    pid = venv2.engines[1].pid
    assert pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    assert wait_gone(pid)
    with pytest.raises(EngineDiedError, match="died"):
        venv2.step(walk(4))
    assert venv2.links == []  # the other engine was stopped too
    for call in (lambda: venv2.step(walk(4)), lambda: venv2.reset()):
        with pytest.raises(RuntimeError, match="engine failed.*create a new GodotVectorEnv"):
            call()
    venv2.close()


@pytest.mark.parametrize("seed", [[1, 2, 3], [1, 2, 3, 4, 5], [1.5, 2, 3, 4], "seed", [True, 1, 2, 3]])
def test_seed_list_of_the_wrong_kind_is_refused(venv2, seed):
    with pytest.raises(ValueError, match="list of 4 ints"):
        venv2.reset(seed=seed)
    obs, _ = venv2.reset(seed=[5, None, 7, None])  # one per sub-environment; engine k takes its first agent's
    again, _ = venv2.reset(seed=[5, 0, 7, 0])
    np.testing.assert_array_equal(obs, again)


@pytest.mark.parametrize("kwargs, match", [
    ({"max_episode_steps": -5}, "max_episode_steps must be an integer >= 0"),
    ({"max_episode_steps": 2.5}, "max_episode_steps"),
    ({"action_repeat": 0}, "action_repeat must be a positive integer"),
    ({"timeout": -1}, "timeout must be a positive number"),
    ({"engine_errors": "loud"}, "engine_errors"),
    ({"render_mode": "ansi"}, "render_mode"),
    ({"user_args": "--x"}, "user_args must be a sequence of strings"),
])
def test_bad_options_are_refused_before_anything_starts(kwargs, match, no_leaks):
    for cls in (GodotEnv, GodotVectorEnv):
        with pytest.raises(ValueError, match=match):
            cls(DEMO, TRIVIAL, launcher=FakeEngine(), **kwargs)


def test_unknown_keyword_is_named(no_leaks):
    with pytest.raises(TypeError, match="GodotEnv.*max_steps"):
        GodotEnv(DEMO, TRIVIAL, max_steps=3)
    with pytest.raises(ValueError, match="log_dir"):
        GodotVectorEnv(DEMO, TRIVIAL, log_path="/tmp/x.log")


@pytest.mark.parametrize("action, match", [
    (np.array([0.5 + 1j, 0.1]), "real numbers.*complex"),
    (["0.5", "0.1"], "real numbers"),
    (np.array(["0.5", "0.1"]), "real numbers"),
    ([0.5, None], "real numbers"),
    (np.array([np.nan, 0.0]), "outside"),
    (np.array([1e39, 0.0]), "outside"),  # inf as float32
    (np.zeros((1, 2), np.float32), "shape"),
    (0.5, "shape"),
])
def test_box_actions_of_the_wrong_kind_are_refused(action, match, no_leaks):
    env = fake_env()
    try:
        env.reset(seed=0)
        with pytest.raises(ValueError, match=match):
            env.step(action)
        obs, *_ = env.step(np.array([0.25, 0.5]))  # float64 and ints are fine; still usable
        assert obs[:2].tolist() == [0.25, 0.5]
    finally:
        env.close()


def test_vector_box_actions_of_the_wrong_kind_are_refused(venv2):
    venv2.reset(seed=0)
    for bad, match in ((np.zeros((4, 2), np.complex64), "real numbers"), ([["0", "0"]] * 4, "real numbers"),
                       (np.zeros((4, 3)), "shape"), (np.zeros(8), "shape")):
        with pytest.raises(ValueError, match=match):
            venv2.step(bad)
    bad = np.zeros((4, 2))
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="sub-environment 3"):
        venv2.step(bad)
    venv2.step(np.zeros((4, 2), np.int64))


# -- autoreset, decided by the engine ---------------------------------------------------------
def test_next_step_autoreset_needs_no_mask_from_the_host(venv2):
    venv2.reset(seed=2)
    acts = np.zeros((4, 2), np.float32)
    acts[3] = [1.0, 1.0]  # agent 1 of engine 1: sum 2 per step, terminated at step 5
    for _ in range(5):
        obs, rew, term, trunc, info = venv2.step(acts)
    assert term.tolist() == [False, False, False, True] and info == {}
    assert obs[3].tolist() == [1.0, 1.0, 10.0, 5.0]
    obs, rew, term, trunc, _ = venv2.step(acts)  # reset by the engine: first observation, reward 0
    assert obs[3, 2:].tolist() == [0.0, 0.0] and rew[3] == 0.0 and not term[3] and not trunc[3]
    assert obs[:3, 3].tolist() == [6.0, 6.0, 6.0]
    obs, *_ = venv2.step(acts)
    assert obs[3].tolist() == [1.0, 1.0, 2.0, 1.0]


def test_reset_mask_clears_a_pending_next_step_reset(venv2):
    venv2.reset(seed=3)
    acts = np.zeros((4, 2), np.float32)
    acts[0] = [1.0, 1.0]
    for _ in range(5):
        _, _, term, *_ = venv2.step(acts)
    assert term[0]
    obs, _ = venv2.reset(options={"reset_mask": [True, False, False, False]})
    assert obs[0, 3] == 0 and obs[1, 3] == 5
    obs, rew, *_ = venv2.step(acts)  # not reset a second time by the engine
    assert obs[0].tolist() == [1.0, 1.0, 2.0, 1.0] and rew[0] == 0.5


def test_same_step_and_disabled_autoreset(no_leaks):
    for mode in ("SameStep", "Disabled"):
        env = fake_venv(n_agents=3, autoreset_mode=mode, max_episode_steps=4)
        try:
            env.reset(seed=0)
            acts = np.zeros((3, 2), np.float32)
            for _ in range(3):
                env.step(acts)
            obs, rew, term, trunc, info = env.step(acts)
            assert trunc.all() and not term.any()
            if mode == "SameStep":
                assert obs[:, 3].tolist() == [0, 0, 0] and info["_final_obs"].all()
                assert [f[3] for f in info["final_obs"]] == [4, 4, 4]
                env.step(acts)
            else:
                assert obs[:, 3].tolist() == [4, 4, 4] and info == {}
                with pytest.raises(RuntimeError, match="reset_mask"):
                    env.step(acts)
                env.reset(options={"reset_mask": [True, True, True]})
                assert env.step(acts)[0][:, 3].tolist() == [1, 1, 1]
        finally:
            env.close()


# -- error paths ------------------------------------------------------------------------------
def test_engine_errors_raise_and_need_a_reset(no_leaks):
    env = fake_env(launcher=FakeEngine(error_on_action=-0.5))
    try:
        env.reset(seed=0)
        with pytest.raises(GodotScriptError, match="(?s)logged 1 error.*error on request"):
            env.step(np.array([-0.5, 0.0]))
        with pytest.raises(RuntimeError, match="reset"):
            env.step(np.array([0.0, 0.0]))
        env.reset()
        env.step(np.array([0.0, 0.0]))
    finally:
        env.close()


def test_warn_and_ignore_modes_keep_the_results(no_leaks):
    for mode in ("warn", "ignore"):
        env = fake_env(launcher=FakeEngine(error_on_action=-0.5), engine_errors=mode)
        try:
            env.reset(seed=0)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                obs, reward, *_ = env.step(np.array([-0.5, 0.0]))
            assert obs[:2].tolist() == [-0.5, 0.0] and reward == -0.5
            messages = [str(w.message) for w in caught if issubclass(w.category, GodotScriptWarning)]
            if mode == "warn":
                assert len(messages) == 1 and "error on request" in messages[0]
                assert caught[0].filename == __file__  # points at the step() call
            else:
                assert messages == []
            env.step(np.zeros(2))  # counted once: nothing left over
        finally:
            env.close()
    venv = fake_venv(n_agents=2, n_engines=2, launcher=FakeEngine(error_on_action=-0.5), engine_errors="warn")
    try:
        venv.reset(seed=0)
        with pytest.warns(GodotScriptWarning, match="error on request") as caught:
            venv.step(np.array([[-0.5, 0], [0, 0], [-0.5, 0], [0, 0]]))
        assert len(caught) == 2 and all(w.filename == __file__ for w in caught)  # one per engine
    finally:
        venv.close()


def test_a_hung_engine_is_a_timeout_not_a_death(no_leaks):
    env = fake_env(launcher=FakeEngine(hang_after=3), step_timeout=60)
    env.reset(seed=0)  # the answering commands: under the generous timeout, however loaded the machine
    env.step(np.zeros(2))
    assert env.link.step_timeout == 60
    env.link.step_timeout = 0.5  # only the hung command waits this short
    with pytest.raises(EngineTimeoutError, match=r"(?s)did not answer within 0.5 s.*hanging as asked"):
        env.step(np.zeros(2))
    with pytest.raises(RuntimeError, match="closed"):
        env.step(np.zeros(2))
    env.close()


def test_an_engine_stuck_on_an_error_closes_the_vector_env(no_leaks):
    """EngineScriptError from one engine while the others' answers are still to be taken: the env
    closes (before, it stayed open and the next step read the other engine's previous answer)."""
    launchers = iter([FakeEngine(stuck_after=3), FakeEngine()])  # engine 0 stops, engine 1 answers
    venv = fake_venv(n_agents=1, n_engines=2, launcher=lambda launch, **kw: next(launchers)(launch, **kw),
                     step_timeout=20)
    try:
        venv.reset(seed=0)
        venv.step(np.zeros((2, 2)))
        with pytest.raises(EngineScriptError, match="stuck as asked"):
            venv.step(np.zeros((2, 2)))
        with pytest.raises(RuntimeError, match="closed because an engine failed"):
            venv.step(np.zeros((2, 2)))
    finally:
        venv.close()


def test_a_dead_engine_is_reported_with_its_log(no_leaks):
    env = fake_env(launcher=FakeEngine(die_after=2))
    env.reset(seed=0)
    with pytest.raises(EngineDiedError, match=r"(?s)died \(exit code 3\).*dying as asked"):
        env.step(np.zeros(2))
    env.close()


def test_start_up_errors(no_leaks):
    with pytest.raises(GodotEnvError, match="reported an error: no agents here"):
        fake_env(launcher=FakeEngine(fatal="no agents here"))
    with pytest.raises(GodotEnvError, match="protocol mismatch.*version 1"):
        fake_env(launcher=FakeEngine(spec_overrides={"version": 1}))
    with pytest.raises(GodotEnvError, match="inconsistent spec"):
        fake_env(launcher=FakeEngine(spec_overrides={"in_size": 3}))
    with pytest.raises(GodotEnvError, match="malformed environment description"):
        fake_env(launcher=FakeEngine(spec_overrides={"observation": {}}))
    with pytest.raises(GodotEnvError, match="runs 1 agents but 2 were requested"):
        fake_venv(n_agents=2, launcher=FakeEngine(spec_overrides={
            "n_agents": 1, "in_size": P.in_size(1, 2), "out_size": P.out_size(1, 4)}))


def test_options_travel_as_one_dataclass(no_leaks):
    options = EnvOptions(project=DEMO, scene=TRIVIAL, launcher=FakeEngine(), cpus=None, max_episode_steps=2)
    env = GodotEnv(options=options)
    try:
        assert env.link.options is options and env.env_spec.max_episode_steps == 2
        env.reset(seed=1)
        assert env.step(np.zeros(2))[3] is False and env.step(np.zeros(2))[3] is True
    finally:
        env.close()
    assert P.Layout(2, 4, 2).in_size == P.in_size(2, 2)


def test_make_vec_registration(no_leaks):
    """gymnasium.make_vec passes num_envs and keywords through to GodotVectorEnv (one engine)."""
    envs = gymnasium.make_vec("godot_aigym/Trivial-v0", num_envs=4, launcher=FakeEngine(), cpus=None)
    try:
        assert isinstance(envs.unwrapped, GodotVectorEnv)
        assert envs.num_envs == 4 and envs.unwrapped.n_engines == 1
        obs, _ = envs.reset(seed=0)
        assert obs.shape == (4, 4)
        envs.step(envs.action_space.sample())
    finally:
        envs.close()


def test_engine_link_steps_without_a_checker(no_leaks):
    """EngineLink is public: step() works without use_checker(), writing the actions as given."""
    from godot_aigym.env import EngineLink
    link = EngineLink(EnvOptions(project=DEMO, scene=TRIVIAL, launcher=FakeEngine(), cpus=None), n_agents=2)
    try:
        link.connect()
        link.reset()
        results = link.step(walk(2).ravel())
        assert results.obs.shape[0] == 2 and np.isfinite(results.reward).all()
    finally:
        link.close()
