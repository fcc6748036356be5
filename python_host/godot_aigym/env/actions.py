"""Action validation for every environment class: nothing reaches the engine unchecked.

`ActionChecker(space)` checks one agent's action, `ActionChecker(space, batch=n)` the actions of
n agents; both return an array the link copies into the shared ``in`` tensor as float32
(flattened), or raise `ValueError` naming the action and the space. Refused: values outside the
space (NaN included), wrong shapes, and values that are not real numbers (strings such as
``"0.5"``, complex numbers, objects); integral floats are accepted for (Multi)Discrete, as
policies often emit them. Small batches are checked with a Python loop, which beats numpy's
per-call overhead.
"""

from __future__ import annotations

import operator
from typing import Any, Callable

import numpy as np
from gymnasium import spaces
from . import protocol as P

try:
    from . import _stepcore
except ImportError as e:  # pragma: no cover - a checkout without the built helpers
    raise ImportError("godot_aigym.env._stepcore (the compiled step helper) is missing or stale: run "
                      "`pip install -e .` in the repository") from e

_SMALL = 64  # up to this many values a Python loop is faster than numpy calls
_REAL = "biuf"  # numpy kinds that are real numbers
_FLOAT32 = np.dtype(np.float32)  # identity test: cheaper than dtype == np.float32 (others take the long way)


def discrete_action(action: Any, n: int) -> int:
    """The index an action stands for, or ValueError naming it and the space."""
    try:
        if isinstance(action, np.ndarray):
            if action.size != 1 or action.dtype.kind not in "iub":
                raise TypeError
            index = int(action.reshape(()))
        else:
            index = operator.index(action)
    except TypeError:
        raise ValueError(f"action {action!r} is not in the action space Discrete({n}): expected an integer") from None
    if not 0 <= index < n:
        raise ValueError(f"action {action!r} is outside the action space Discrete({n})")
    return index


def _integers(actions: Any) -> np.ndarray | None:
    """`actions` as an integer array (integral floats converted), or None."""
    try:
        a = actions if type(actions) is np.ndarray else np.asarray(actions)
    except (TypeError, ValueError):
        return None
    if a.dtype.kind == "f" and np.isfinite(a).all() and (a == np.round(a)).all():
        a = a.astype(np.int64)
    return a if a.dtype.kind in "iub" else None


def multi_discrete_actions(actions: Any, space: spaces.MultiDiscrete, shape: tuple[int, ...]) -> np.ndarray:
    """The actions as an integer array of `shape`, each in [0, nvec); ValueError naming them otherwise."""
    a = _integers(actions)
    if a is None or a.shape != shape:
        raise ValueError(f"action {actions!r} is not in the action space {space}: expected integers of shape {shape}")
    inside = (a >= 0) & (a < space.nvec)
    if not inside.all():
        if a.ndim == 2:
            bad = int(np.flatnonzero(~inside.all(axis=1))[0])
            raise ValueError(f"action {a[bad]!r} of sub-environment {bad} is outside the action space {space}")
        raise ValueError(f"action {actions!r} is outside the action space {space}")
    return a


def box_array(actions: Any, space: spaces.Box, what: str = "action") -> np.ndarray:
    """`actions` as float32, refusing anything that is not made of real numbers."""
    if type(actions) is np.ndarray and actions.dtype == np.float32:
        return actions
    try:
        a = np.asarray(actions)
    except (TypeError, ValueError):
        a = None
    if a is None or a.dtype.kind not in _REAL:
        kind = "" if a is None else f", got dtype {a.dtype}"
        raise ValueError(f"{what} {actions!r} is not in the action space {space}: expected real numbers{kind}")
    with np.errstate(over="ignore"):  # too large for float32: inf, refused as outside the space
        return a.astype(np.float32)


class ActionChecker:
    """Checks the actions of one agent (``batch=None``) or of ``batch`` agents against `space`.

    Calling it returns the checked actions, ready for the ``in`` tensor (one agent: a scalar or
    a ``(width,)`` array; a batch: a flat ``(batch * width,)`` array).
    """

    def __init__(self, space: spaces.Space, batch: int | None = None) -> None:
        self.space = space
        self.batch = batch
        check: Callable[[Any], Any]
        if isinstance(space, spaces.Discrete):
            self._n = int(space.n)
            check = self._discrete if batch is None else self._discrete_batch
        elif isinstance(space, spaces.MultiDiscrete):
            self._shape = space.shape if batch is None else (batch, space.shape[0])
            check = self._multi_discrete
        elif isinstance(space, spaces.Box):
            if len(space.shape) != 1:
                raise ValueError(f"only flat Box action spaces are supported, got {space}")
            self._shape = space.shape if batch is None else (batch, space.shape[0])
            self._low, self._high = space.low, space.high
            self._low_list = np.broadcast_to(space.low, self._shape).ravel().tolist()
            self._high_list = np.broadcast_to(space.high, self._shape).ravel().tolist()
            # one low and one high for every dimension (e.g. [-1, 1]): min() and max() check a list
            lows, highs = np.unique(space.low), np.unique(space.high)
            self._uniform = (float(lows[0]), float(highs[0])) if lows.size == 1 and highs.size == 1 else None
            check = self._box_one if batch is None else self._box
        else:
            raise ValueError(f"unsupported action space {space}")
        self.check = check

    def stager(self, in_view: np.ndarray | list[np.ndarray], actions_at: int, step_command: int):
        """The C twin of `check` for the hot path (``_stepcore.Stager``): checks the usual form of
        actions (float32 / int64 / int32 arrays of the action shape, a Python int for Discrete)
        and writes them at ``in_view[actions_at:]`` with the STEP header; anything else is left
        to `check` (``stage`` returns False), so both accept and refuse the same actions.
        A list of M engines' ``in`` views splits the batch: engine k gets its k-th M-th."""
        space = self.space
        header_at = (P.H_COMMAND, P.H_FLAGS)
        if isinstance(space, spaces.Discrete):
            shape = () if self.batch is None else (self.batch,)
            upper = [self._n] * max(1, self.batch or 1)
            return _stepcore.Stager(in_view, header_at, actions_at, shape, step_command, None, None, upper)
        size = int(np.prod(self._shape))
        if isinstance(space, spaces.MultiDiscrete):
            upper = np.broadcast_to(space.nvec, self._shape).ravel().tolist()
            return _stepcore.Stager(in_view, header_at, actions_at, self._shape, step_command, None, None, upper)
        assert len(self._low_list) == size
        return _stepcore.Stager(in_view, header_at, actions_at, self._shape, step_command, self._low_list, self._high_list)

    def __call__(self, actions: Any) -> Any:
        return self.check(actions)

    # -- Discrete ----------------------------------------------------------------------------------
    def _discrete(self, action: Any) -> int:
        return discrete_action(action, self._n)

    def _discrete_batch(self, actions: Any) -> np.ndarray:
        n, nact = self.batch, self._n
        a = actions if type(actions) is np.ndarray and actions.dtype.kind in "iub" else _integers(actions)
        if a is None or a.shape != (n,):
            raise ValueError(f"actions {actions!r} are not in the action space MultiDiscrete({[nact] * n}): "
                             f"expected {n} integers")
        ok = all(0 <= v < nact for v in a.tolist()) if n <= _SMALL else not (a.min() < 0 or a.max() >= nact)
        if not ok:
            bad = int(np.flatnonzero((a < 0) | (a >= nact))[0])
            try:
                discrete_action(a[bad], nact)
            except ValueError as e:
                raise ValueError(f"{e} (sub-environment {bad})") from None
        return a

    # -- MultiDiscrete -----------------------------------------------------------------------------
    def _multi_discrete(self, actions: Any) -> np.ndarray:
        a = multi_discrete_actions(actions, self.space, self._shape)
        return a.reshape(-1) if self.batch is not None else a

    # -- Box ---------------------------------------------------------------------------------------
    def _box_one(self, action: Any) -> np.ndarray:
        """One agent's action: the hot path of GodotEnv.step (a float32 array of the right shape is
        checked with one Python loop, NaN failing the comparisons too)."""
        if type(action) is np.ndarray and action.dtype is _FLOAT32 and action.shape == self._shape:
            for v, lo, hi in zip(action.tolist(), self._low_list, self._high_list):
                if not lo <= v <= hi:
                    break
            else:
                return action
        return self._box(action)

    def _box(self, actions: Any) -> np.ndarray:
        what = "action" if self.batch is None else "actions"
        a = actions if type(actions) is np.ndarray and actions.dtype is _FLOAT32 else \
            box_array(actions, self.space, what)
        if a.shape != self._shape:
            raise ValueError(f"{what} {actions!r} has shape {a.shape}, the action space {self.space} needs "
                             f"{self._shape}" if self.batch is None else
                             f"actions have shape {a.shape}, the action space needs {self._shape}")
        if a.size <= _SMALL:
            values = a.tolist() if self.batch is None else a.ravel().tolist()
            ok = False
            if self._uniform is not None:
                # builtins over the list, no Python loop; a NaN makes the sum NaN (so does +inf
                # beside -inf: the loop below then decides)
                total = sum(values)
                ok = total == total and self._uniform[0] <= min(values) and max(values) <= self._uniform[1]
            if not ok:  # NaN fails these comparisons too
                ok = True
                for v, lo, hi in zip(values, self._low_list, self._high_list):
                    if not lo <= v <= hi:
                        ok = False
                        break
        else:
            ok = bool(((a >= self._low) & (a <= self._high)).all())
        if not ok:
            if self.batch is None:
                raise ValueError(f"action {actions!r} is outside the action space {self.space}")
            good = (a >= self._low) & (a <= self._high)
            bad = int(np.flatnonzero(~good.all(axis=1))[0])
            raise ValueError(f"action {a[bad]!r} of sub-environment {bad} is outside the action space {self.space}")
        return a if self.batch is None else a.reshape(-1)
