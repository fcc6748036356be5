"""Agent groups of a multi-agent scene (a GymGroupEnv with GymAgentGroup children): their
description in the spec, and where each group's values lie in the step tensors.

On the wire a GymGroupEnv is one environment of all its agents, group after group (docs/
STEP_PROTOCOL.md, "Agent groups"): agent rows are as wide as the widest group's observation (D)
and action (W), each group's values first. `GroupSpec` holds a group's real spaces and its rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from . import protocol as P


@dataclass(frozen=True)
class GroupSpec:
    """One agent group as the engine declared it."""

    name: str
    policy: str               # the policy that acts for it (RLlib policy id)
    offset: int               # its first agent on the wire
    n_agents: int             # its agents in one engine (agents_per_copy x copies)
    agents_per_copy: int
    obs_dim: int
    observation_space: spaces.Box
    action_space: spaces.Space
    action_width: int
    discrete: bool

    @property
    def rows(self) -> slice:
        return slice(self.offset, self.offset + self.n_agents)


def parse_groups(raw: dict, spec: P.EnvSpec) -> tuple[GroupSpec, ...]:
    """The spec's ``groups``, checked against its padded rows; GodotEnvError when malformed."""
    try:
        groups = []
        for g in raw["groups"]:
            observation_space, d, parts = P._observation(g["observation"])
            action_space, width, discrete = P._action_space(g["action"])
            if parts or g["observation"].get("type", "box") != "box" or g["action"]["type"] == P.GROUPS_TYPE:
                raise ValueError(f"group {g.get('name')!r}: a group observes a flat box and acts in a box, "
                                 "discrete or multi_discrete space")
            groups.append(GroupSpec(name=str(g["name"]), policy=str(g.get("policy") or g["name"]),
                                    offset=int(g["offset"]), n_agents=int(g["n_agents"]),
                                    agents_per_copy=int(g["agents_per_copy"]), obs_dim=d,
                                    observation_space=observation_space, action_space=action_space,
                                    action_width=width, discrete=discrete))
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        raise P.GodotEnvError(f"malformed agent groups in the environment description ({type(e).__name__}: {e})") from None
    names = [g.name for g in groups]
    problems = []
    if not groups:
        problems.append("no groups")
    if len(set(names)) != len(names):
        problems.append(f"duplicate group names {names}")
    at = 0
    for g in groups:
        if not g.name.isidentifier():
            problems.append(f"group name {g.name!r} is not an identifier")
        if g.n_agents < 1:
            problems.append(f"group {g.name!r} is empty")
        if g.offset != at or g.obs_dim > spec.obs_dim or g.action_width > spec.action_width:
            problems.append(f"group {g.name!r} does not fit the rows (offset {g.offset}, expected {at}; "
                            f"obs {g.obs_dim} <= {spec.obs_dim}, action {g.action_width} <= {spec.action_width})")
        at += g.n_agents
    if groups and at != spec.n_agents:
        problems.append(f"the groups hold {at} agents, the environment {spec.n_agents}")
    if problems:
        raise P.GodotEnvError("invalid agent groups in the environment description: " + "; ".join(problems))
    return tuple(groups)


def same_spaces(a: tuple[GroupSpec, ...], b: tuple[GroupSpec, ...]) -> bool:
    """Whether two engines declared the same groups (names, policies, counts and spaces)."""
    key = (lambda g: (g.name, g.policy, g.n_agents, g.observation_space, g.action_space))
    return [key(g) for g in a] == [key(g) for g in b]


def default_action(space: spaces.Space) -> Any:
    """A valid action for an agent whose action does not matter (it finished): 0, or 0 clipped
    into a box."""
    if isinstance(space, spaces.Box):
        return np.clip(np.zeros(space.shape, np.float32), space.low, space.high)
    return space.sample() * 0 if isinstance(space, spaces.MultiDiscrete) else 0
