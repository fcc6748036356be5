"""Errors an engine logs while serving a step of GodotAsyncVectorEnv reach recv()'s caller: raised
as GodotScriptError, or warned about at the recv() call with the results kept, on both of recv's
waits (its own futex_waitv, the waiter threads). Scene: tests/project/env/faulty.tscn (action 2:
push_error "faulty agent: custom problem 42")."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from godot_aigym.env.async_vector_env import GodotAsyncVectorEnv
from godot_aigym.env.protocol import GodotScriptError, GodotScriptWarning
from godot_aigym.shm.semaphore import WAIT_ANY_AVAILABLE

FAULTY = "res://env/faulty.tscn"
WAITS = [True, False] if WAIT_ANY_AVAILABLE else [False]


@pytest.mark.parametrize("fast_wait", WAITS, ids=["futex_waitv", "waiter-threads"][-len(WAITS):])
@pytest.mark.parametrize("mode", ["raise", "warn"])
def test_recv_reports_the_engine_errors_of_the_batch_it_returns(test_project, no_leaks, fast_wait, mode):
    env = GodotAsyncVectorEnv(test_project, FAULTY, n_agents=2, n_engines=2, seed=3, engine_errors=mode)
    try:
        env.fast_wait = fast_wait
        env.reset(seed=3)
        env.send(np.array([0, 0]), np.array([0, 1]))  # engine 0: nothing wrong
        obs, reward, *_, info = env.recv()
        assert info["env_id"].tolist() == [0, 1] and obs.ravel().tolist() == [0.0, 0.0]
        env.send(np.array([0, 2]), info["env_id"])  # engine 0's agent 1 logs an error
        if mode == "raise":
            with pytest.raises(GodotScriptError, match="custom problem 42"):
                env.recv()
        else:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                obs, reward, *_, info = env.recv()
            assert info["env_id"].tolist() == [0, 1] and obs.ravel().tolist() == [0.0, 2.0]
            assert reward.tolist() == [1.0, 1.0]
            ours = [w for w in caught if issubclass(w.category, GodotScriptWarning)]
            assert len(ours) == 1 and "custom problem 42" in str(ours[0].message)
            assert ours[0].filename == __file__  # points at the recv() call
        env.send(np.array([0, 0]), np.array([0, 1]))  # the engine stays usable: the next batch is clean
        with warnings.catch_warnings():
            warnings.simplefilter("error", GodotScriptWarning)
            obs, *_, info = env.recv()
        assert info["env_id"].tolist() == [0, 1] and obs.ravel().tolist() == [0.0, 0.0]
    finally:
        env.close()
