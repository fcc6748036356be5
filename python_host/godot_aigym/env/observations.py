"""Dict observations on the host: batches gathered from the engines' part tensors.

A flat Box env never comes here (its observations are `Results.obs`). For a Dict env each part
is a view of its own shared tensor, shaped ``(n_agents, *shape)`` (images channel-last uint8, as
SB3's `VecTransposeImage`, `CnnPolicy` and `MultiInputPolicy` expect); these helpers copy them
out of shared memory into the arrays handed to the caller.
"""

from __future__ import annotations

import numpy as np

from .protocol import EnvSpec, Results


def agent_observation(results: Results, i: int = 0) -> dict[str, np.ndarray]:
    """Agent ``i``'s Dict observation (copies: shared memory changes with the next command)."""
    return {name: view[i].copy() for name, view in results.parts.items()}


def batch_observation(results: Results) -> dict[str, np.ndarray]:
    """Every agent's Dict observation of one engine, ``(n_agents, *shape)`` per part (copies)."""
    return {name: view.copy() for name, view in results.parts.items()}


def agent_final_observation(results: Results, i: int) -> dict[str, np.ndarray]:
    """Agent ``i``'s last observation of an episode ended in a SAME_STEP autoreset (copies)."""
    return {name: view[i].copy() for name, view in results.final_parts.items()}


class DictBatch:
    """The Dict observations of ``num_envs`` agents spread over several engines."""

    def __init__(self, spec: EnvSpec, num_envs: int) -> None:
        self.arrays = {p.name: np.zeros((num_envs, *p.shape), p.dtype) for p in spec.parts}

    def put(self, where: slice, results: Results) -> None:
        """Copy one engine's answer into the agents ``where``."""
        for name, view in results.parts.items():
            self.arrays[name][where] = view

    def copy(self) -> dict[str, np.ndarray]:
        return {name: a.copy() for name, a in self.arrays.items()}
