"""Rollouts written as arrays for all sub-environments, cut into RLlib episodes once per `sample()`.

RLlib's `SingleAgentEnvRunner` appends every agent's every step to a Python `SingleAgentEpisode`
(about 165 us per agent-step here, against ~16 us for stepping the engine). `GodotEnvRunner`
instead records one array per vector step (observations, actions, rewards, flags, the module's
extra outputs) and cuts them into episodes once at the end: one `SingleAgentEpisode` per finished
episode and per ongoing chunk, already numpy (what RLlib's runner returns after ``to_numpy()``),
built where they are used (`EpisodeBatch`: in the driver when the runner is a Ray actor).

Autoreset is gymnasium's NEXT_STEP (what `GodotVectorEnv` does): after the step that ends an
agent's episode, that agent's next step is a reset step whose action is ignored and whose
observation is the new episode's first. Episode contract kept from RLlib: an ongoing episode is
returned as a chunk and continued by the next `sample()` under the same id with ``t_started``
advanced; its first observation is the chunk's last one.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from .episode_build import SpaceStructs, numpy_episode


@dataclass
class OpenEpisodes:
    """Per sub-environment, the episode chunk that the next rollout continues."""

    obs: np.ndarray  # the current observation of every sub-environment (N, ...)
    ids: list[str]
    t_started: np.ndarray  # steps this episode had before the open chunk
    start_time: np.ndarray  # perf_counter when the open chunk started (episode durations)
    pending_reset: np.ndarray  # the episode ended on the last step: the next step is a reset step

    @classmethod
    def after_reset(cls, obs: np.ndarray) -> "OpenEpisodes":
        n = len(obs)
        return cls(obs=obs, ids=[uuid.uuid4().hex for _ in range(n)], t_started=np.zeros(n, np.int64),
                   start_time=np.full(n, time.perf_counter()), pending_reset=np.zeros(n, np.bool_))


@dataclass
class Rollout:
    """Vector steps recorded as they come: ``obs[k]`` is what step ``k`` acted on."""

    open: OpenEpisodes
    constant_extras: dict = field(default_factory=dict)  # the same value every step (weights_seq_no)
    obs: list = field(default_factory=list)
    actions: list = field(default_factory=list)
    rewards: list = field(default_factory=list)
    terminated: list = field(default_factory=list)
    truncated: list = field(default_factory=list)
    extras: dict = field(default_factory=dict)
    times: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.obs.append(self.open.obs)
        self.resetting = self.open.pending_reset.copy()  # which sub-environments the next step resets

    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, terminated: np.ndarray,
            truncated: np.ndarray, extras: dict[str, np.ndarray]) -> tuple[int, int]:
        """Record one vector step; returns (agent steps it counted, episodes it ended)."""
        self.obs.append(obs)
        self.actions.append(actions)
        self.rewards.append(rewards)
        self.terminated.append(terminated)
        self.truncated.append(truncated)
        for k, v in extras.items():
            self.extras.setdefault(k, []).append(v)
        self.times.append(time.perf_counter())
        counted = len(obs) - int(np.count_nonzero(self.resetting))  # a reset step is not a timestep (as in RLlib)
        self.resetting = terminated | truncated
        return counted, int(np.count_nonzero(self.resetting))

    def pack(self, observation_space: Any, action_space: Any, *, keep_open: bool
             ) -> tuple["PackedEpisodes", OpenEpisodes]:
        """(this rollout's finished episodes and ongoing chunks as arrays, what the next rollout
        continues). Without ``keep_open`` the ongoing parts are dropped (RLlib's num_episodes
        sampling, or a failed env)."""
        T, n = len(self.actions), len(self.open.obs)
        nxt = OpenEpisodes(obs=self.obs[-1], ids=list(self.open.ids), t_started=self.open.t_started.copy(),
                           start_time=self.open.start_time.copy(), pending_reset=self.open.pending_reset.copy())
        packed = PackedEpisodes(observation_space, action_space)
        if T == 0:
            return packed, nxt
        nxt.pending_reset[:] = False
        term, trunc = np.stack(self.terminated, 1), np.stack(self.truncated, 1)  # (N, T)
        times = self.times
        seg = packed.segments

        def chunk(i: int, a: int, b: int, terminated: bool, truncated: bool) -> None:
            """Sub-environment i, steps a..b-1 (observations a..b)."""
            seg.append((i, a, b, terminated, truncated, nxt.ids[i], int(nxt.t_started[i]), float(nxt.start_time[i]),
                        times[b - 1]))

        for i in range(n):
            start = 1 if self.open.pending_reset[i] else 0
            if start:  # step 0 reset it: a new episode begins at observation 1
                nxt.ids[i], nxt.t_started[i], nxt.start_time[i] = uuid.uuid4().hex, 0, times[0]
            for k in np.flatnonzero(term[i] | trunc[i]):
                chunk(i, start, k + 1, bool(term[i, k]), bool(trunc[i, k]))
                start = k + 2  # step k+1 is the reset step
                if start <= T:
                    nxt.ids[i], nxt.t_started[i], nxt.start_time[i] = uuid.uuid4().hex, 0, times[k + 1]
            if start == T + 1:  # ended on the last step: the next rollout's first step resets it
                nxt.pending_reset[i] = True
            elif start < T and keep_open:
                chunk(i, start, T, False, False)
                nxt.t_started[i] += T - start
                nxt.start_time[i] = times[-1]
        packed.obs, packed.actions, packed.rewards = _per_env(self.obs), _per_env(self.actions), _per_env(self.rewards)
        packed.extras = {k: _per_env(v) for k, v in self.extras.items()}
        for k, v in self.constant_extras.items():
            packed.extras[k] = np.full((n, T), v)
        return packed, nxt


class PackedEpisodes:
    """Episodes and chunks of one rollout as a few arrays (sub-environment-major) and a table of
    segments; cheap to pickle. `build()` makes the `SingleAgentEpisode`s, `summaries()` what
    RLlib's episode metrics read."""

    def __init__(self, observation_space: Any, action_space: Any) -> None:
        self.observation_space, self.action_space = observation_space, action_space
        # (sub-env, first step, end step, terminated, truncated, id, t_started, start time, last step time)
        self.segments: list[tuple] = []
        self.obs = self.actions = self.rewards = None
        self.extras: dict[str, np.ndarray] = {}

    def build(self) -> list[SingleAgentEpisode]:
        spaces = SpaceStructs(self.observation_space, self.action_space)
        obs, actions, rewards, extras = self.obs, self.actions, self.rewards, self.extras
        return [numpy_episode(spaces, id_, obs[i, a:b + 1], actions[i, a:b], rewards[i, a:b],
                              {k: v[i, a:b] for k, v in extras.items()}, terminated=term, truncated=trunc,
                              t_started=t0, start_time=t_start, last_step_time=t_last)
                for i, a, b, term, trunc, id_, t0, t_start, t_last in self.segments]

    def summaries(self) -> list["EpisodeSummary"]:
        return [EpisodeSummary(id_, b - a, float(self.rewards[i, a:b].sum()), t_last - t_start, term or trunc)
                for i, a, b, term, trunc, id_, _t0, t_start, t_last in self.segments]

    def num_done(self) -> int:
        return sum(1 for s in self.segments if s[3] or s[4])


@dataclass
class EpisodeSummary:
    """What `SingleAgentEnvRunner.get_metrics` reads from an episode or chunk."""

    id_: str
    length: int
    episode_return: float
    duration_s: float
    is_done: bool

    def __len__(self) -> int:
        return self.length

    def get_return(self) -> float:
        return self.episode_return

    def get_duration_s(self) -> float:
        return self.duration_s


class EpisodeBatch(list):
    """What a runner in a Ray actor returns from `sample()`: the packed arrays, turned into a
    plain list of `SingleAgentEpisode`s where it is unpickled (the driver), so the episodes are
    built once, on the side that uses them. Empty in the actor itself."""

    def __init__(self, packed: PackedEpisodes) -> None:
        super().__init__()
        self.packed = packed

    def __reduce__(self):
        return _build, (self.packed,)


def _build(packed: PackedEpisodes) -> list[SingleAgentEpisode]:
    return packed.build()


def _per_env(steps: list) -> np.ndarray:
    return np.ascontiguousarray(np.swapaxes(np.stack(steps), 0, 1))
