"""Multi-agent Godot scenes (agent groups, docs/MULTI_AGENT.md) as RLlib multi-agent envs.

* `GodotMultiAgentVectorEnv`: RLlib's `VectorMultiAgentEnv` over ONE `GodotGroupEnv`: sub-env
  ``c`` is copy ``c`` of the scene (``n_copies`` per engine x ``n_engines``), its agents are
  ``"<group>_<m>"`` (m < the group's agents per copy). Autoreset is the engine's NEXT_STEP, which
  is what RLlib's `MultiAgentEnvRunner` expects from a vector env (`GodotMultiAgentEnvRunner`
  builds this one instead of one env per sub-env).
* `GodotMultiAgentEnv`: one copy as a plain `MultiAgentEnv` (RLlib's env checks, simple use).

A copy is one RLlib episode: its agents must end their episodes at the same step (the
rendezvous scene does); a scene whose agents of one copy end apart is refused by name, because
the engine would restart the finished ones while RLlib's episode still runs.
"""

from __future__ import annotations

from typing import Any, Mapping

import gymnasium as gym
import numpy as np
from ray.rllib.env.multi_agent_env import MultiAgentEnv
from ray.rllib.env.vector.vector_multi_agent_env import VectorMultiAgentEnv

from ..env import GodotEnvError
from ..multiagent import GodotGroupEnv, agent_id


class CopyLayout:
    """Which rows of each group's arrays belong to which copy, and the copy's agent ids."""

    def __init__(self, env: GodotGroupEnv) -> None:
        self.groups = list(env.group_names)
        self.per_copy = {g: env.group_specs[g].agents_per_copy for g in self.groups}
        self.n_copies = env.n_copies * env.n_engines
        self.agents = [(g, m, agent_id(g, m)) for g in self.groups for m in range(self.per_copy[g])]
        self.observation_spaces = {aid: env.observation_spaces[g] for g, _m, aid in self.agents}
        self.action_spaces = {aid: env.action_spaces[g] for g, _m, aid in self.agents}
        self.group_of = {aid: g for g, _m, aid in self.agents}
        self.policies = dict(env.policies)
        self._neutral = {g: np.zeros((env.n_group_agents[g],) + env.action_spaces[g].shape,
                                     env.action_spaces[g].dtype) for g in self.groups}

    def split(self, arrays: Mapping[str, np.ndarray], c: int) -> dict[str, Any]:
        """{agent id: row} of copy ``c``."""
        return {aid: arrays[g][c * self.per_copy[g] + m] for g, m, aid in self.agents}

    def join(self, actions: list[Mapping[str, Any]]) -> dict[str, np.ndarray]:
        """Per-copy action dicts -> per-group arrays; a missing agent (its copy is resetting, or it
        has no action this step) gets the neutral action, which the engine ignores or applies."""
        out = {g: a.copy() for g, a in self._neutral.items()}
        for c, acts in enumerate(actions):
            for aid, a in acts.items():
                g = self.group_of.get(aid)
                if g is None:
                    raise ValueError(f"copy {c}: action for unknown agent {aid!r} (agents: {list(self.group_of)})")
                out[g][c * self.per_copy[g] + int(aid.rsplit("_", 1)[1])] = a
        return out

    def copy_done(self, flags: Mapping[str, np.ndarray]) -> np.ndarray:
        """(n_copies, n_agents per copy) flags -> one per copy; refuses copies that end apart."""
        per = np.stack([np.asarray(flags[g]).reshape(self.n_copies, self.per_copy[g])[:, m]
                        for g, m, _aid in self.agents], 1)
        apart = per.any(1) & ~per.all(1)
        if apart.any():
            c = int(np.flatnonzero(apart)[0])
            ended = [aid for (_g, _m, aid), f in zip(self.agents, per[c]) if f]
            raise GodotEnvError(f"copy {c}: agents {ended} ended their episode while the others of the copy did "
                                "not; RLlib's multi-agent env needs a copy's agents to end together")
        return per.any(1)


class _CopyView(MultiAgentEnv):
    """What RLlib reads from a sub-env of a vector env (its agents and spaces); never stepped."""

    def __init__(self, layout: CopyLayout) -> None:
        super().__init__()
        self.possible_agents = [aid for _g, _m, aid in layout.agents]
        self.agents = list(self.possible_agents)
        self.observation_spaces = dict(layout.observation_spaces)
        self.action_spaces = dict(layout.action_spaces)

    def reset(self, *, seed=None, options=None):
        raise RuntimeError("a copy of a GodotMultiAgentVectorEnv is stepped by the vector env")

    step = reset


class GodotMultiAgentVectorEnv(VectorMultiAgentEnv):
    """Copies of a group scene as RLlib's vector multi-agent env (NEXT_STEP autoreset)."""

    def __init__(self, env: GodotGroupEnv) -> None:
        super().__init__()
        if env.autoreset_mode.name != "NEXT_STEP":
            raise ValueError(f"GodotMultiAgentVectorEnv needs autoreset_mode='next_step', got {env.autoreset_mode}")
        self.group_env = env
        self.layout = layout = CopyLayout(env)
        self.num_envs = layout.n_copies
        self.envs = [_CopyView(layout) for _ in range(self.num_envs)]
        self.single_observation_spaces = dict(layout.observation_spaces)
        self.single_action_spaces = dict(layout.action_spaces)
        self.single_observation_space = self.observation_space = gym.spaces.Dict(self.single_observation_spaces)
        self.single_action_space = self.action_space = gym.spaces.Dict(self.single_action_spaces)
        self.metadata = {"autoreset_mode": "next_step"}
        self.policies = layout.policies

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        obs = self.group_env.reset(seed=seed)
        return [self.layout.split(obs, c) for c in range(self.num_envs)], [{} for _ in range(self.num_envs)]

    def step(self, actions: list[Mapping[str, Any]]):
        layout = self.layout
        obs, rewards, term, trunc = self.group_env.step(layout.join(actions))
        all_term, all_trunc = layout.copy_done(term), layout.copy_done(trunc)
        out = ([], [], [], [], [{} for _ in range(self.num_envs)])
        for c in range(self.num_envs):
            out[0].append(layout.split(obs, c))
            out[1].append({aid: float(r) for aid, r in layout.split(rewards, c).items()})
            t = {aid: bool(f) for aid, f in layout.split(term, c).items()}
            t["__all__"] = bool(all_term[c])
            u = {aid: bool(f) for aid, f in layout.split(trunc, c).items()}
            u["__all__"] = bool(all_trunc[c])
            out[2].append(t)
            out[3].append(u)
        return out

    def close_extras(self, **kwargs: Any) -> None:
        self.group_env.close()

    @property
    def engines(self):
        return [link.proc for link in self.group_env.links]


class GodotMultiAgentEnv(MultiAgentEnv):
    """One copy of a group scene as a `MultiAgentEnv` (one engine). Agents whose episode ended
    leave ``agents``; the episode ends (``"__all__"``) when every agent's has."""

    def __init__(self, project: Any = None, scene: str | None = None, **options: Any) -> None:
        super().__init__()
        self.group_env = GodotGroupEnv(project=project, scene=scene, n_copies=1, autoreset_mode="disabled", **options)
        try:
            self.layout = CopyLayout(self.group_env)
        except BaseException:
            self.group_env.close()
            raise
        self.possible_agents = [aid for _g, _m, aid in self.layout.agents]
        self.agents = []
        self.observation_spaces = dict(self.layout.observation_spaces)
        self.action_spaces = dict(self.layout.action_spaces)
        self.policies = self.layout.policies

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs = self.layout.split(self.group_env.reset(seed=seed), 0)
        self.agents = list(self.possible_agents)
        return obs, {aid: {} for aid in obs}

    def step(self, action_dict: Mapping[str, Any]):
        if not self.agents:
            raise RuntimeError("every agent's episode ended: call reset()")
        idle = [aid for aid in action_dict if aid not in self.agents]
        if idle:
            raise ValueError(f"actions for agents that are not acting: {idle} (acting: {self.agents})")
        obs, rewards, term, trunc = self.group_env.step(self.layout.join([action_dict]))
        obs, rewards = self.layout.split(obs, 0), self.layout.split(rewards, 0)
        term, trunc = self.layout.split(term, 0), self.layout.split(trunc, 0)
        acting = list(self.agents)
        self.agents = [aid for aid in acting if not (term[aid] or trunc[aid])]
        out_t = {aid: bool(term[aid]) for aid in acting}
        out_u = {aid: bool(trunc[aid]) for aid in acting}
        out_t["__all__"] = not self.agents and any(out_t.values())
        out_u["__all__"] = not self.agents and not out_t["__all__"]
        return ({aid: obs[aid] for aid in acting}, {aid: float(rewards[aid]) for aid in acting}, out_t, out_u,
                {aid: {} for aid in acting})

    def close(self) -> None:
        self.group_env.close()
