"""`GodotVectorEnv`: N agents batched in one engine x M engine processes, as a Gymnasium VectorEnv.

All engines are stepped concurrently (post to every engine, then wait on every engine); each
engine steps all its agents in one round trip. Sub-environment ``k * n_agents + i`` is agent
``i`` of engine ``k``.

Autoreset (gymnasium 1.x): ``NEXT_STEP`` (default, like SyncVectorEnv): the step after an
episode ended returns that agent's first observation with reward 0 and both flags False, its
action is ignored. ``SAME_STEP``: the step that ends an episode returns the first observation
of the next one; the last one is in ``infos["final_obs"]`` (mask ``infos["_final_obs"]``).
``DISABLED``: call ``reset(options={"reset_mask": mask})`` yourself. Both automatic modes are
done inside the engine, without spending a physics tick on the reset.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from . import protocol as P
from .godot_env import discrete_action, multi_discrete_actions
from .link import EngineLink


class GodotVectorEnv(gym.vector.VectorEnv):
    """``n_agents`` agents per engine x ``n_engines`` engines (``num_envs`` = their product).

    ``num_envs`` alone (as ``gymnasium.make_vec`` passes it) puts all agents in one engine.
    Other arguments as for `GodotEnv`; ``cpus`` may also be a list of per-engine CPU lists.
    Engine ``k`` is seeded with ``seed + k``.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": ["human"]}

    def __init__(self, project: str | os.PathLike | None = None, scene: str | None = None, *,
                 num_envs: int | None = None, n_agents: int | None = None, n_engines: int = 1,
                 seed: int | None = None, autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
                 action_repeat: int | None = None, max_episode_steps: int | None = None,
                 render_mode: str | None = None, headless: bool | None = None, realtime: bool | None = None,
                 timeout: float = 60.0, step_timeout: float | None = 120.0, spin_us: float | None = None,
                 engine_spin_us: int | None = None, cpus="auto", log_dir: str | os.PathLike | None = None,
                 engine_args: Sequence[str] = (), user_args: Sequence[str] = (), engine_errors: str = "raise",
                 godot=None) -> None:
        self.links: list[EngineLink] = []
        self._closed = False
        if isinstance(n_engines, bool) or not isinstance(n_engines, (int, np.integer)) or n_engines < 1:
            raise ValueError(f"n_engines must be a positive integer, got {n_engines!r}")
        if n_agents is None:
            if num_envs is None:
                n_agents = 1
            elif num_envs % n_engines:
                raise ValueError(f"num_envs={num_envs} is not a multiple of n_engines={n_engines}")
            else:
                n_agents = num_envs // n_engines
        elif num_envs is not None and num_envs != n_agents * n_engines:
            raise ValueError(f"num_envs={num_envs} != n_agents={n_agents} x n_engines={n_engines}")
        self.autoreset_mode = AutoresetMode(autoreset_mode)
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode}
        self.render_mode = render_mode
        if headless is None:
            headless = render_mode is None
        if realtime is None:
            realtime = render_mode == "human"
        try:
            for k in range(n_engines):
                log_path = None if log_dir is None else os.path.join(log_dir, f"engine{k}.log")
                engine_cpu = cpus[k] if isinstance(cpus, (list, tuple)) and cpus and \
                    isinstance(cpus[0], (list, tuple, set)) else cpus  # per-engine lists
                self.links.append(EngineLink(
                    project, scene, n_agents=n_agents, seed=None if seed is None else seed + k,
                    action_repeat=action_repeat, max_episode_steps=max_episode_steps, headless=headless,
                    realtime=realtime, timeout=timeout, step_timeout=step_timeout, spin_us=spin_us,
                    engine_spin_us=engine_spin_us, cpus=engine_cpu, index=k, log_path=log_path, engine_args=engine_args,
                    user_args=user_args, engine_errors=engine_errors, godot=godot))
            for link in self.links:  # engines start in parallel; now collect their specs
                link.connect()
        except BaseException:
            self.close()
            raise
        spec = self.links[0].spec
        assert spec is not None
        self.env_spec = spec
        self.n_agents, self.n_engines = int(n_agents), int(n_engines)
        self.num_envs = self.n_agents * self.n_engines
        self.single_observation_space = spec.observation_space
        self.single_action_space = spec.action_space
        self.observation_space = batch_space(spec.observation_space, self.num_envs)
        self.action_space = batch_space(spec.action_space, self.num_envs)
        self._discrete = spec.discrete
        self._width = spec.action_width
        n, d = self.num_envs, spec.obs_dim
        self._obs = np.zeros((n, d), np.float32)
        self._rew = np.zeros(n, np.float64)
        self._term = np.zeros(n, np.bool_)
        self._trunc = np.zeros(n, np.bool_)
        self._autoreset = np.zeros(n, np.bool_)
        self._needs_reset = True
        a = self.n_agents
        self._slices = [slice(k * a, (k + 1) * a) for k in range(self.n_engines)]
        self._pending_resets = False
        self._pending_count = 0
        self._n_actions = int(spec.action_space.n) if self._discrete else 0
        self._multi = isinstance(spec.action_space, gym.spaces.MultiDiscrete)
        if not self._discrete and not self._multi:
            self._low = spec.action_space.low
            self._high = spec.action_space.high
            self._low_flat = np.tile(self._low, self.num_envs).tolist()
            self._high_flat = np.tile(self._high, self.num_envs).tolist()

    # -- gymnasium API ------------------------------------------------------------------------------
    def reset(self, *, seed: int | Sequence[int] | None = None, options: dict | None = None):
        """Reset every agent (or those in ``options["reset_mask"]``)."""
        self._live()
        if seed is not None:
            seeds = [int(seed) + k for k in range(self.n_engines)] if isinstance(seed, (int, np.integer)) else \
                [int(s) if s is not None else None for s in list(seed)[::self.n_agents]]
            if len(seeds) != self.n_engines:
                raise ValueError(f"seed must be an int or a list of {self.num_envs} seeds, got {seed!r}")
        else:
            seeds = [None] * self.n_engines
        mask = None if options is None else options.get("reset_mask")
        if mask is not None:
            mask = np.asarray(mask, dtype=np.bool_)
            if mask.shape != (self.num_envs,):
                raise ValueError(f"reset_mask must have shape ({self.num_envs},), got {mask.shape}")
        for k, link in enumerate(self.links):
            sl = self._slices[k]
            flags = 0
            if seeds[k] is not None:
                link._seed_t.view[:] = P.seed_words(seeds[k])
                flags |= P.FLAG_SEED
            if mask is not None:
                link.mask[:] = mask[sl]
                link.header[2] = int(mask[sl].sum())
            else:
                link.header[2] = 0
            link.header[0] = P.CMD_RESET
            link.header[1] = flags
            link.post()
        for k, link in enumerate(self.links):
            link.wait(report=False)
            sl = self._slices[k]
            self._obs[sl] = link.obs  # the engine observes every agent (the others as they are)
        self._report_engine_errors()
        if mask is None:
            self._autoreset = np.zeros(self.num_envs, np.bool_)
        else:
            self._autoreset = self._autoreset & ~mask
        self._pending_count = int(self._autoreset.sum())
        self._pending_resets = self._pending_count > 0
        for link in self.links:
            link.header[2] = 0
            link.mask[:] = 0
        self._needs_reset = False
        return self._obs.copy(), {}

    def step(self, actions: Any):
        if self._needs_reset:
            self._live()
            raise RuntimeError("call reset() before step()")
        acts = self._check_actions(actions)
        mode = self.autoreset_mode
        same_step = mode == AutoresetMode.SAME_STEP
        pending = self._pending_resets
        if pending and mode == AutoresetMode.DISABLED:
            raise RuntimeError("autoreset is disabled: reset the finished agents with "
                               "reset(options={'reset_mask': ...}) before stepping them")
        flags = P.FLAG_SAME_STEP_AUTORESET if same_step else 0
        links = self.links
        if len(links) == 1:  # the common case: no gathering, views copied straight out
            link = links[0]
            link.actions_flat[:] = acts
            h = link.header
            if pending:  # NEXT_STEP: the agents that finished last step start over instead
                link.mask[:] = self._autoreset
                h[2] = self._pending_count
            elif h[2]:
                h[2] = 0
            h[0] = P.CMD_STEP
            h[1] = flags
            link.post()
            link.wait(report=False)
            obs = link.obs.copy()
            rew = link.reward.astype(np.float64)
            term = link.terminated != 0
            trunc = link.truncated != 0
        else:
            w = self._width
            for k, link in enumerate(links):
                sl = self._slices[k]
                link.actions_flat[:] = acts[sl.start * w:sl.stop * w]
                h = link.header
                if pending:
                    m = self._autoreset[sl]
                    link.mask[:] = m
                    h[2] = int(m.sum())
                elif h[2]:
                    h[2] = 0
                h[0] = P.CMD_STEP
                h[1] = flags
                link.post()
            obs, rew, term, trunc = self._obs, self._rew, self._term, self._trunc
            for k, link in enumerate(links):
                link.wait(report=False)
                sl = self._slices[k]
                obs[sl] = link.obs
                rew[sl] = link.reward
                np.not_equal(link.terminated, 0, out=term[sl])
                np.not_equal(link.truncated, 0, out=trunc[sl])
            obs, rew, term, trunc = obs.copy(), rew.copy(), term.copy(), trunc.copy()
        self._report_engine_errors()
        done = term | trunc
        infos: dict[str, Any] = {}
        if done.any():
            if same_step:
                final = np.full(self.num_envs, None, dtype=object)
                for k, link in enumerate(links):
                    sl = self._slices[k]
                    for i in np.flatnonzero(done[sl]):
                        final[sl.start + i] = link.final_obs[i].copy()
                infos = {"final_obs": final, "_final_obs": done.copy(), "final_info": {}, "_final_info": done}
            else:
                self._autoreset = done
                self._pending_count = int(done.sum())
                self._pending_resets = True
        elif pending:
            self._autoreset = np.zeros(self.num_envs, np.bool_)
            self._pending_resets = False
        return obs, rew, term, trunc, infos

    def _report_engine_errors(self) -> None:
        """Raise or warn about errors the engines logged (``engine_errors``), once all answered.
        A raise loses the command's results, so the environment then needs reset()."""
        for link in self.links:
            if link.errors[0]:
                try:
                    link.report_errors(stacklevel=4)
                except P.GodotScriptError:
                    self._needs_reset = True
                    raise

    def _check_actions(self, actions: Any) -> np.ndarray:
        """The actions as one flat float32-compatible array (n * width), checked against the space."""
        n = self.num_envs
        if self._discrete:
            a = actions if type(actions) is np.ndarray else np.asarray(actions)
            if a.shape != (n,) or a.dtype.kind not in "iub":
                if a.shape == (n,) and a.dtype.kind == "f" and np.all(a == np.round(a)):
                    a = a.astype(np.int64)
                else:
                    raise ValueError(f"actions {actions!r} are not in the action space {self.action_space}: "
                                     f"expected {n} integers")
            nact = self._n_actions
            if n <= 64:
                ok = all(0 <= v < nact for v in a.tolist())
            else:
                ok = not (a.min() < 0 or a.max() >= nact)
            if not ok:
                bad = int(np.flatnonzero((a < 0) | (a >= nact))[0])
                discrete_action(a[bad], nact)  # raises, naming the action
            return a
        if self._multi:
            return multi_discrete_actions(actions, self.single_action_space, (n, self._width)).reshape(-1)
        a = actions
        if type(a) is not np.ndarray or a.dtype != np.float32:
            try:
                a = np.asarray(actions, dtype=np.float32)
            except (TypeError, ValueError):
                raise ValueError(f"actions {actions!r} are not in the action space {self.action_space}") from None
        if a.shape != (n, self._width):
            raise ValueError(f"actions have shape {a.shape}, the action space {self.action_space} needs "
                             f"{(n, self._width)}")
        if a.size <= 64:  # small batches: a Python loop beats numpy's per-call overhead
            ok = all(lo <= v <= hi for v, lo, hi in zip(a.ravel().tolist(), self._low_flat, self._high_flat))
        else:
            ok = bool(((a >= self._low) & (a <= self._high)).all())
        if not ok:
            good = (a >= self._low) & (a <= self._high)
            bad = int(np.flatnonzero(~good.all(axis=1))[0])
            raise ValueError(f"action {a[bad]!r} of sub-environment {bad} is outside the action space "
                             f"{self.single_action_space}")
        return a.reshape(-1)

    def render(self):
        return None

    def close(self, **kwargs: Any) -> None:
        if self._closed:
            return
        self._closed = True
        links, self.links = self.links, []
        for link in links:  # ask every engine first, then reap: they quit in parallel
            try:
                if link._connected and link.alive():
                    link.header[0] = P.CMD_CLOSE
                    link.post()
            except Exception:
                pass
        for link in links:
            link.close()

    def close_extras(self, **kwargs: Any) -> None:
        self.close()

    def _live(self) -> None:
        if self._closed or any(link.closed for link in self.links):
            raise RuntimeError("the vector environment is closed (or one of its engines died)")

    @property
    def engines(self):
        return [link.proc for link in self.links]

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return f"<GodotVectorEnv {self.n_agents} agents x {self.n_engines} engines>" if hasattr(self, "n_agents") \
            else "<GodotVectorEnv>"
