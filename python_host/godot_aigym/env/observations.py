"""Dict observations on the host: batches gathered from the engines' part tensors.

A flat Box env never comes here (its observations are `Results.obs`). For a Dict env each part
is a view of its own shared tensor, shaped ``(n_agents, *shape)`` (images channel-last uint8, as
SB3's `VecTransposeImage`, `CnnPolicy` and `MultiInputPolicy` expect; discrete parts int32,
``(n_agents,)`` for Discrete and ``(n_agents, len(nvec))`` for MultiDiscrete); these helpers copy
them out of shared memory into the arrays handed to the caller, one copy per part, in the dtype
of the part's gymnasium space (int64 for the discrete kinds, as gymnasium's spaces hold).
"""

from __future__ import annotations

import numpy as np

from .protocol import EnvSpec, Results


def _out(view: np.ndarray) -> np.ndarray:
    """A copy of a part's view; int32 (discrete) parts become int64, gymnasium's dtype for them."""
    return view.astype(np.int64) if view.dtype == np.int32 else view.copy()


def agent_observation(results: Results, i: int = 0) -> dict[str, np.ndarray]:
    """Agent ``i``'s Dict observation (copies: shared memory changes with the next command).
    A Discrete part is an ``np.int64`` scalar."""
    return {name: _out(view[i]) for name, view in results.parts.items()}


def batch_observation(results: Results) -> dict[str, np.ndarray]:
    """Every agent's Dict observation of one engine, ``(n_agents, *shape)`` per part (copies)."""
    return {name: _out(view) for name, view in results.parts.items()}


def agent_final_observation(results: Results, i: int) -> dict[str, np.ndarray]:
    """Agent ``i``'s last observation of an episode ended in a SAME_STEP autoreset (copies)."""
    return {name: _out(view[i]) for name, view in results.final_parts.items()}


def stack_answers(results: list[Results], parts: dict, n: int) -> tuple:
    """(obs, reward as float64, terminated, truncated as bool) of engines' answers of ``n`` agents
    each, stacked in their order into fresh arrays (GodotAsyncVectorEnv's batch); obs: a dict of
    the Dict parts (``parts``: name -> (shape, dtype)), or the flat observations."""
    r, m = results[0], len(results)
    if m == 1:
        obs = {name: view.astype(parts[name][1]) for name, view in r.parts.items()} if parts else r.obs.copy()
        return obs, r.reward.astype(np.float64), r.terminated != 0, r.truncated != 0
    if parts:
        obs = {name: np.empty((m * n, *shape), dtype) for name, (shape, dtype) in parts.items()}
        for j, r in enumerate(results):
            for name, view in r.parts.items():
                obs[name][j * n:(j + 1) * n] = view
    else:
        obs = np.concatenate([r.obs for r in results])
    cat = np.concatenate
    return (obs, cat([r.reward for r in results]).astype(np.float64), cat([r.terminated for r in results]) != 0,
            cat([r.truncated for r in results]) != 0)


class DictBatch:
    """The Dict observations of ``num_envs`` agents spread over several engines: every engine's
    answer is `put` straight into fresh arrays, which `copy` hands over (one copy per image)."""

    def __init__(self, spec: EnvSpec, num_envs: int) -> None:
        self._layout = {p.name: ((num_envs, *p.shape), p.space.dtype) for p in spec.parts}
        self.arrays = self._fresh()

    def _fresh(self) -> dict[str, np.ndarray]:
        return {name: np.empty(shape, dtype) for name, (shape, dtype) in self._layout.items()}

    def put(self, where: slice, results: Results) -> None:
        """Copy one engine's answer into the agents ``where``."""
        for name, view in results.parts.items():
            self.arrays[name][where] = view

    def copy(self) -> dict[str, np.ndarray]:
        """The arrays every engine was `put` into since the last call (the caller keeps them)."""
        out, self.arrays = self.arrays, self._fresh()
        return out


def flat_policy_input(space, batch: dict[str, np.ndarray]) -> np.ndarray:
    """A batch of Dict observations without images, ``(N, size)`` float32, encoded as SB3's
    MultiInputPolicy sees them (CombinedExtractor over ``preprocess_obs``) and as play mode feeds
    ``cTorchModel`` (addons/godot_aigym/env/gym_dict_input.gd): the parts in ``space``'s key order
    (gymnasium sorts them by name), float boxes flattened as they are, a ``Discrete(n)`` part
    one-hot in n floats, a ``MultiDiscrete(nvec)`` part one one-hot per entry, concatenated."""
    from gymnasium import spaces

    columns = []
    for name, sub in space.spaces.items():
        values = np.asarray(batch[name])
        if isinstance(sub, spaces.Discrete):
            columns.append(np.eye(int(sub.n), dtype=np.float32)[values.reshape(-1) - int(sub.start)])
        elif isinstance(sub, spaces.MultiDiscrete):
            values = values.reshape(len(values), -1)
            columns += [np.eye(int(k), dtype=np.float32)[values[:, j]] for j, k in enumerate(sub.nvec.reshape(-1))]
        elif isinstance(sub, spaces.Box) and sub.dtype != np.uint8:
            columns.append(values.reshape(len(values), -1).astype(np.float32))
        else:
            raise ValueError(f"part {name!r}: {sub} has no flat encoding (images go to a CNN policy)")
    return np.concatenate(columns, axis=1)
