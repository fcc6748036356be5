"""`GodotGroupEnv`: the batch-level API of a multi-agent scene -- per-group numpy arrays in, per-group
numpy arrays out, one command per engine for all groups (one physics tick).

Group ``g``'s agents are numbered ``0 .. n_group_agents[g] - 1``: engine after engine, and in an
engine copy after copy (agent ``j`` of an engine is in copy ``j // agents_per_copy``). Its agent
id is ``agent_id(g, j)`` = ``"<g>_<j>"``; its policy is ``policies[g]`` (the group's
``policy``, by default its name).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from ..env import protocol as P
from ..env.actions import ActionChecker
from ..env.autoreset import parse_autoreset_mode
from ..env.groups import GroupSpec, same_spaces
from ..env.engine_links import ENGINE_AUTORESET, close_links, open_links, positive_int
from ..env.link import EngineLink
from ..env.options import EnvOptions


def agent_id(group: str, index: int) -> str:
    """The id of agent `index` of `group` (PettingZoo, RLlib): ``"<group>_<index>"``."""
    return f"{group}_{index}"


@dataclass
class GroupStep:
    """One step's results, per group name: fresh arrays (the caller may keep them)."""

    obs: dict[str, np.ndarray]         # (n, obs_dim) float32
    rewards: dict[str, np.ndarray]     # (n,) float64
    terminated: dict[str, np.ndarray]  # (n,) bool
    truncated: dict[str, np.ndarray]   # (n,) bool
    # SAME_STEP autoreset: the last observation of the agents that finished (rows of the others
    # are meaningless); empty otherwise
    final_obs: dict[str, np.ndarray] = field(default_factory=dict)

    def __iter__(self):  # obs, rewards, terminated, truncated = env.step(...)
        return iter((self.obs, self.rewards, self.terminated, self.truncated))


class GodotGroupEnv:
    """``n_copies`` copies of a GymGroupEnv scene per engine x ``n_engines`` engines.

    Other keyword arguments as for `GodotVectorEnv` (`EnvOptions`; ``log_dir`` keeps
    ``engine<k>.log``). Engine ``k`` is seeded with ``seed + k``. ``autoreset_mode`` (gymnasium's
    AutoresetMode, its value or its name, as `GodotVectorEnv` takes it: `env.autoreset`):
    NEXT_STEP (default: a finished agent's next action is ignored, it restarts and reports its
    first observation with reward 0), SAME_STEP (restarts at once; ``GroupStep.final_obs``) or
    DISABLED (finished agents stay finished and keep being stepped until ``reset(mask=...)``).
    """

    def __init__(self, project: str | os.PathLike | None = None, scene: str | None = None, *,
                 n_copies: int = 1, n_engines: int = 1, autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
                 log_dir: str | os.PathLike | None = None, options: EnvOptions | None = None, **kwargs: Any) -> None:
        self.links: list[EngineLink] = []
        self._blocked: str | None = "the environment is not ready"
        n_copies = positive_int("n_copies", n_copies)
        n_engines = positive_int("n_engines", n_engines)
        if "log_path" in kwargs:
            raise ValueError("GodotGroupEnv keeps one log per engine: pass log_dir, not log_path")
        opts = EnvOptions.from_kwargs("GodotGroupEnv", project, scene, options, kwargs)
        self.autoreset_mode = parse_autoreset_mode(autoreset_mode)
        self._autoreset = ENGINE_AUTORESET[self.autoreset_mode]
        self.links = open_links(opts, n_copies, n_engines, log_dir, accept_groups=True)  # as GodotVectorEnv
        try:
            self._check_groups()
        except BaseException:
            self.close()
            raise
        spec = self.links[0].spec
        self.env_spec = spec
        self.n_copies, self.n_engines = n_copies, n_engines
        self.group_specs: dict[str, GroupSpec] = {g.name: g for g in spec.groups}
        self.group_names: list[str] = list(self.group_specs)
        self.policies: dict[str, str] = {g.name: g.policy for g in spec.groups}
        self.n_group_agents: dict[str, int] = {g.name: g.n_agents * n_engines for g in spec.groups}
        self.observation_spaces: dict[str, spaces.Box] = {g.name: g.observation_space for g in spec.groups}
        self.action_spaces: dict[str, spaces.Space] = {g.name: g.action_space for g in spec.groups}
        self._checkers = {g.name: ActionChecker(g.action_space, batch=self.n_group_agents[g.name]).check
                          for g in spec.groups}
        # per engine: the padded action rows (all agents x the widest action) sent with each STEP
        self._act = [np.zeros((spec.n_agents, spec.action_width), np.float32) for _ in self.links]
        self._blocked = "call reset() first"

    def _check_groups(self) -> None:
        spec = self.links[0].spec
        if not spec.groups:
            raise P.GodotEnvError(f"{self.links[0].scene} has no agent groups (a GymGroupEnv with GymAgentGroup "
                                  "children): use GodotEnv or GodotVectorEnv")
        for k, link in enumerate(self.links[1:], 1):
            if not same_spaces(link.spec.groups, spec.groups):
                raise P.GodotEnvError(f"engine {k} declares other agent groups than engine 0 (the spaces must be "
                                      f"the same in every engine): {_describe(link.spec.groups)} vs "
                                      f"{_describe(spec.groups)}")

    # -- the batch API --------------------------------------------------------------------------
    def reset(self, seed: int | None = None, mask: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
        """Reset every agent, or those where ``mask[group]`` (a bool per agent of the group) is true;
        returns every agent's observation per group. ``seed``: engine k gets seed + k."""
        self._live()
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"seed must be None or an int, got {seed!r}")
        engine_masks = None if mask is None else self._engine_masks(mask)
        self._blocked = "call reset() first"  # until every engine answered
        try:
            sent = [link.send_reset(None if seed is None else int(seed) + k,
                                    None if engine_masks is None else engine_masks[k])
                    for k, link in enumerate(self.links)]  # False: the mask selects none of its agents
            for k, link in enumerate(self.links):
                if sent[k]:
                    link.receive(report=False)
            self._report_engine_errors()
        except BaseException as e:
            self._after_failure(e)
            raise
        self._blocked = None
        return self._gather(lambda r, g: r.obs[g.rows, :g.obs_dim])

    def step(self, actions: Mapping[str, Any]) -> GroupStep:
        """Step every group with ``actions[group]``: ``(n,)`` ints (Discrete) or ``(n, width)``
        values, n = ``n_group_agents[group]``. Checked before anything is sent (ValueError)."""
        if self._blocked is not None:
            raise RuntimeError(self._blocked)
        if not isinstance(actions, Mapping):
            raise ValueError(f"actions must map each group {self.group_names} to its agents' actions, got "
                             f"{type(actions).__name__}")
        missing = [g for g in self.group_names if g not in actions]
        unknown = [g for g in actions if g not in self.group_specs]
        if missing or unknown:
            raise ValueError(f"actions must name every agent group {self.group_names} once: "
                             + (f"missing {missing}" if missing else "") + (" " if missing and unknown else "")
                             + (f"unknown {unknown}" if unknown else ""))
        for name, g in self.group_specs.items():
            try:
                a = self._checkers[name](actions[name])
            except ValueError as e:
                raise ValueError(f"agent group '{name}': {e}") from None
            a = np.asarray(a, np.float32).reshape(self.n_engines, g.n_agents, g.action_width)
            for k, buf in enumerate(self._act):
                buf[g.rows, :g.action_width] = a[k]
        try:
            for link, act in zip(self.links, self._act):  # every engine sent to before the host waits
                link.send_step(act.reshape(-1), self._autoreset)
            for link in self.links:
                link.receive(report=False)
            self._report_engine_errors()
        except BaseException as e:
            self._after_failure(e)
            raise
        result = GroupStep(obs=self._gather(lambda r, g: r.obs[g.rows, :g.obs_dim]),
                           rewards=self._gather(lambda r, g: r.reward[g.rows], np.float64),
                           terminated=self._gather(lambda r, g: r.terminated[g.rows] != 0),
                           truncated=self._gather(lambda r, g: r.truncated[g.rows] != 0))
        if self._autoreset == P.AUTORESET_SAME_STEP:
            result.final_obs = self._gather(lambda r, g: r.final_obs[g.rows, :g.obs_dim])
        return result

    def _gather(self, view, dtype=None) -> dict[str, np.ndarray]:
        """Per group, a fresh array of `view(results, group)` over the engines."""
        out = {}
        for name, g in self.group_specs.items():
            parts = [view(link.results, g) for link in self.links]
            a = np.array(parts[0], dtype=dtype) if len(parts) == 1 else np.concatenate(parts).astype(dtype or parts[0].dtype)
            out[name] = a
        return out

    def _engine_masks(self, mask: Mapping[str, Any]) -> list[np.ndarray]:
        unknown = [g for g in mask if g not in self.group_specs]
        if unknown:
            raise ValueError(f"reset mask names unknown agent groups {unknown} (groups: {self.group_names})")
        masks = [np.zeros(self.env_spec.n_agents, np.float32) for _ in self.links]
        for name, m in mask.items():
            g, n = self.group_specs[name], self.n_group_agents[name]
            m = np.asarray(m)
            if m.shape != (n,) or m.dtype.kind not in "biu":
                raise ValueError(f"reset mask of group '{name}' must be {n} booleans, got {mask[name]!r}")
            for k, engine_mask in enumerate(masks):
                engine_mask[g.rows] = m[k * g.n_agents:(k + 1) * g.n_agents] != 0
        return masks

    def _report_engine_errors(self) -> None:
        for link in self.links:
            if link.errors_pending:
                try:
                    link.report_errors(stacklevel=4)
                except P.GodotScriptError:
                    self._blocked = "call reset() first"
                    raise

    def _after_failure(self, exc: BaseException) -> None:
        if any(link.closed for link in self.links):
            self._blocked = (f"the environment is closed because an engine failed ({type(exc).__name__}); "
                             "create a new GodotGroupEnv")
            self._close_links()

    def _live(self) -> None:
        if self._blocked is not None and "closed" in self._blocked:
            raise RuntimeError(self._blocked)

    # -- lifetime -------------------------------------------------------------------------------
    def close(self) -> None:
        if self._blocked is None or "closed" not in self._blocked:
            self._blocked = "the environment is closed"
        self._close_links()

    def _close_links(self) -> None:
        links, self.links = self.links, []
        close_links(links)

    @property
    def closed(self) -> bool:
        return not self.links

    def __enter__(self) -> "GodotGroupEnv":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        groups = ", ".join(f"{n}: {self.n_group_agents[n]} x {self.policies[n]}" for n in self.group_names) \
            if hasattr(self, "group_names") else "?"
        return f"GodotGroupEnv({groups}; {getattr(self, 'n_engines', '?')} engine(s))"


def _describe(groups) -> str:
    return "[" + ", ".join(f"{g.name}: {g.n_agents} x obs {g.observation_space}, act {g.action_space}"
                           for g in groups) + "]"
