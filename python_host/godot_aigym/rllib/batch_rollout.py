"""Rollouts written as arrays for all sub-environments, cut into RLlib episodes once per `sample()`.

RLlib's `SingleAgentEnvRunner` appends every agent's every step to a Python `SingleAgentEpisode`
(about 165 us per agent-step here, against ~16 us for stepping the engine). `GodotEnvRunner`
instead records one array per vector step (observations, actions, rewards, flags, the module's
extra outputs) and builds the episodes in bulk at the end: one `SingleAgentEpisode` per finished
episode and per ongoing chunk, already numpy (what RLlib's runner returns after ``to_numpy()``).

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
        counted = len(obs) - int(self.resetting.sum())  # a reset step is not a timestep (as in RLlib)
        self.resetting = terminated | truncated
        return counted, int(self.resetting.sum())

    def episodes(self, observation_space: Any, action_space: Any, *, keep_open: bool
                 ) -> tuple[list[SingleAgentEpisode], list[SingleAgentEpisode], OpenEpisodes]:
        """(finished episodes, ongoing chunks, what the next rollout continues). Without
        ``keep_open`` the ongoing parts are dropped (RLlib's num_episodes sampling)."""
        T, n = len(self.actions), len(self.open.obs)
        nxt = OpenEpisodes(obs=self.obs[-1], ids=list(self.open.ids), t_started=self.open.t_started.copy(),
                           start_time=self.open.start_time.copy(), pending_reset=np.zeros(n, np.bool_))
        if T == 0:
            nxt.pending_reset = self.open.pending_reset.copy()
            return [], [], nxt
        per_env = _per_env  # (N, T[+1], ...) contiguous per sub-environment
        obs, actions = per_env(self.obs), per_env(self.actions)
        rewards, term, trunc = per_env(self.rewards), per_env(self.terminated), per_env(self.truncated)
        extras = {k: per_env(v) for k, v in self.extras.items()}
        times = self.times
        done, ongoing = [], []

        def chunk(i: int, a: int, b: int, terminated: bool, truncated: bool) -> SingleAgentEpisode:
            """Sub-environment i, steps a..b-1 (observations a..b)."""
            ep = SingleAgentEpisode(
                id_=nxt.ids[i], observations=obs[i, a:b + 1], infos=[{} for _ in range(b - a + 1)],
                actions=actions[i, a:b], rewards=rewards[i, a:b], terminated=terminated, truncated=truncated,
                extra_model_outputs={k: v[i, a:b] for k, v in extras.items()},
                observation_space=observation_space, action_space=action_space,
                t_started=int(nxt.t_started[i]), len_lookback_buffer=0)
            ep._start_time, ep._last_step_time = float(nxt.start_time[i]), times[b - 1]
            return ep

        for i in range(n):
            start = 1 if self.open.pending_reset[i] else 0
            if start:  # step 0 reset it: a new episode begins at observation 1
                nxt.ids[i], nxt.t_started[i], nxt.start_time[i] = uuid.uuid4().hex, 0, times[0]
            for k in np.flatnonzero(term[i] | trunc[i]):
                done.append(chunk(i, start, k + 1, bool(term[i, k]), bool(trunc[i, k])))
                start = k + 2  # step k+1 is the reset step
                if start <= T:
                    nxt.ids[i], nxt.t_started[i], nxt.start_time[i] = uuid.uuid4().hex, 0, times[k + 1]
            if start == T + 1:  # ended on the last step: the next rollout's first step resets it
                nxt.pending_reset[i] = True
            elif start < T and keep_open:
                ongoing.append(chunk(i, start, T, False, False))
                nxt.t_started[i] += T - start
                nxt.start_time[i] = times[-1]
        return done, ongoing, nxt


def _per_env(steps: list) -> np.ndarray:
    return np.ascontiguousarray(np.swapaxes(np.stack(steps), 0, 1))
