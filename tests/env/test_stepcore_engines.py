"""The C helpers of several engines (env/_stepcore.c): one Stager checks the whole (M*N, ...) batch
and writes engine k's rows and STEP header into the k-th ``in`` tensor, or nothing at all when
any value is refused; one Gatherer copies obs, reward and the flags of M ``out`` tensors into the
batch's arrays. No engine: numpy arrays play the tensors."""

import numpy as np
import pytest
from gymnasium import spaces

from godot_aigym.env import _stepcore
from godot_aigym.env import protocol as P
from godot_aigym.env.actions import ActionChecker

N, M = 3, 2  # agents per engine, engines
AT = P.IN_HEADER + N


def stage(space, actions, flags=P.AUTORESET_SAME_STEP):
    ins = [np.full(AT + 2 * N, -7.0, np.float32) for _ in range(M)]
    ok = ActionChecker(space, batch=M * N).stager(ins, AT, P.CMD_STEP).stage(actions, flags)
    return ok, ins


def test_each_engine_gets_its_rows_and_the_header():
    box = spaces.Box(-1, 1, (2,), np.float32)
    acts = np.linspace(-1, 1, M * N * 2, dtype=np.float32).reshape(M * N, 2)
    ok, ins = stage(box, acts)
    assert ok
    for k, inv in enumerate(ins):
        assert inv[:2].tolist() == [P.CMD_STEP, P.AUTORESET_SAME_STEP]
        assert inv[AT:AT + 2 * N].tolist() == acts[k * N:(k + 1) * N].ravel().tolist()
    ok, ins = stage(spaces.Discrete(4), np.array([0, 1, 2, 3, 2, 1]))
    assert ok and [inv[AT:AT + N].tolist() for inv in ins] == [[0, 1, 2], [3, 2, 1]]


@pytest.mark.parametrize("bad_row", [0, M * N - 1])
def test_one_refused_value_in_any_engine_writes_nothing_anywhere(bad_row):
    box = spaces.Box(-1, 1, (2,), np.float32)
    acts = np.zeros((M * N, 2), np.float32)
    acts[bad_row, 1] = np.nan
    ok, ins = stage(box, acts)
    assert not ok and all((inv == -7.0).all() for inv in ins)
    ok, ins = stage(spaces.Discrete(4), 2)  # a Python int is one agent's action, not a batch
    assert not ok and all((inv == -7.0).all() for inv in ins)


def test_the_batch_must_split_evenly():
    with pytest.raises(ValueError, match="split evenly"):
        _stepcore.Stager([np.zeros(20, np.float32)] * 2, (P.H_COMMAND, P.H_FLAGS), AT, (3,), P.CMD_STEP, [0] * 3, [1] * 3)


def test_the_gatherer_copies_every_engine_into_its_rows():
    d = 2
    outs = [np.arange(N * (2 * d + 3), dtype=np.float32) + 100 * k for k in range(M)]
    for out in outs:
        out[N * d + N:N * d + 3 * N] = [0, 1, 0, 1, 1, 0]  # terminated, truncated
    obs, rew = np.empty((M * N, d), np.float32), np.empty(M * N)
    term, trunc = np.empty(M * N, np.bool_), np.empty(M * N, np.bool_)
    _stepcore.Gatherer(outs, N, d, P.Layout(N, d, 1).scalars_at).gather(obs, rew, term, trunc)
    for k, out in enumerate(outs):
        rows = slice(k * N, (k + 1) * N)
        r = P.Layout(N, d, 1).results(out)
        assert (obs[rows] == r.obs).all() and (rew[rows] == r.reward).all()
        assert (term[rows] == (r.terminated != 0)).all() and (trunc[rows] == (r.truncated != 0)).all()
    obs[:] = -1
    _stepcore.Gatherer(outs, N, d, P.Layout(N, d, 1).scalars_at).gather(None, rew, term, trunc)  # Dict observations: no obs
    assert (obs == -1).all()
    with pytest.raises(ValueError, match="reward"):
        _stepcore.Gatherer(outs, N, d, P.Layout(N, d, 1).scalars_at).gather(obs, rew.astype(np.float32), term, trunc)


def test_fresh_makes_new_arrays_filled_as_gather_fills():
    """fresh(): the same values in new arrays of the batch's dtypes and shapes at every call
    (Gymnasium's callers keep a step's arrays); without obs for Dict observations."""
    d = 3
    outs = [np.arange(N * (2 * d + 3), dtype=np.float32) * 0.5 + 100 * k for k in range(M)]
    for out in outs:
        out[N * d + N:N * d + 3 * N] = [0, 1, 0, 1, 1, 0]
    g = _stepcore.Gatherer(outs, N, d, P.Layout(N, d, 1).scalars_at)
    want = np.empty((M * N, d), np.float32), np.empty(M * N), np.empty(M * N, bool), np.empty(M * N, bool)
    g.gather(*want)
    first = g.fresh(True)
    second = g.fresh(True)
    for a, b, w in zip(first, second, want):
        assert a.dtype == w.dtype and a.shape == w.shape and a.flags.c_contiguous and a.flags.writeable
        assert np.array_equal(a, w) and np.array_equal(b, w)
        assert a is not b and not np.shares_memory(a, b)
    obs, *rest = g.fresh(False)
    assert obs is None and all(np.array_equal(a, w) for a, w in zip(rest, want[1:]))
    assert g.ended == 2 * M  # agents 0 (truncated) and 1 (both flags) of each engine: SAME_STEP's test
    outs[1][N * d + N:N * d + 3 * N] = 0
    g.gather(*want)
    assert g.ended == 2  # counted anew by every fill


def test_the_c_helpers_take_every_offset_from_the_protocol_module():
    """Stager and Gatherer compute no layout of their own: moved offsets are honoured, so
    protocol.py stays the host side's one owner of the step protocol's layout."""
    d = 1
    out = np.arange(N * d + 3 * N + 3, dtype=np.float32)
    moved = (N * d + 3, N * d + 3 + 2 * N, N * d + 3 + N)  # reward, terminated, truncated shuffled
    obs, rew = np.empty((N, d), np.float32), np.empty(N)
    term, trunc = np.empty(N, np.bool_), np.empty(N, np.bool_)
    _stepcore.Gatherer([out], N, d, moved).gather(obs, rew, term, trunc)
    assert (rew == out[moved[0]:moved[0] + N]).all()
    assert (term == (out[moved[1]:moved[1] + N] != 0)).all() and (trunc == (out[moved[2]:moved[2] + N] != 0)).all()
    inv = np.full(12, -7.0, np.float32)
    stager = _stepcore.Stager([inv], (3, 1), 5, (2,), P.CMD_STEP, [-1, -1], [1, 1])
    assert stager.stage(np.array([0.5, -0.5], np.float32), 6)
    assert inv[3] == P.CMD_STEP and inv[1] == 6 and inv[0] == -7.0 and inv[2] == -7.0
    assert (inv[5:7] == [0.5, -0.5]).all()
