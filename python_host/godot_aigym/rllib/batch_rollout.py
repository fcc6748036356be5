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

import gc
import os
import pickle
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from .compact_arrays import compact, compact_ids, expand
from .episode_build import SpaceStructs, numpy_episodes


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
        return cls(obs=obs, ids=_new_ids(n), t_started=np.zeros(n, np.int64),
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
        self._envs = len(self.open.obs)
        self._resets = int(np.count_nonzero(self.open.pending_reset))  # reset steps the next step makes

    @property
    def pending_resets(self) -> int:
        """Reset steps the next step makes (sub-environments whose episode ended on the last one)."""
        return self._resets

    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, terminated: np.ndarray,
            truncated: np.ndarray, extras: dict[str, np.ndarray], at: float | None = None) -> tuple[int, int]:
        """Record one vector step (answered at perf_counter ``at``, default now); returns (agent
        steps it counted, episodes it ended)."""
        self.obs.append(obs)
        self.actions.append(actions)
        self.rewards.append(rewards)
        self.terminated.append(terminated)
        self.truncated.append(truncated)
        if extras:
            for k, v in extras.items():
                self.extras.setdefault(k, []).append(v)
        self.times.append(time.perf_counter() if at is None else at)
        counted = self._envs - self._resets  # a reset step is not a timestep (as in RLlib)
        self._resets = ended = int(np.count_nonzero(terminated | truncated))  # the next step resets these
        return counted, ended

    def pack(self, observation_space: Any, action_space: Any, *, keep_open: bool
             ) -> tuple["PackedEpisodes", OpenEpisodes]:
        """(this rollout's finished episodes and ongoing chunks as arrays, what the next rollout
        continues). Without ``keep_open`` the ongoing parts are dropped (RLlib's num_episodes
        sampling, or a failed env). Cut with array operations over all sub-environments at once
        (a sample of ~10k random cart-pole steps holds ~500 episodes)."""
        T, n = len(self.actions), len(self.open.obs)
        opened = self.open
        nxt = OpenEpisodes(obs=self.obs[-1], ids=list(opened.ids), t_started=opened.t_started.copy(),
                           start_time=opened.start_time.copy(), pending_reset=opened.pending_reset.copy())
        packed = PackedEpisodes(observation_space, action_space)
        if T == 0:
            return packed, nxt
        times = np.asarray(self.times)
        term, trunc = _stacked(self.terminated).T, _stacked(self.truncated).T  # (N, T)
        env, k = np.nonzero(term | trunc)  # every episode end, sub-environment-major, steps ascending
        first = np.ones(len(env), np.bool_)  # the sub-environment's first end in this rollout
        first[1:] = env[1:] != env[:-1]
        last = np.ones(len(env), np.bool_)  # ... and its last
        last[:-1] = first[1:]
        start0 = opened.pending_reset.astype(np.int64)  # after a pending reset step the episode begins at step 1
        tail = start0.copy()  # where each sub-environment's last, ongoing part begins (step k+1 after an end resets)
        tail[env[last]] = k[last] + 2
        has_end = np.zeros(n, np.bool_)
        has_end[env] = True
        open_env = np.flatnonzero(tail < T)
        seg_env = np.concatenate((env, open_env))
        seg_start = np.concatenate((np.where(first, start0[env], np.concatenate(([0], k[:-1] + 2))[:len(k)]),
                                    tail[open_env]))
        seg_end = np.concatenate((k + 1, np.full(len(open_env), T)))
        # a part continues the open chunk when it is its sub-environment's first and no reset step precedes it
        continues = np.concatenate((first, ~has_end[open_env])) & (start0[seg_env] == 0)
        ids = _ids([opened.ids[i] for i in seg_env[continues].tolist()], continues)
        t_started = np.where(continues, opened.t_started[seg_env], 0)
        flags = np.zeros(len(open_env), np.bool_)
        segments = Segments(env=seg_env, start=seg_start, end=seg_end, terminated=np.concatenate((term[env, k], flags)),
                            truncated=np.concatenate((trunc[env, k], flags)), ids=ids, t_started=t_started,
                            start_time=np.where(continues, opened.start_time[seg_env], times[np.maximum(seg_start - 1, 0)]),
                            last_time=times[seg_end - 1])
        # what the next rollout continues
        nxt.pending_reset[:] = tail == T + 1  # ended on the last step: the next rollout's first step resets it
        for j, id_ in zip(np.flatnonzero(tail == T).tolist(), _new_ids(int(np.count_nonzero(tail == T)))):
            nxt.ids[j], nxt.t_started[j], nxt.start_time[j] = id_, 0, times[-1]  # began at the last observation
        ongoing = slice(len(env), None)
        for j, id_ in zip(open_env.tolist(), ids[ongoing]):
            nxt.ids[j] = id_
        nxt.t_started[open_env] = t_started[ongoing] + T - tail[open_env]
        nxt.start_time[open_env] = times[-1]
        # RLlib's order: finished episodes as they ended (step, then sub-environment), then the
        # ongoing chunks; its metrics keep the last episodes of a window in this order
        order = np.concatenate((np.lexsort((env, k)), np.arange(len(env), len(seg_env))))
        segments = segments.take(order)
        packed.segments = segments if keep_open else segments.head(len(env))
        packed.obs, packed.actions, packed.rewards = _per_env(self.obs), _per_env(self.actions), _per_env(self.rewards)
        packed.extras = {name: _per_env(v) for name, v in self.extras.items()}
        packed.constant_extras = dict(self.constant_extras)  # expanded where the episodes are built
        return packed, nxt


@dataclass
class Segments:
    """One row per episode or chunk of a rollout: sub-environment, steps ``start..end-1``
    (observations ``start..end``), flags, RLlib's id, ``t_started`` and timers."""

    env: np.ndarray
    start: np.ndarray
    end: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    ids: list
    t_started: np.ndarray
    start_time: np.ndarray
    last_time: np.ndarray

    @classmethod
    def empty(cls) -> "Segments":
        z = np.zeros(0, np.int64)
        return cls(z, z, z, z.astype(np.bool_), z.astype(np.bool_), [], z, z.astype(np.float64), z.astype(np.float64))

    def take(self, rows: np.ndarray) -> "Segments":
        ids = self.ids
        return Segments(**{f: getattr(self, f)[rows] for f in self.__dataclass_fields__ if f != "ids"},
                        ids=[ids[j] for j in rows.tolist()])

    def head(self, m: int) -> "Segments":
        return Segments(**{f: getattr(self, f)[:m] for f in self.__dataclass_fields__})

    def __getstate__(self) -> dict:  # the columns in their smallest lossless form (`compact_arrays`)
        return {f: compact_ids(v) if f == "ids" else compact(v) for f, v in self.__dict__.items()}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update({f: expand(v) for f, v in state.items()})

    def __len__(self) -> int:
        return len(self.ids)


class PackedEpisodes:
    """Episodes and chunks of one rollout as a few arrays (sub-environment-major) and a table of
    segments; cheap to pickle. `build()` makes the `SingleAgentEpisode`s, `summaries()` what
    RLlib's episode metrics read."""

    def __init__(self, observation_space: Any, action_space: Any) -> None:
        self.observation_space, self.action_space = observation_space, action_space
        self.segments = Segments.empty()
        self.obs = self.actions = self.rewards = None
        self.extras: dict[str, np.ndarray] = {}
        # one value for every step (weights_seq_no): sent as the value, not as an (N, T) array
        # (8 B per step: ~77 kB of a 9,600-step sample that crosses Ray)
        self.constant_extras: dict[str, Any] = {}

    def __getstate__(self) -> dict:
        # the spaces travel as bytes pickled once per runner and unpickled once per receiver
        # (`_SpaceCache`): ~0.3 ms of a few-ms PPO sample otherwise, half of it their RNG state
        state = dict(self.__dict__, observation_space=None, action_space=None)
        state["spaces"] = _SPACES.dumps(self.observation_space, self.action_space)
        # actions, rewards and extras in their smallest lossless form (`compact_arrays`: a
        # 4,000-step cart-pole sample then stays under Ray's inline limit); the observations as
        # they are (comparing image observations for a constant would cost a pass over them)
        state["actions"], state["rewards"] = compact(self.actions), compact(self.rewards, palette=True)
        state["extras"] = {name: compact(v) for name, v in self.extras.items()}
        return state

    def __setstate__(self, state: dict) -> None:
        blob = state.pop("spaces")
        state["actions"], state["rewards"] = expand(state["actions"]), expand(state["rewards"])
        state["extras"] = {name: expand(v) for name, v in state["extras"].items()}
        self.__dict__.update(state)
        self.observation_space, self.action_space = _SPACES.loads(blob)

    def build(self) -> list[SingleAgentEpisode]:
        """The episodes, built with the garbage collector paused: their ~10 tracked objects each
        (hundreds of episodes per sample) would otherwise set off young-generation collections
        that go over the same new objects again and again while they are built (a third of the
        build time here). Collections are put off, not skipped."""
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._build_episodes()
        finally:
            if was_enabled:
                gc.enable()

    def _build_episodes(self) -> list[SingleAgentEpisode]:
        spaces = SpaceStructs(self.observation_space, self.action_space)
        obs, actions, rewards, extras = self.obs, self.actions, self.rewards, dict(self.extras)
        for name, value in self.constant_extras.items():
            extras[name] = np.full(rewards.shape, value)  # the episodes get views of it, as of any extra
        s = self.segments
        if not len(s):  # nothing recorded (an env that failed at once): no arrays either
            return []
        return numpy_episodes(spaces, obs, actions, rewards, extras, zip(
            s.env.tolist(), s.start.tolist(), s.end.tolist(), s.terminated.tolist(), s.truncated.tolist(), s.ids,
            s.t_started.tolist(), s.start_time.tolist(), s.last_time.tolist()))

    def summaries(self) -> list["EpisodeSummary"]:
        s = self.segments
        if not len(s):
            return []
        sums = np.zeros((len(self.rewards), self.rewards.shape[1] + 1))
        np.cumsum(self.rewards, axis=1, dtype=np.float64, out=sums[:, 1:])
        returns = sums[s.env, s.end] - sums[s.env, s.start]
        return [EpisodeSummary(*row) for row in zip(s.ids, (s.end - s.start).tolist(), returns.tolist(),
                                                    (s.last_time - s.start_time).tolist(),
                                                    (s.terminated | s.truncated).tolist())]

    def num_done(self) -> int:
        return int(np.count_nonzero(self.segments.terminated | self.segments.truncated))


class _SpaceCache:
    """(observation space, action space) <-> their pickle, each way computed once: a runner
    sends the same two spaces with every sample. The sender keeps the spaces it pickled (so
    their ids stay theirs), the receiver the spaces it unpickled, keyed by the bytes; a few
    entries at most (a runner's env is rebuilt only after a failure). The bytes are the spaces
    as first seen (their RNG state drawn later is not sent), and all samples a process receives
    from them share one space object."""

    LIMIT = 8

    def __init__(self) -> None:
        self._sent: dict[tuple[int, int], tuple[Any, Any, bytes]] = {}
        self._received: dict[bytes, tuple[Any, Any]] = {}

    def dumps(self, observation_space: Any, action_space: Any) -> bytes:
        hit = self._sent.get((id(observation_space), id(action_space)))
        if hit is None:
            if len(self._sent) >= self.LIMIT:
                self._sent.clear()
            blob = pickle.dumps((observation_space, action_space), protocol=pickle.HIGHEST_PROTOCOL)
            hit = self._sent[(id(observation_space), id(action_space))] = (observation_space, action_space, blob)
        return hit[2]

    def loads(self, blob: bytes) -> tuple[Any, Any]:
        spaces = self._received.get(blob)
        if spaces is None:
            if len(self._received) >= self.LIMIT:
                self._received.clear()
            spaces = self._received[blob] = pickle.loads(blob)
        return spaces


_SPACES = _SpaceCache()


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
    built once, on the side that uses them. Empty in the actor itself.

    Pickled by the C pickler into one bytes object (Ray's cloudpickle visits every object in
    Python and sends each array as a buffer of its own: ~0.2-0.3 ms of a 256-step call, ~0.08
    this way); arrays of ``OUT_OF_BAND`` bytes or more (image observations) stay out-of-band
    buffers, which Ray's object store carries without a copy."""

    OUT_OF_BAND = 1 << 16

    def __init__(self, packed: PackedEpisodes) -> None:
        super().__init__()
        self.packed = packed

    def __reduce_ex__(self, protocol: int):
        buffers: list = []

        def in_band(buffer: pickle.PickleBuffer) -> bool:
            if buffer.raw().nbytes < self.OUT_OF_BAND:
                return True
            buffers.append(buffer)
            return False

        # out-of-band buffers only for a pickler that can carry them (protocol 5: Ray's)
        blob = pickle.dumps(self.packed, protocol=5, buffer_callback=in_band if protocol >= 5 else None)
        return _build, (blob, buffers)


def _build(blob: bytes, buffers: list) -> list[SingleAgentEpisode]:
    return pickle.loads(blob, buffers=buffers).build()


def _new_ids(m: int) -> list[str]:
    """``m`` fresh episode ids (32 hex digits, like RLlib's ``uuid4().hex``) from one urandom call."""
    digits = os.urandom(16 * m).hex()
    return [digits[j:j + 32] for j in range(0, 32 * m, 32)]


def _ids(kept: list[str], continues: np.ndarray) -> list[str]:
    """Per segment: the open chunk's id where it ``continues``, in order, else a fresh one."""
    fresh, kept_it = iter(_new_ids(len(continues) - len(kept))), iter(kept)
    return [next(kept_it) if c else next(fresh) for c in continues.tolist()]


def _stacked(steps: list) -> np.ndarray:
    """``np.stack(steps)`` for equal-shaped arrays, through one concatenate (np.stack makes a
    view of every array first: 3x slower for a rollout's ~600 small arrays)."""
    return np.concatenate(steps).reshape(len(steps), *np.shape(steps[0]))


def _per_env(steps: list) -> np.ndarray:
    return np.ascontiguousarray(np.swapaxes(_stacked(steps), 0, 1))
