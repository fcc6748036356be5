"""`GodotVectorEnv`: N agents batched in one engine x M engine processes, as a Gymnasium VectorEnv.

All engines are stepped concurrently (send to every engine, then receive from every engine);
each engine steps all its agents in one round trip. Sub-environment ``k * n_agents + i`` is
agent ``i`` of engine ``k``.

Autoreset (gymnasium 1.x), decided inside the engine without spending a physics tick:
``NEXT_STEP`` (default, like SyncVectorEnv): the step after an episode ended returns that
agent's first observation with reward 0 and both flags False, its action is ignored.
``SAME_STEP``: the step that ends an episode returns the first observation of the next one; the
last one is in ``infos["final_obs"]`` (mask ``infos["_final_obs"]``). ``DISABLED``: call
``reset(options={"reset_mask": mask})`` yourself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from ..shm.relay import relay
from . import _stepcore, placement
from . import protocol as P
from .actions import ActionChecker
from .autoreset import parse_autoreset_mode
from .engine_links import (ENGINE_AUTORESET, agents_per_engine, close_links, engine_seeds, open_links, positive_int,
                           render_frames)
from .link import EngineLink
from .observations import DictBatch, agent_final_observation, batch_observation
from .options import EnvOptions

_CALL_RESET = "call reset() before step()"
_AWAITING = "step_async() was called: call step_wait() first"


class GodotVectorEnv(gym.vector.VectorEnv):
    """``n_agents`` agents per engine x ``n_engines`` engines (``num_envs`` = their product).

    ``num_envs`` alone (as ``gymnasium.make_vec`` passes it) puts all agents in one engine.
    Other keyword arguments as for `GodotEnv` (`EnvOptions`), except ``log_path``: ``log_dir``
    keeps ``engine<k>.log`` there. ``cpus`` may also be a list of per-engine CPU lists.
    Engine ``k`` is seeded with ``seed + k``.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": ["human", "rgb_array"]}

    def __init__(self, project: str | os.PathLike | None = None, scene: str | None = None, *,
                 num_envs: int | None = None, n_agents: int | None = None, n_engines: int = 1,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
                 log_dir: str | os.PathLike | None = None, options: EnvOptions | None = None, **kwargs: Any) -> None:
        self.links: list[EngineLink] = []
        self._blocked: str | None = "the vector environment is not ready"
        n_engines = positive_int("n_engines", n_engines)
        n_agents = agents_per_engine(num_envs, n_agents, n_engines)
        if "log_path" in kwargs:
            raise ValueError("GodotVectorEnv keeps one log per engine: pass log_dir, not log_path")
        opts = EnvOptions.from_kwargs("GodotVectorEnv", project, scene, options, kwargs)
        self.autoreset_mode = parse_autoreset_mode(autoreset_mode)
        self._engine_autoreset = ENGINE_AUTORESET[self.autoreset_mode]
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode}
        self.render_mode = opts.render_mode
        self.links = open_links(opts, n_agents, n_engines, log_dir)
        spec = self.links[0].spec
        self.env_spec = spec
        self.n_agents, self.n_engines = n_agents, n_engines
        self.num_envs = n_agents * n_engines
        self.single_observation_space = spec.observation_space
        self.single_action_space = spec.action_space
        self.observation_space = batch_space(spec.observation_space, self.num_envs)
        self.action_space = batch_space(spec.action_space, self.num_envs)
        checker = ActionChecker(spec.action_space, batch=self.num_envs)
        self._check_actions = checker.check
        self._one: EngineLink | None = self.links[0] if n_engines == 1 else None  # the hot path: one engine
        if self._one is not None:
            self._one.use_checker(checker)  # its step checks the actions (in C for the usual forms)
        self._infos = self.autoreset_mode != AutoresetMode.NEXT_STEP  # NEXT_STEP: infos are always {}
        self._disabled = self.autoreset_mode == AutoresetMode.DISABLED
        self._width = spec.action_width
        n, d = self.num_envs, spec.obs_dim
        self._obs = np.zeros((n, d), np.float32)
        self._dict = DictBatch(spec, n) if spec.parts else None  # Dict observations
        self._finished = np.zeros(n, np.bool_)  # DISABLED autoreset: agents waiting for a reset_mask
        self._slices = [slice(k * n_agents, (k + 1) * n_agents) for k in range(n_engines)]
        # several engines (and step_async): the whole batch checked, staged and gathered in C
        views = [link.step_views() for link in self.links]
        self._stager = checker.stager([v[0] for v in views], spec.layout.actions.start, P.CMD_STEP)
        self._gatherer = _stepcore.Gatherer([v[1] for v in views], n_agents, spec.layout.obs_dim, spec.layout.scalars_at)
        self._posts = [link.post_command for link in self.links]  # engine order: sent 0, 1, ..., then waited for
        self._error_counts = [link.error_count for link in self.links]
        self._receives = [link.receiver() for link in self.links]  # receive(report=False), one C wait each
        self._spun_receives = [link.receiver(spun=True) for link in self.links]  # after the relay's spin
        # several engines, flat observations, no frames to wait for: every post and every answer's
        # spin in one C call (the receivers above take over an answer that did not come in its spin)
        self._relay_step = self._relay_wait = None
        # (pinned engines only: the relay's yield-at-once rule was measured with the host sharing a
        # known CPU with an engine; unpinned engines keep the per-engine posts and receivers)
        if n_engines > 1 and self._dict is None and not any(link.renders for link in self.links) \
                and all(link.cpus for link in self.links):
            answers, yields = [link.answer_semaphore for link in self.links], placement.host_yields_at_once(n_engines)
            self._relay_step = relay([link.command_semaphore for link in self.links], answers, yields)
            self._relay_wait = relay([], answers, yields)
        self._blocked = _CALL_RESET

    # -- gymnasium API --------------------------------------------------------------------------
    def reset(self, *, seed: int | Sequence[int] | None = None, options: dict | None = None):
        """Reset every agent (or those in ``options["reset_mask"]``). ``seed``: an int (engine k
        gets seed + k) or a list of ``num_envs`` seeds (engine k takes the one of its first agent)."""
        self._live()
        if self._blocked is _AWAITING:
            raise RuntimeError(_AWAITING)
        seeds = engine_seeds(seed, self.n_agents, self.n_engines)
        if options is not None and not isinstance(options, Mapping):  # was AttributeError: no attribute 'get'
            raise TypeError(f"options must be a dict (e.g. {{'reset_mask': mask}}) or None, got {type(options).__name__}")
        mask = None if options is None else options.get("reset_mask")
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != (self.num_envs,) or mask.dtype.kind not in "biu":
                raise ValueError(f"reset_mask must be {self.num_envs} booleans, got {options.get('reset_mask')!r}")
            mask = mask.astype(np.bool_)
        self._blocked = _CALL_RESET  # until every engine answered
        try:
            sent = [link.send_reset(seeds[k], None if mask is None else mask[self._slices[k]])
                    for k, link in enumerate(self.links)]  # False: the mask selects none of its agents
            for k, link in enumerate(self.links):
                r = link.receive(report=False) if sent[k] else link.results  # the others as they are
                if self._dict is not None:
                    self._dict.put(self._slices[k], r)
                else:
                    self._obs[self._slices[k]] = r.obs
            self._report_engine_errors()
        except BaseException as e:
            self._after_failure(e)
            raise
        self._finished = np.zeros(self.num_envs, np.bool_) if mask is None else self._finished & ~mask
        self._blocked = None
        return (self._obs.copy() if self._dict is None else self._dict.copy()), {}

    def step(self, actions: Any):
        if self._blocked is not None or self._disabled:  # the common case checked inline
            self._check_steppable()
        try:
            one = self._one
            if one is not None:  # the link checks the actions and steps in one round trip
                one.step(actions, self._engine_autoreset)
                return self._answer(self._gatherer.fresh(True) if self._dict is None else self._dict_answer())
            if not self._stager.stage(actions, self._engine_autoreset):
                self._stage_checked(actions)
            if self._relay_step is not None:
                return self._gather_steps(self._relay_step())
            for post in self._posts:
                post()
            return self._gather_steps()
        except BaseException as e:
            self._step_failed(e)
            raise

    def step_async(self, actions: Any) -> None:
        """Check ``actions`` and send them to every engine; returns at once. `step_wait` collects
        the results (the engines step meanwhile); nothing else may be called in between."""
        if self._blocked is not None or self._disabled:
            self._check_steppable()
        if not self._stager.stage(actions, self._engine_autoreset):
            self._stage_checked(actions)  # ValueError naming them: nothing sent, the env stays usable
        try:
            for post in self._posts:
                post()
        except BaseException as e:  # some engines may hold the command, others not: unusable
            self._blocked = (f"the vector environment is closed because step_async failed ({type(e).__name__}); "
                             "create a new GodotVectorEnv")
            self._close_links()
            raise
        self._blocked = _AWAITING

    def step_wait(self):
        """Wait for the step `step_async` sent; returns what `step` returns."""
        if self._blocked is not _AWAITING:
            closed = self._blocked is not None and self._blocked.startswith("the vector environment is closed")
            raise RuntimeError(self._blocked if closed else "step_wait() without a step_async() before it")
        self._blocked = None
        try:
            if self._one is not None:  # the engine's answer through its receiver (one C wait)
                self._receives[0]()
                if self._error_counts[0][0]:
                    self._one.report_errors(stacklevel=3)  # warn() <- report_errors <- here <- the caller
                return self._answer(self._gatherer.fresh(True) if self._dict is None else self._dict_answer())
            return self._gather_steps(-2 if self._relay_wait is None else self._relay_wait())
        except BaseException as e:
            self._step_failed(e)
            raise

    def _check_steppable(self) -> None:
        """Raise if the env may not step now (blocked, or finished agents waiting for a reset
        with autoreset disabled)."""
        if self._blocked is not None:
            raise RuntimeError(self._blocked)
        if self._disabled and self._finished.any():
            raise RuntimeError("autoreset is disabled: reset the finished agents with "
                               "reset(options={'reset_mask': ...}) before stepping them")

    def _dict_answer(self):
        """(obs, rew, term, trunc) of the one engine's answer with Dict observations: the parts
        copied out of its result views, the scalars by the Gatherer (which counts the episodes
        that ended, for `_step_infos`). Flat observations: ``self._gatherer.fresh(True)``, called
        inline (a Python call less a step)."""
        _, rew, term, trunc = self._gatherer.fresh(False)
        return batch_observation(self._one.results), rew, term, trunc

    def _answer(self, results):
        """A step's return value: (obs, rew, term, trunc) and the infos."""
        obs, rew, term, trunc = results
        return obs, rew, term, trunc, (self._step_infos(term, trunc) if self._infos else {})

    def _step_failed(self, e: BaseException) -> None:
        if isinstance(e, P.GodotScriptError):
            self._blocked = _CALL_RESET  # the step's results are lost
        self._after_failure(e)

    def _stage_checked(self, actions: Any) -> None:
        """Actions of a form the C stager (``self._stager.stage``: the usual forms, the whole batch
        checked and each engine's rows and STEP header written into its ``in`` tensor in one call)
        does not take: through the checker (ValueError naming them, nothing written), then each
        engine's rows. Nothing is posted."""
        autoreset = self._engine_autoreset
        acts, w = self._check_actions(actions), self._width
        for sl, link in zip(self._slices, self.links):
            link.stage_step(acts[sl.start * w:sl.stop * w], autoreset)

    def _gather_steps(self, relayed: int = -2):
        """Receive every engine's answer to the step sent (engine errors raised or warned about
        once all answered); returns what `step` returns: fresh (obs, rew, term, trunc), made and
        filled by one C call (the Gatherer's ``fresh``: ~0.8 us less per step than a copy and three
        astypes of one engine's views, ~2,000 host instructions less than four np.empty and a
        gather; Dict observations copied by their DictBatch), and the infos. ``relayed``: what
        the relay returned (-1: every answer in; see ``shm.relay.relay``), -2: no relay."""
        batch = self._dict
        if batch is None:
            if relayed != -1:
                self._receive_after(relayed)
            obs, rew, term, trunc = self._gatherer.fresh(True)
        else:
            for k, receive in enumerate(self._receives):
                receive()
                batch.put(self._slices[k], self.links[k].results)  # images copied out while the others draw
            _, rew, term, trunc = self._gatherer.fresh(False)
            obs = batch.copy()
        for count in self._error_counts:
            if count[0]:
                self._report_engine_errors(stacklevel=5)  # warn() <- report_errors <- here <- here <- step
                break
        return obs, rew, term, trunc, (self._step_infos(term, trunc) if self._infos else {})

    def _receive_after(self, relayed: int) -> None:
        """The answers the relay did not take (all without a relay, -2), each through its engine's
        receiver -- the first one, which the relay spun for, without a second spin; the commands it
        did not post (``relayed`` >= M engines) through their posters first (a failed post raises
        naming its semaphore)."""
        m = len(self._receives)
        if relayed >= m:
            for post in self._posts[relayed - m:]:
                post()
        if relayed < 0 or relayed >= m:
            relayed = 0
        else:  # the relay spun for this one: block at once (no second spin budget)
            self._spun_receives[relayed]()
            relayed += 1
        for receive in self._receives[relayed:]:
            receive()

    def _step_infos(self, term: np.ndarray, trunc: np.ndarray) -> dict[str, Any]:
        """SAME_STEP: the final observations of the agents whose episode ended; DISABLED: those
        agents now wait for a reset. Most steps end no episode: the Gatherer counted them while
        it copied the flags (``ended``), where ``(term | trunc).any()`` took ~14k host
        instructions, 0.87x NEXT_STEP's rate with 16 cart-poles."""
        if not self._gatherer.ended:
            return {}
        done = term | trunc
        if self._disabled:
            self._finished |= done
            return {}
        final = np.empty(self.num_envs, dtype=object)  # None everywhere (a third of np.full's cost)
        for j in done.nonzero()[0].tolist():  # (np.flatnonzero per engine: ~1.5 us each)
            k, i = divmod(j, self.n_agents)
            r = self.links[k].results
            final[j] = r.final_obs[i].copy() if self._dict is None else agent_final_observation(r, i)
        return {"final_obs": final, "_final_obs": done.copy(), "final_info": {}, "_final_info": done}

    def _report_engine_errors(self, stacklevel: int = 4) -> None:
        """Raise or warn about errors the engines logged (``engine_errors``), once all answered.
        A raise loses the command's results, so the environment then needs reset()."""
        for link in self.links:
            if link.errors_pending:
                try:
                    link.report_errors(stacklevel=stacklevel)  # warn() <- here <- reset <- the caller
                except P.GodotScriptError:
                    self._blocked = _CALL_RESET
                    raise

    def _after_failure(self, exc: BaseException) -> None:
        """A command failed. If an engine died or hung (its link closed itself), stop the others and
        refuse further use; so too after an interrupt (KeyboardInterrupt, SystemExit), which may
        leave some engines' answers untaken (the next command would read them as its own); other
        errors (GodotScriptError, bad actions) leave the engines alone."""
        if any(link.closed for link in self.links):
            self._blocked = (f"the vector environment is closed because an engine failed ({type(exc).__name__}); "
                             "reset() cannot bring it back: create a new GodotVectorEnv")
            self._close_links()
        elif not isinstance(exc, Exception):
            self._blocked = (f"the vector environment is closed because a command was interrupted "
                             f"({type(exc).__name__}): its engines' answers are unknown; create a new GodotVectorEnv")
            self._close_links()

    def render(self) -> tuple[np.ndarray, ...] | None:
        """``render_mode="rgb_array"``: one (H, W, 3) uint8 frame per sub-environment (gymnasium's
        tuple; an engine's agents share its frame), showing the last reset/step; needs
        ``rendering=True``. Other render modes: None (``"human"``: the engines' own windows)."""
        if self.render_mode != "rgb_array":
            return None
        self._live()
        if self._blocked is _AWAITING:  # a RENDER now would overwrite the STEP in flight
            raise RuntimeError("render() between step_async() and step_wait(): call step_wait() first")
        try:
            return render_frames(self.links, self.n_agents, self.render_mode, "GodotVectorEnv")
        except BaseException as exc:
            self._after_failure(exc)
            raise

    def close(self, **kwargs: Any) -> None:
        if self._blocked is None or not self._blocked.startswith("the vector environment is closed"):
            self._blocked = "the vector environment is closed"
        self._close_links()

    def _close_links(self) -> None:
        # the C helpers export the engines' tensors: drop them first, so the chunks can be unmapped
        self._stager = self._gatherer = self._relay_step = self._relay_wait = None
        self._posts, self._error_counts, self._receives, self._spun_receives = [], [], [], []
        links, self.links, self._one = self.links, [], None
        close_links(links)

    def close_extras(self, **kwargs: Any) -> None:
        self.close()

    def _live(self) -> None:
        if self._blocked is not None and self._blocked.startswith("the vector environment is closed"):
            raise RuntimeError(self._blocked)

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

