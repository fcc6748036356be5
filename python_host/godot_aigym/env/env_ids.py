"""Which engines a `GodotAsyncVectorEnv.send(actions, env_ids)` addresses, and in which rows.

Sub-environment ``k * n_agents + i`` is agent ``i`` of engine ``k``; an engine steps all its agents
at once, so ``env_ids`` must cover whole engines. The usual argument is the ``env_id`` that the
last ``recv()`` returned: those arrays (and every engine's own, and all of them) are remembered by
their bytes, so they are recognised without an element-wise check each time.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class EnvIdRouter:
    """env_ids -> (engines in order of first appearance, rows of the actions per engine's agents)."""

    KNOWN_MAX = 1024  # distinct env_id arrays remembered (engine orders of recv's batches)

    def __init__(self, n_agents: int, n_engines: int) -> None:
        self.n_agents, self.n_engines, self.num_envs = n_agents, n_engines, n_agents * n_engines
        self.agent_rows, self.all_ids = np.arange(n_agents), np.arange(self.num_envs)
        self._known: dict[tuple[str, bytes], list[int]] = {}
        self.forget()

    def forget(self) -> None:
        """Back to the env_ids every env has: all engines, and each engine's own."""
        n, ids = self.n_agents, self.all_ids
        self._known.clear()
        self._known[(ids.dtype.str, ids.tobytes())] = list(range(self.n_engines))
        for k in range(self.n_engines):
            self._known[(ids.dtype.str, ids[k * n:(k + 1) * n].tobytes())] = [k]

    def remember(self, ids: np.ndarray, engines: list[int]) -> None:
        """recv's env_id for these engines, recognised by its bytes from now on (the cache is
        refilled from the every-env ids when it is full)."""
        if len(self._known) >= self.KNOWN_MAX:
            self.forget()
        self._known[(ids.dtype.str, ids.tobytes())] = engines

    def engines_of(self, env_ids: Any) -> tuple[list[int], np.ndarray | None]:
        """The engines ``env_ids`` cover, in order of first appearance, and for each engine's agents
        0..n-1 the row of ``env_ids`` (and so of the actions) that names them (None: in order).
        Raises ValueError naming what is wrong with ``env_ids``."""
        n = self.n_agents
        ids = self.all_ids if env_ids is None else np.asarray(env_ids)
        if ids.ndim == 1 and ids.dtype.kind in "iu":  # whole engines, as recv returned them
            engines = self._known.get((ids.dtype.str, ids.tobytes()))
            if engines is not None:
                return engines, None
        if ids.ndim == 1 and ids.dtype.kind in "iu" and len(ids) and len(ids) % n == 0 and len(ids) <= self.num_envs:
            first = ids[::n]  # the usual form (recv's env_id): whole engines, their agents in order
            engines = (first // n).tolist()
            if not (first % n).any() and np.array_equal(ids, (first[:, None] + self.agent_rows).reshape(-1)) \
                    and len(set(engines)) == len(engines) and 0 <= min(engines) and max(engines) < self.n_engines:
                return engines, None
        if ids.ndim != 1 or ids.dtype.kind not in "iu" or len(ids) == 0:
            raise ValueError(f"env_ids must be a 1-d array of sub-environment indices, got {env_ids!r}")
        if ids.min() < 0 or ids.max() >= self.num_envs:
            raise ValueError(f"env_ids {ids.tolist()} name sub-environments outside 0..{self.num_envs - 1}")
        if len(np.unique(ids)) != len(ids):
            raise ValueError(f"env_ids {ids.tolist()} name a sub-environment twice")
        engines = list(dict.fromkeys((ids // n).tolist()))
        if len(ids) != n * len(engines):
            raise ValueError(f"env_ids {ids.tolist()} do not cover whole engines: an engine steps all its "
                             f"{n} agents at once (ids k*{n} .. k*{n}+{n - 1} for engine k)")
        position = np.empty(self.num_envs, np.int64)
        position[ids] = np.arange(len(ids))
        rows = np.concatenate([position[k * n:(k + 1) * n] for k in engines])
        return engines, rows
