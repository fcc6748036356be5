"""`GodotAsyncVectorEnv` with camera images: two rendering engines of the reach_state scene run
free; every image `recv` returns belongs to the sub-environment its env id names (the picture
shows that agent's state) and answers the action last sent to it, exactly once."""

from __future__ import annotations

import numpy as np
import pytest
from test_dict_env import REACH_STATE, _check_frame

from godot_aigym.env import GodotAsyncVectorEnv
from godot_aigym.shm.semaphore import WAIT_ANY_AVAILABLE

MOVES = 0.3 * np.array([[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]])  # reach_agent.gd: STEP x MOVES


# recv waits in its own thread for the first engine (shm.semaphore.wait_any), or through the
# waiter threads alone, the only path of kernels without futex_waitv (tests/shm/test_wait_any.py
# checks the probe against the kernel release)
WAITS = [True, False] if WAIT_ANY_AVAILABLE else [False]


@pytest.mark.parametrize("fast_wait", WAITS, ids=["futex_waitv", "waiter-threads"][-len(WAITS):])
def test_async_images_reach_python_once_under_their_ids(display, fast_wait):
    """Both ways of waiting in recv: every image once, under its id."""
    env = GodotAsyncVectorEnv(scene=REACH_STATE, n_agents=2, n_engines=2, rendering=True, seed=0,
                              max_episode_steps=5)
    assert env.fast_wait is WAIT_ANY_AVAILABLE  # the default: what this system can do
    env.fast_wait = fast_wait
    rng = np.random.default_rng(7)
    try:
        obs, info = env.reset(seed=4)
        assert obs["camera"].shape == (4, 42, 42, 3) and info["env_id"].tolist() == [0, 1, 2, 3]
        state = {i: obs["state"][i].copy() for i in range(4)}
        for i in range(4):
            _check_frame(obs["camera"][i], obs["state"][i])
        sent: dict[int, int] = {}
        env.send(np.zeros(4, np.int64))  # every engine busy: recv returns whichever answers first
        sent.update({i: 0 for i in range(4)})
        ended: set[int] = set()
        answers = np.zeros(4, np.int64)
        for t in range(18):  # 16 rounds that send again, then the two commands still in flight
            obs, reward, terminated, truncated, info = env.recv()
            ids = info["env_id"]
            assert len(ids) == 2 and ids[0] // 2 == ids[1] // 2 and obs["camera"].shape == (2, 42, 42, 3)
            for j, i in enumerate(ids):
                a = sent.pop(int(i))  # exactly once: an answer only to a command in flight
                answers[i] += 1
                _check_frame(obs["camera"][j], obs["state"][j])  # the image is this agent's
                if i in ended:  # NEXT_STEP: the new episode's first observation
                    ended.discard(int(i))
                elif not terminated[j]:
                    expected = np.clip(state[i][:2] + MOVES[a], -4.0, 4.0)  # the arena's edge: ARENA + 1
                    assert np.allclose(obs["state"][j][:2], expected, atol=1e-5)
                if terminated[j] or truncated[j]:
                    ended.add(int(i))
                state[i] = obs["state"][j].copy()
            if t < 16:
                actions = rng.integers(0, 5, len(ids))
                env.send(actions, ids)
                sent.update({int(i): int(a) for i, a in zip(ids, actions)})
        # every engine answered (the last two recvs drain both, whichever engine was faster before)
        assert answers.sum() == 36 and (answers > 0).all() and not sent
    finally:
        env.close()
