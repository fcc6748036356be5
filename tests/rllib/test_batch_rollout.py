"""`Rollout.pack` cuts a rollout into episodes with array operations over all sub-environments;
here it is checked against a plain per-sub-environment loop (the reference) on random patterns of
episode ends, across consecutive rollouts: NEXT_STEP reset steps, episodes that end on a
rollout's last step or right before it, chunks continued under their id, ``keep_open=False``."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

SPACES = (gym.spaces.Box(-1, 1, (2,), np.float32), gym.spaces.Discrete(2))


def _reference(opened, done, term, keep_open):
    """Old per-sub-environment loop: [(env, start, end, terminated, truncated, continues)] and the
    next state (pending_reset, t_started advance of each open chunk or None when a new episode began)."""
    n, T = done.shape
    rows, pending, t_next = [], np.zeros(n, bool), list(opened.t_started)
    for i in range(n):
        start, cont = (1, False) if opened.pending_reset[i] else (0, True)
        t0 = int(opened.t_started[i]) if cont else 0
        for k in np.flatnonzero(done[i]):
            rows.append((i, start, k + 1, bool(term[i, k]), bool(not term[i, k]), cont))
            start, cont, t0 = k + 2, False, 0
        if start == T + 1:
            pending[i] = True
        elif start < T:
            if keep_open:
                rows.append((i, start, T, False, False, cont))
            t_next[i] = t0 + T - start
        elif T:  # a new episode began at the last observation
            t_next[i] = 0
    # RLlib's order: finished episodes as they ended (step, sub-environment), then ongoing chunks
    rows.sort(key=lambda r: (not (r[3] or r[4]), r[2] if r[3] or r[4] else 0, r[0]))
    return rows, pending, t_next


@pytest.mark.parametrize("seed", range(40))
def test_pack_cuts_what_a_per_environment_loop_cuts(seed):
    from godot_aigym.rllib.batch_rollout import OpenEpisodes, Rollout  # RLlib: imported by the worker running it

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 6))
    opened = OpenEpisodes.after_reset(rng.random((n, 2), np.float32))
    for _ in range(4):  # consecutive rollouts continue each other
        T = int(rng.integers(0, 9))
        keep_open = bool(rng.random() < 0.8)
        rollout = Rollout(opened, {"weights_seq_no": 3})
        resetting = opened.pending_reset.copy()
        done_steps, term_steps = [], []
        for _k in range(T):  # a reset step never ends an episode
            done = (rng.random(n) < 0.35) & ~resetting
            term = done & (rng.random(n) < 0.5)
            rollout.add(rng.random((n, 2), np.float32), rng.integers(0, 2, n), rng.random(n).astype(np.float32),
                        term, done & ~term, {"action_logp": rng.random(n).astype(np.float32)})
            done_steps.append(done)
            term_steps.append(term)
            resetting = done
        done = np.array(done_steps, bool).reshape(T, n).T
        term = np.array(term_steps, bool).reshape(T, n).T
        rows, pending, t_next = _reference(opened, done, term, keep_open)
        packed, nxt = rollout.pack(*SPACES, keep_open=keep_open)
        s = packed.segments
        got = [(i, a, b, te, tr, id_ in opened.ids and id_ == opened.ids[i])
               for i, a, b, te, tr, id_ in zip(s.env.tolist(), s.start.tolist(), s.end.tolist(),
                                                s.terminated.tolist(), s.truncated.tolist(), s.ids)]
        assert got == rows
        assert len(set(s.ids)) == len(s.ids)
        for (i, a, _b, *_rest, cont), t0 in zip(rows, s.t_started.tolist()):
            assert t0 == (int(opened.t_started[i]) if cont else 0)
        np.testing.assert_array_equal(nxt.pending_reset, pending)
        if keep_open:
            for i in range(n):
                if not pending[i]:
                    assert nxt.t_started[i] == t_next[i]
                    chunk = [id_ for j, id_ in zip(s.env.tolist(), s.ids) if j == i][-1:] or [opened.ids[i]]
                    if nxt.t_started[i]:  # an ongoing chunk keeps its id into the next rollout
                        assert nxt.ids[i] == chunk[0]
        if T:
            episodes = packed.build()
            assert [len(e) for e in episodes] == [b - a for _i, a, b, *_ in rows]
            assert "weights_seq_no" not in packed.extras  # sent as one value, expanded by build()
            assert all(np.array_equal(e.get_extra_model_outputs("weights_seq_no"), [3] * len(e)) for e in episodes)
            for e, r in zip(episodes, packed.summaries()):
                assert r.get_return() == pytest.approx(e.get_return()) and len(r) == len(e)
                assert r.is_done == e.is_done
        opened = nxt


def test_packed_episodes_send_their_spaces_once_per_receiver():
    """A runner sends the same spaces with every sample: pickled once by the sender, unpickled
    once by the receiver (their RNG state alone took ~0.3 ms a sample both ways)."""
    import pickle

    from godot_aigym.rllib.batch_rollout import OpenEpisodes, Rollout

    spaces = (gym.spaces.Box(-1, 1, (2,), np.float32), gym.spaces.Discrete(3))
    opened = OpenEpisodes.after_reset(np.zeros((2, 2), np.float32))
    received = []
    for step in range(3):
        rollout = Rollout(opened, {"weights_seq_no": step})
        rollout.add(np.ones((2, 2), np.float32), np.array([0, 2]), np.ones(2, np.float32), np.array([True, False]),
                    np.array([False, False]), {})
        packed, opened = rollout.pack(*spaces, keep_open=True)
        received.append(pickle.loads(pickle.dumps(packed)))
        assert packed.observation_space is spaces[0] and packed.action_space is spaces[1]  # the sender's untouched
    first = received[0]
    assert first.observation_space == spaces[0] and first.action_space == spaces[1]
    assert all(r.observation_space is first.observation_space and r.action_space is first.action_space
               for r in received)
    episodes = received[-1].build()
    assert [e.observation_space for e in episodes] == [spaces[0]] * len(episodes)
    assert [e.action_space for e in episodes] == [spaces[1]] * len(episodes)


@pytest.mark.parametrize("protocol, out_of_band", [(4, False), (5, False), (5, True)])
def test_episode_batch_pickles_at_any_protocol(protocol, out_of_band):
    """An `EpisodeBatch` with arrays above its out-of-band size pickles at protocol 4 (arrays
    in-band; it raised PicklingError before) and 5 (out-of-band buffers when the pickler takes them)."""
    import pickle

    from godot_aigym.rllib.batch_rollout import EpisodeBatch, OpenEpisodes, Rollout

    n, steps = 64, 160  # observations of 64 x 161 x 2 float32: above OUT_OF_BAND
    rng = np.random.default_rng(0)
    rollout = Rollout(OpenEpisodes.after_reset(rng.random((n, 2), np.float32)), {"weights_seq_no": 1})
    for k in range(steps):
        done = np.zeros(n, bool)
        done[k % n] = True
        rollout.add(rng.random((n, 2), np.float32), np.zeros(n, np.int64), np.ones(n, np.float32), done,
                    np.zeros(n, bool), {})
    packed, _ = rollout.pack(*SPACES, keep_open=True)
    assert packed.obs.nbytes >= EpisodeBatch.OUT_OF_BAND
    buffers = []
    blob = pickle.dumps(EpisodeBatch(packed), protocol=protocol,
                        buffer_callback=buffers.append if out_of_band else None)
    assert bool(buffers) == out_of_band
    episodes = pickle.loads(blob, buffers=buffers)
    expected = packed.build()
    assert [e.id_ for e in episodes] == [e.id_ for e in expected]
    for got, want in zip(episodes, expected):
        np.testing.assert_array_equal(got.get_observations(), want.get_observations())
