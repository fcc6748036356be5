"""env/actions.py: the fast paths of Box checks (one agent's float32 array; a batch whose bounds
are the same for every dimension, checked with builtins) decide exactly as the plain loop does."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from godot_aigym.env.actions import ActionChecker

UNIFORM = spaces.Box(-1.0, 1.0, (2,), np.float32)
PER_DIM = spaces.Box(np.array([-1.0, 0.0], np.float32), np.array([1.0, 5.0], np.float32))
UNBOUNDED = spaces.Box(-np.inf, np.inf, (2,), np.float32)


def expected_ok(space: spaces.Box, a: np.ndarray) -> bool:
    return bool(((a >= space.low) & (a <= space.high)).all())  # NaN compares False


@pytest.mark.parametrize("space", [UNIFORM, PER_DIM, UNBOUNDED])
@pytest.mark.parametrize("batch", [None, 1, 16, 40])  # 40 x 2 values: past the list path
def test_box_checks_agree_with_numpy(space, batch):
    rng = np.random.default_rng(0)
    check = ActionChecker(space, batch=batch).check
    shape = (2,) if batch is None else (batch, 2)
    specials = [np.nan, np.inf, -np.inf, 1.0, -1.0, 0.0, 5.0, 1.0000001, -1.0000001, 5.0000005]
    for trial in range(300):
        a = rng.uniform(-1.2, 1.2, shape).astype(np.float32)
        for _ in range(trial % 4):  # a few special values at random places
            a.reshape(-1)[rng.integers(a.size)] = rng.choice(specials)
        if expected_ok(space, a):
            out = check(a)
            assert np.array_equal(out.reshape(shape), a)
        else:
            with pytest.raises(ValueError, match="outside the action space"):
                check(a)


def test_both_infinities_in_an_unbounded_batch_are_accepted():
    a = np.array([[np.inf, -np.inf], [0.0, 1.0]], np.float32)  # their sum is NaN: the loop decides
    assert np.array_equal(ActionChecker(UNBOUNDED, batch=2).check(a), a.reshape(-1))


def test_one_agents_float32_action_is_passed_through_and_others_converted():
    check = ActionChecker(UNIFORM).check
    a = np.array([0.5, -0.5], np.float32)
    assert check(a) is a
    b = check(np.array([0.5, -0.5]))  # float64
    assert b.dtype == np.float32 and np.array_equal(b, a)
    assert np.array_equal(check([0.5, -0.5]), a)
    with pytest.raises(ValueError, match="has shape"):
        check(np.zeros(3, np.float32))
