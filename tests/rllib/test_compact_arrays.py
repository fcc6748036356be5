"""A runner's sample crosses Ray in compact forms (`compact_arrays`) that give back the same bytes,
dtypes and shapes; a plain PPOConfig()'s 4,000-step cart-pole call then fits Ray's 100 KiB inline
limit (it was ~156 kB, which goes through the object store), and the driver builds the same
episodes from it as the runner would have."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest

RAY_INLINE_LIMIT = 100 * 1024  # ray's max_direct_call_object_size default


def _same(got, want):
    assert type(got) is type(want) and got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()


def _arrays():
    rng = np.random.default_rng(3)
    yield np.full((16, 250), 1.0)
    yield np.full((4, 5), -0.0, np.float32)  # equal to 0.0, other bytes
    nan = np.frombuffer(np.uint32(0x7FC00001).tobytes(), np.float32)[0]  # a NaN with a payload
    yield np.full(7, nan)
    yield np.where(rng.random((16, 250)) < 0.05, 0.0, 1.0)  # 1 per step, 0 at reset steps
    z = np.ones(9)
    z[3] = -0.0
    z[4] = 0.0
    yield z
    yield rng.random(300)  # > 256 distinct values
    yield rng.random((4, 3)).astype(np.float32)
    for dtype, lo, hi in [(np.int64, 0, 2), (np.int64, -129, 127), (np.int64, 0, 256), (np.int64, -2**31, 2**31 - 1),
                          (np.int64, 0, 2**32), (np.int32, -5, 70000), (np.uint64, 0, 2**63), (np.int16, -1, 1)]:
        a = rng.integers(lo, hi, 50, endpoint=True, dtype=dtype)
        a[:2] = lo, hi
        yield a
    yield np.zeros(5, np.bool_)
    yield rng.random(8) < 0.5
    yield np.arange(6, dtype=np.int64).reshape(2, 3)[:, ::2]  # not contiguous
    yield np.zeros(0, np.int64)
    yield np.array([7])


@pytest.mark.parametrize("palette", [False, True])
def test_compact_gives_back_the_same_array(palette):
    from godot_aigym.rllib.compact_arrays import compact, expand

    for a in _arrays():
        c = compact(a, palette=palette)
        back = expand(pickle.loads(pickle.dumps(c, protocol=5)))
        _same(back, a)


def test_compact_ids_give_back_the_same_ids():
    from godot_aigym.rllib.batch_rollout import _new_ids
    from godot_aigym.rllib.compact_arrays import HexIds, compact_ids, expand

    ids = _new_ids(50)
    assert isinstance(compact_ids(ids), HexIds)
    assert expand(pickle.loads(pickle.dumps(compact_ids(ids)))) == ids
    for odd in (ids[:3] + [ids[3].upper()], ids[:3] + ["a" * 31 + " "], ids[:3] + ["x" * 32],
                ids[:3] + ["ab"], [ids[0] + ids[1], ""], ["episode-1", "episode-2"]):
        assert compact_ids(odd) == odd  # not all 32 lowercase hex digits: sent as they are


def _cartpole_like_sample(steps=4000, agents=16, seed=0):
    """A rollout shaped like a random cart-pole sample: float32 observations of 4, Discrete(2)
    actions as int64, reward 1.0 a step and 0.0 at NEXT_STEP's reset steps, ~5 % episode ends."""
    from godot_aigym.rllib.batch_rollout import OpenEpisodes, Rollout

    rng = np.random.default_rng(seed)
    rollout = Rollout(OpenEpisodes.after_reset(rng.random((agents, 4), dtype=np.float32)), {"weights_seq_no": 2})
    ended, counted = np.zeros(agents, bool), 0
    while counted < steps:
        done = (rng.random(agents) < 0.05) & ~ended
        term = done & (rng.random(agents) < 0.9)
        c, _ = rollout.add(rng.random((agents, 4), dtype=np.float32), rng.integers(0, 2, agents),
                           np.where(ended, 0.0, 1.0), term, done & ~term, {})
        counted += c
        ended = done
    return rollout.pack(gym.spaces.Box(-np.inf, np.inf, (4,), np.float32), gym.spaces.Discrete(2), keep_open=True)[0]


def test_a_ppo_config_sample_fits_rays_inline_limit_and_builds_the_same_episodes():
    from godot_aigym.rllib.batch_rollout import EpisodeBatch

    packed = _cartpole_like_sample()
    buffers = []  # out-of-band, as Ray's serializer takes them
    blob = pickle.dumps(EpisodeBatch(packed), protocol=5, buffer_callback=buffers.append)
    assert len(blob) + sum(b.raw().nbytes for b in buffers) < RAY_INLINE_LIMIT
    got, want = pickle.loads(blob, buffers=buffers), packed.build()
    assert len(got) == len(want) > 100
    for g, w in zip(got, want):
        assert (g.id_, g.t_started, g.is_terminated, g.is_truncated, g._start_time, g._last_step_time) == (
            w.id_, w.t_started, w.is_terminated, w.is_truncated, w._start_time, w._last_step_time)
        for get in ("get_observations", "get_actions", "get_rewards"):
            _same(getattr(g, get)(), getattr(w, get)())
        assert g.extra_model_outputs.keys() == w.extra_model_outputs.keys()
        for k in g.extra_model_outputs:
            _same(g.get_extra_model_outputs(k), w.get_extra_model_outputs(k))
