"""The C step stager (env/_stepcore.c via ActionChecker.stager) takes exactly the actions the
Python checker accepts unchanged, writes them and the STEP header, and leaves every other form
to the checker (stage() False, nothing written). No engine: a numpy array plays the ``in`` tensor."""

import mmap

import numpy as np
import pytest
from gymnasium import spaces

from godot_aigym.env import protocol as P
from godot_aigym.env.actions import ActionChecker

AT = P.IN_HEADER + 2  # header, then a 2-agent mask


def staged(space, batch, action, flags=P.AUTORESET_NEXT_STEP):
    """(stage() result, the in tensor after it, what the checker makes of the action or its error)."""
    checker = ActionChecker(space, batch=batch)
    inv = np.full(AT + 8, -7.0, np.float32)
    ok = checker.stager(inv, AT, P.CMD_STEP).stage(action, flags)
    try:
        checked = np.asarray(checker.check(action), np.float32).reshape(-1)
    except ValueError as e:
        checked = e
    return ok, inv, checked


BOX = spaces.Box(np.array([-1, 0], np.float32), np.array([1, 2], np.float32))


@pytest.mark.parametrize("batch, action", [
    (None, np.array([0.5, 1.5], np.float32)), (None, np.array([-1, 2], np.float32)),
    (2, np.array([[0.5, 0.0], [-1.0, 2.0]], np.float32)),
])
def test_box_actions_in_the_space_are_staged_with_the_step_header(batch, action):
    ok, inv, checked = staged(BOX, batch, action)
    n = action.size
    assert ok and inv[P.H_COMMAND] == P.CMD_STEP and inv[P.H_FLAGS] == P.AUTORESET_NEXT_STEP
    assert inv[AT:AT + n].tolist() == checked.tolist() == action.ravel().tolist()
    assert inv[AT + n:].tolist() == [-7.0] * (8 - n)  # nothing past the actions


@pytest.mark.parametrize("batch, action", [
    (None, np.array([1.5, 1.0], np.float32)),                 # outside
    (None, np.array([np.nan, 1.0], np.float32)),              # NaN
    (None, np.array([0.5, 1.0])),                             # float64: converted by the checker
    (None, [0.5, 1.0]),                                       # a list
    (None, np.array([[0.5, 1.0]], np.float32)),               # wrong shape, same size
    (None, np.array([0.5, 1.0, 0.0], np.float32)[:2][::-1].copy()[::-1]),  # not contiguous
    (2, np.array([0.5, 0.0, -1.0, 2.0], np.float32)),         # a batch must be (n, width)
    (None, "0.5"),
])
def test_other_box_forms_are_left_to_the_checker_and_nothing_is_written(batch, action):
    ok, inv, checked = staged(BOX, batch, action)
    assert not ok and inv.tolist() == [-7.0] * inv.size


@pytest.mark.parametrize("batch, action, value", [
    (None, 2, [2]), (None, True, [1]), (None, np.int64(1), [1]), (None, np.array(2, np.int32), [2]),
    (2, np.array([0, 2]), [0, 2]), (2, np.array([1, 0], np.int32), [1, 0]),
])
def test_discrete_actions_in_range_are_staged_as_floats(batch, action, value):
    ok, inv, checked = staged(spaces.Discrete(3), batch, action)
    assert ok and inv[AT:AT + len(value)].tolist() == value == checked.tolist()


@pytest.mark.parametrize("batch, action", [
    (None, 3), (None, -1), (None, 2**70), (None, 1.0), (None, np.float64(1.0)), (None, np.array([1])),
    (2, np.array([0, 3])), (2, np.array([0.0, 1.0])), (2, np.array([0, 1], np.uint8)), (2, [0, 1]),
])
def test_other_discrete_forms_are_left_to_the_checker(batch, action):
    ok, inv, _ = staged(spaces.Discrete(3), batch, action)
    assert not ok and inv.tolist() == [-7.0] * inv.size


def test_multi_discrete_bounds_apply_per_column():
    space = spaces.MultiDiscrete([2, 5])
    ok, inv, checked = staged(space, 2, np.array([[1, 4], [0, 0]]))
    assert ok and inv[AT:AT + 4].tolist() == [1, 4, 0, 0] == checked.tolist()
    ok, inv, checked = staged(space, 2, np.array([[2, 0], [0, 0]]))  # 2 is outside column 0 only
    assert not ok and isinstance(checked, ValueError)
    ok, _, _ = staged(space, None, np.array([1, 4], np.int32))
    assert ok


def test_the_stager_keeps_the_mapping_alive():
    """A closed chunk cannot be unmapped under the stager: it holds a buffer export of ``in``."""
    mapping = mmap.mmap(-1, 4096)
    inv = np.frombuffer(mapping, np.float32, AT + 2)
    stager = ActionChecker(BOX).stager(inv, AT, P.CMD_STEP)
    del inv
    with pytest.raises(BufferError):
        mapping.close()
    assert stager.stage(np.array([0.0, 1.0], np.float32), 0)
    del stager
    mapping.close()
