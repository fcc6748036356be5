"""`GodotAsyncVectorEnv` (envpool-style send / recv) on real engines of the trivial scene, whose
observation is an exact function of the actions: every answer reaches Python exactly once, under
the right env ids, episodes are counted and autoreset right, and misuse or a dying engine raises
our documented errors and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
from env_testutil import TRIVIAL

from godot_aigym.env.async_vector_env import GodotAsyncVectorEnv
from godot_aigym.liveness import pid_alive
from godot_aigym.shm import EngineDiedError

LIMIT = 4  # max_episode_steps: truncation comes every 4 steps (the actions keep the sum below 10)


def _action_rows(env_ids: np.ndarray, t: int) -> np.ndarray:
    """Actions unique to (sub-environment, round): a0 names the id, a1 the round (exact float32),
    so the observation [a0, a1, sum, ticks] says which command it answers."""
    a = np.empty((len(env_ids), 2), np.float32)
    a[:, 0] = env_ids / 64.0
    a[:, 1] = -((t % 64) / 64.0)
    return a


@pytest.mark.parametrize("batch_engines", [1, 2])
def test_every_answer_reaches_python_once_with_its_ids_and_episodes(demo, no_leaks, batch_engines):
    n_agents, n_engines = 2, 3
    env = GodotAsyncVectorEnv(demo, TRIVIAL, n_agents=n_agents, n_engines=n_engines,
                              batch_size=batch_engines * n_agents, max_episode_steps=LIMIT)
    try:
        assert env.num_envs == 6 and env.observation_space.shape == (batch_engines * n_agents, 4)
        obs, info = env.reset(seed=0)
        assert obs.shape == (6, 4) and np.array_equal(info["env_id"], np.arange(6))
        assert np.all(obs[:, 2:] == 0)
        env.async_reset(seed=0)
        steps = np.zeros(6, np.int64)  # steps since the episode began, counted here
        pending_next_reset = np.zeros(6, np.bool_)
        sent: dict[int, np.ndarray] = {}  # id -> the action row of its command in flight
        seen_first = set()
        rounds = np.zeros(6, np.int64)  # commands sent per id
        popped = np.zeros(6, np.int64)  # their answers received
        stepped = np.zeros(6, np.int64)  # step answers (not autoresets) per id
        for t in range(100_000):  # until every id ran two episodes (the bound only fires if broken)
            if (stepped >= 2 * LIMIT).all():
                break
            o, r, te, tr, info = env.recv()
            ids = info["env_id"]
            assert len(ids) == batch_engines * n_agents and len(set(ids.tolist())) == len(ids)
            assert o.shape == (len(ids), 4) and r.dtype == np.float64 and te.dtype == tr.dtype == np.bool_
            for j, i in enumerate(ids):
                assert i // n_agents == ids[j - j % n_agents] // n_agents  # whole engines, agents in order
                if i not in seen_first:  # the answer to async_reset
                    seen_first.add(i)
                    assert o[j, 3] == 0 and i not in sent
                    continue
                a = sent.pop(i)  # exactly once: the id had a command in flight, now answered
                popped[i] += 1
                if pending_next_reset[i]:  # NEXT_STEP: the step after the end is the new episode's start
                    assert o[j, 3] == 0 and o[j, 2] == 0 and r[j] == 0 and not te[j] and not tr[j]
                    pending_next_reset[i], steps[i] = False, 0
                    continue
                steps[i] += 1
                stepped[i] += 1
                assert o[j, 0] == a[0] and o[j, 1] == a[1] and o[j, 3] == steps[i]
                assert r[j] == np.float32(float(a[0]) - 0.5 * float(a[1])) and not te[j]  # GDScript: doubles
                assert tr[j] == (steps[i] == LIMIT)
                pending_next_reset[i] = tr[j]
            acts = _action_rows(ids, t)
            env.send(acts, ids)
            for j, i in enumerate(ids):
                sent[i] = acts[j]
                rounds[i] += 1
        assert (stepped >= 2 * LIMIT).all() and seen_first == set(range(6))
        for i in range(6):  # every command sent was answered once, or is still in flight
            assert rounds[i] == popped[i] + (i in sent)
    finally:
        env.close()


def test_send_in_any_order_and_step(demo, no_leaks):
    env = GodotAsyncVectorEnv(demo, TRIVIAL, n_agents=2, n_engines=2, batch_size=4)
    try:
        env.reset(seed=1)
        ids = np.array([3, 2, 1, 0])  # engine 1 first, its agents reversed
        acts = _action_rows(ids, 1)
        obs, _, _, _, info = env.step(acts, ids)
        for j, i in enumerate(info["env_id"]):
            assert obs[j, 0] == acts[list(ids).index(i), 0]
        obs, *_, info = env.step(np.zeros((4, 2), np.float32))  # default ids: all
        assert sorted(info["env_id"].tolist()) == [0, 1, 2, 3] and (obs[:, 3] == 2).all()
    finally:
        env.close()


def test_the_obvious_loop_and_num_envs(demo, no_leaks):
    # step(action_space.sample()) after reset: batch_size rows go to the first engine of the reset's
    # batch, then to the engines each recv returned (docs/ENVIRONMENTS.md, "Async")
    env = GodotAsyncVectorEnv(demo, TRIVIAL, num_envs=4, n_engines=2)
    try:
        assert env.n_agents == 2 and env.action_space.shape == (2, 2)
        obs, info = env.reset(seed=0)
        for t in range(1, 4):
            acts = env.action_space.sample()
            obs, *_, info = env.step(acts)
            assert info["env_id"].tolist() == [0, 1] and (obs[:, 3] == t).all()
            assert np.array_equal(obs[:, 0], acts[:, 0])
        env.send(np.zeros((4, 2), np.float32), [0, 1, 2, 3])
        _, _, _, _, first = env.recv()
        acts = _action_rows(first["env_id"], 5)
        env.send(acts)  # no ids: the engine the last recv returned
        answers = [env.recv() for _ in range(2)]  # the other engine's answer, and this one's
        obs = next(a[0] for a in answers if np.array_equal(a[4]["env_id"], first["env_id"]))
        assert np.array_equal(obs[:, 0], acts[:, 0])
    finally:
        env.close()
    with pytest.raises(ValueError, match=r"^num_envs=3 is not a multiple of n_engines=2$"):
        GodotAsyncVectorEnv(demo, TRIVIAL, num_envs=3, n_engines=2)
    with pytest.raises(ValueError, match=r"^num_envs=3 != n_agents=2 x n_engines=2$"):
        GodotAsyncVectorEnv(demo, TRIVIAL, num_envs=3, n_agents=2, n_engines=2)


def test_rows_for_every_sub_environment_go_to_every_idle_engine(demo, no_leaks):
    # send() without ids after every engine answered, with num_envs rows: all engines, as before the
    # last-batch default (the last batch was one engine's)
    env = GodotAsyncVectorEnv(demo, TRIVIAL, n_agents=2, n_engines=2)
    try:
        env.reset(seed=0)
        env.send(np.zeros((4, 2), np.float32), [0, 1, 2, 3])
        env.recv(), env.recv()
        acts = _action_rows(np.arange(4), 5)
        env.send(acts)
        got = {}
        for _ in range(2):
            obs, *_, info = env.recv()
            got.update({int(i): row[0] for i, row in zip(info["env_id"], obs)})
        assert [got[i] for i in range(4)] == acts[:, 0].tolist()
    finally:
        env.close()


def test_misuse_is_refused_and_the_env_stays_usable(demo, no_leaks):
    env = GodotAsyncVectorEnv(demo, TRIVIAL, n_agents=2, n_engines=2)
    try:
        env.reset(seed=0)
        with pytest.raises(RuntimeError, match="send\\(\\) first"):
            env.recv()  # nothing sent: would wait for ever
        zeros = np.zeros((2, 2), np.float32)
        for ids, match in (([0, 2], "whole engines"), ([0, 0], "twice"), ([4, 5], "outside 0..3"),
                           ([[0, 1]], "1-d"), ([0.0, 1.0], "1-d")):
            with pytest.raises(ValueError, match=match):
                env.send(zeros, ids)
        with pytest.raises(ValueError, match="action rows"):
            env.send(np.zeros((3, 2), np.float32), [0, 1])
        with pytest.raises(ValueError):
            env.send(np.full((2, 2), 5.0, np.float32), [0, 1])  # outside the Box: nothing sent
        env.send(zeros, [2, 3])
        with pytest.raises(RuntimeError, match="not returned yet"):
            env.send(zeros, [2, 3])
        with pytest.raises(RuntimeError, match="every engine idle"):
            env.async_reset()
        _, _, _, _, info = env.recv()
        assert info["env_id"].tolist() == [2, 3]
        with pytest.raises(ValueError, match="NEXT_STEP"):
            GodotAsyncVectorEnv(demo, TRIVIAL, autoreset_mode="same_step")
        with pytest.raises(ValueError, match="multiple of n_agents"):
            GodotAsyncVectorEnv(demo, TRIVIAL, n_agents=2, batch_size=3)
    finally:
        env.close()
    with pytest.raises(RuntimeError, match="closed"):
        env.recv()


def test_an_engine_death_during_recv_raises_and_closes_everything(demo, no_leaks):
    env = GodotAsyncVectorEnv(demo, TRIVIAL, n_agents=2, n_engines=2)
    env.reset(seed=0)
    handles = [link.handle for link in env.links]
    os.kill(env.engines[1].pid, signal.SIGKILL)
    env.send(np.zeros((4, 2), np.float32))  # engine 0 answers; engine 1 never will
    with pytest.raises(EngineDiedError, match="died"):
        for _ in range(2):
            env.recv()
    assert not any(os.path.exists(f"/dev/shm/{h}") for h in handles)  # both engines stopped
    for call in (env.recv, lambda: env.send(np.zeros((2, 2), np.float32), [0, 1]), env.async_reset):
        with pytest.raises(RuntimeError, match="create a new GodotAsyncVectorEnv"):
            call()
    env.close()


def test_close_with_commands_in_flight_leaves_nothing(demo, no_leaks):
    env = GodotAsyncVectorEnv(demo, TRIVIAL, n_agents=2, n_engines=2)
    env.async_reset(seed=0)
    env.close()  # both resets in flight: answered, then the engines quit
    env.close()


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as f:
        return f.read().rsplit(b")", 1)[1].split()[0].decode()


def test_close_stops_an_engine_that_never_answers_its_waiter(demo, no_leaks):
    """close() while engine 1's waiter thread waits for an answer that never comes (the engine is
    stopped and there is no step timeout): once the close grace is over the engine is killed, its
    waiter reports, and close() returns with nothing left behind (it raised queue.Empty before)."""
    env = GodotAsyncVectorEnv(demo, TRIVIAL, n_agents=2, n_engines=2, step_timeout=None)
    pids = [proc.pid for proc in env.engines]
    try:
        env.reset(seed=0)
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        for pid in pids:  # stopped for good before anything is sent (a spinning engine stops a bit later)
            while _state(pid) != "T":
                time.sleep(0.001)
        env.send(np.zeros((4, 2), np.float32))

        def resume_engine_0() -> None:  # once recv has handed both engines to their waiters
            deadline = time.monotonic() + 120.0  # a safety net only
            while not all(env._waiting) and time.monotonic() < deadline:
                time.sleep(0.001)
            os.kill(pids[0], signal.SIGCONT)

        resumer = threading.Thread(target=resume_engine_0, daemon=True)
        resumer.start()
        _, _, _, _, info = env.recv()
        resumer.join()
        assert info["env_id"].tolist() == [0, 1] and env._waiting[1]
        env.close_grace = 0.0  # no need to give the stopped engine the usual time to answer
        env.close()
        assert not any(pid_alive(pid) for pid in pids)
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        env.close()
