"""GodotAsyncVectorEnv keeps watching every engine in flight while others keep answering: with a
batch of one engine, recv() can return for ever from the live engine, and the engine that died (or
hangs) with a command in flight must still surface as EngineDiedError (EngineTimeoutError), not
leave its agents silently out of the training. (The futex_waitv fast path once handed engines to
their waiter threads, the only watchers of death and step_timeout, only after a slice in which no
engine answered: 383,932 recv calls in 5 s and no error.) Real engines, trivial scene."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
from env_testutil import TRIVIAL

from godot_aigym.env.async_vector_env import GodotAsyncVectorEnv
from godot_aigym import EngineDiedError, EngineTimeoutError

SAFETY_CALLS = 5_000_000  # a bound on the loop, far above the calls of one watch slice on any machine


def _drive_the_live_engine(env: GodotAsyncVectorEnv, live: int) -> int:
    """send/recv to engine `live` alone until recv raises; returns the calls made (for the message)."""
    for calls in range(SAFETY_CALLS):
        _, _, _, _, info = env.recv()
        assert set(info["env_id"] // env.n_agents) == {live}
        env.send(np.zeros((env.n_agents, 2), np.float32), info["env_id"])
    return SAFETY_CALLS


def _state(pid: int) -> str:
    """The process's state letter from /proc ("" once it is reaped)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0].decode()
    except FileNotFoundError:
        return ""


@pytest.mark.parametrize("fault", ["killed", "stopped"])
def test_a_silent_engine_is_caught_while_the_other_keeps_answering(demo, no_leaks, fault):
    env = GodotAsyncVectorEnv(demo, TRIVIAL, n_agents=2, n_engines=2, batch_size=2,
                              step_timeout=None if fault == "killed" else 3.0)
    pid = env.engines[1].pid
    try:
        env.reset(seed=0)
        # engine 1 falls silent, then both get a command; engine 0 is then stepped alone
        os.kill(pid, signal.SIGKILL if fault == "killed" else signal.SIGSTOP)
        while _state(pid) not in ("T", "Z", "X", ""):  # stopped or dead before anything is sent
            os.sched_yield()
        env.send(np.zeros((4, 2), np.float32))
        expected = EngineDiedError if fault == "killed" else EngineTimeoutError
        # the error names the silent engine (not the live one timing out on a loaded machine)
        with pytest.raises(expected, match=rf"\(engine 1 of 2, pid {pid}\)"):
            _drive_the_live_engine(env, live=0)
    finally:
        if fault == "stopped":
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        env.close()
