"""`GodotParallelEnv`: a GymGroupEnv scene as a PettingZoo ``ParallelEnv`` (one engine, one step for
every agent). Agent ids are ``"<group>_<i>"``; each agent has its group's spaces. An agent whose
episode ended leaves ``agents``; it stays in the scene (stepped with a neutral action, its results
unused) until the next ``reset()``, which starts every agent again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from ..env.actions import ActionChecker
from ..env.groups import default_action
from .batch import GodotGroupEnv, agent_id

try:
    from pettingzoo import ParallelEnv
except ImportError as e:  # pragma: no cover - depends on the installation
    raise ImportError("godot_aigym.multiagent.GodotParallelEnv needs PettingZoo: "
                      "pip install 'godot-aigym[multiagent]'") from e


class GodotParallelEnv(ParallelEnv):
    """PettingZoo ParallelEnv over ``n_copies`` copies of a GymGroupEnv scene in one engine.

    Keyword arguments as for `GodotGroupEnv` (`EnvOptions`); ``seed`` seeds the engine at
    start-up, ``reset(seed=s)`` reseeds it."""

    metadata = {"name": "godot_aigym_parallel_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, project: str | os.PathLike | None = None, scene: str | None = None, *,
                 n_copies: int = 1, **kwargs: Any) -> None:
        fixed = sorted(set(kwargs) & {"n_engines", "autoreset_mode"})
        if fixed:  # was GodotGroupEnv's "got multiple values for keyword argument"
            raise TypeError(f"GodotParallelEnv takes no {', '.join(fixed)}: it runs one engine and its agents "
                            "leave when their episode ends (PettingZoo); several engines or an autoreset mode: "
                            "use GodotGroupEnv")
        self.batch = GodotGroupEnv(project, scene, n_copies=n_copies, n_engines=1,
                                   autoreset_mode=AutoresetMode.DISABLED, **kwargs)
        b = self.batch
        self.render_mode = None
        self._ids: dict[str, list[str]] = {g: [agent_id(g, i) for i in range(b.n_group_agents[g])]
                                          for g in b.group_names}
        self.possible_agents: list[str] = [a for g in b.group_names for a in self._ids[g]]
        self.agent_group: dict[str, str] = {a: g for g in b.group_names for a in self._ids[g]}
        self.observation_spaces: dict[str, spaces.Space] = {a: b.observation_spaces[g] for a, g in self.agent_group.items()}
        self.action_spaces: dict[str, spaces.Space] = {a: b.action_spaces[g] for a, g in self.agent_group.items()}
        self.policies = dict(b.policies)
        self.agents: list[str] = []
        self._live = {g: np.zeros(b.n_group_agents[g], np.bool_) for g in b.group_names}
        # one agent's action checked as GodotEnv checks it (1.5 or "1" for a Discrete agent, a Box
        # action of another shape: ValueError naming the agent, not a silent cast or numpy's message)
        self._checks = {g: ActionChecker(b.action_spaces[g]) for g in b.group_names}
        self._neutral = {g: np.stack([np.asarray(default_action(b.action_spaces[g]))] * b.n_group_agents[g])
                         for g in b.group_names}

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None):
        obs = self.batch.reset(seed=seed)
        for live in self._live.values():
            live[:] = True
        self.agents = list(self.possible_agents)
        return self._per_agent(obs), {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        if not self.agents:
            if self.batch.closed:  # (with live agents the batch's step says why it closed)
                raise RuntimeError("the environment is closed; create a new GodotParallelEnv")
            raise RuntimeError("every agent's episode ended (or reset() was not called): call reset()")
        if not isinstance(actions, Mapping):  # a list or array was "unknown agents [1, 2]" or unhashable
            raise TypeError(f"actions must be a dict {{agent: action}} (agents: {self.agents}), "
                            f"got {type(actions).__name__}")
        unknown = [a for a in actions if a not in self.agent_group]
        if unknown:
            raise ValueError(f"actions for unknown agents {unknown} (agents: {self.possible_agents})")
        batch = {}
        for g, ids in self._ids.items():
            acts = self._neutral[g].copy()
            live, check = self._live[g], self._checks[g]
            for i, a in enumerate(ids):
                if live[i]:
                    if a not in actions:
                        raise ValueError(f"no action for the live agent {a!r} (live agents: {self.agents})")
                    try:
                        acts[i] = check(actions[a])
                    except ValueError as e:
                        raise ValueError(f"agent {a!r} of agent group {g!r}: {e}") from None
            batch[g] = acts
        step = self.batch.step(batch)
        obs, rew, term, trunc, infos = {}, {}, {}, {}, {}
        for g, ids in self._ids.items():
            live = self._live[g]
            o, r, te, tr = step.obs[g], step.rewards[g], step.terminated[g], step.truncated[g]
            for i in np.flatnonzero(live):
                a = ids[i]
                obs[a], rew[a], term[a], trunc[a], infos[a] = o[i], float(r[i]), bool(te[i]), bool(tr[i]), {}
            live &= ~(te | tr)
        self.agents = [a for a in self.agents if not (term[a] or trunc[a])]
        return obs, rew, term, trunc, infos

    def _per_agent(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {a: obs[g][i] for g, ids in self._ids.items() for i, a in enumerate(ids)}

    def render(self) -> None:
        return None

    def close(self) -> None:
        self.batch.close()

    def state(self) -> np.ndarray:
        raise NotImplementedError("GodotParallelEnv has no global state")
