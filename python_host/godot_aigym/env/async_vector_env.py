"""`GodotAsyncVectorEnv`: M engines that run free, stepped in envpool's asynchronous style.

`GodotVectorEnv.step` sends to every engine and waits for all of them: each step waits for the
slowest engine (a rendering engine's frame times spread by milliseconds, docs/RENDERING.md). Here
`send(actions, env_ids)` hands actions to some engines and returns at once, and `recv()` returns
the answer of whichever engines finished first, ``batch_size`` sub-environments at a time, with
``info["env_id"]`` naming them; the caller sends those ids their next actions and the engines
never wait for each other::

    envs = GodotAsyncVectorEnv(scene=..., n_agents=16, n_engines=2)   # batch_size: one engine
    envs.async_reset(seed=0)
    while True:
        obs, reward, terminated, truncated, info = envs.recv()
        envs.send(policy(obs), info["env_id"])

An engine steps all its agents in one command, so ``batch_size`` and every ``send`` cover whole
engines (sub-environment ``k * n_agents + i`` is agent ``i`` of engine ``k``, as in
`GodotVectorEnv`). Autoreset is gymnasium's NEXT_STEP (envpool's too), decided in the engine.
How `recv` waits for the engines (round-robin polls, one futex_waitv sleep, per-engine waiter
threads that watch for death and the step timeout) is `AsyncAnswerWaits` (async_waits.py); actions in and results out run on the caller's
thread through `EngineLink`'s API. An engine that dies or hangs raises `EngineDiedError` /
`EngineTimeoutError` from `recv` and closes the whole environment.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from typing import Any, Sequence

import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from ..shm.semaphore import WAIT_ANY_AVAILABLE, WAIT_ANY_MAX
from . import protocol as P
from .actions import ActionChecker
from .async_waits import AsyncAnswerWaits
from .autoreset import parse_autoreset_mode
from .env_ids import EnvIdRouter
from .engine_links import agents_per_engine, close_links, engine_seeds, open_links, positive_int, render_frames
from .link import EngineLink
from .observations import stack_answers
from .options import EnvOptions

_CLOSED = "the environment is closed"


class GodotAsyncVectorEnv(AsyncAnswerWaits):
    """``n_agents`` agents per engine x ``n_engines`` engines (``num_envs`` their product); `recv`
    returns ``batch_size`` of them (a multiple of ``n_agents``; default ``n_agents``: one engine).
    Other keyword arguments as for `GodotVectorEnv`; engine ``k`` is seeded with ``seed + k``.

    ``fast_wait`` (attribute, default ``shm.semaphore.WAIT_ANY_AVAILABLE`` with at most
    ``WAIT_ANY_MAX`` engines): True, `recv` sleeps in its own thread until the first engine in
    flight answers (futex_waitv); False, only the waiter threads wait (kernels without futex_waitv)."""

    def __init__(self, project: str | os.PathLike | None = None, scene: str | None = None, *,
                 num_envs: int | None = None, n_agents: int | None = None, n_engines: int = 1,
                 batch_size: int | None = None,
                 log_dir: str | os.PathLike | None = None, options: EnvOptions | None = None,
                 **kwargs: Any) -> None:
        self.links: list[EngineLink] = []
        self._waiters: list[threading.Thread] = []
        self._failed: str | None = _CLOSED  # until the engines are up
        n_engines = positive_int("n_engines", n_engines)
        n_agents = agents_per_engine(num_envs, n_agents, n_engines)
        batch_size = n_agents if batch_size is None else positive_int("batch_size", batch_size)
        if batch_size % n_agents or batch_size > n_agents * n_engines:
            raise ValueError(f"batch_size={batch_size} must be a multiple of n_agents={n_agents} (an engine "
                             f"answers for all its agents at once) and at most num_envs={n_agents * n_engines}")
        if "log_path" in kwargs:
            raise ValueError("GodotAsyncVectorEnv keeps one log per engine: pass log_dir, not log_path")
        mode = parse_autoreset_mode(kwargs.pop("autoreset_mode", AutoresetMode.NEXT_STEP))
        if mode != AutoresetMode.NEXT_STEP:
            raise ValueError(f"GodotAsyncVectorEnv autoresets in NEXT_STEP mode only (as envpool), got {mode}")
        opts = EnvOptions.from_kwargs("GodotAsyncVectorEnv", project, scene, options, kwargs)
        self.render_mode = opts.render_mode
        self.links = open_links(opts, n_agents, n_engines, log_dir)
        spec = self.env_spec = self.links[0].spec
        self.n_agents, self.n_engines, self.batch_size = n_agents, n_engines, batch_size
        self.num_envs = n_agents * n_engines
        self.single_observation_space = spec.observation_space
        self.single_action_space = spec.action_space
        self.observation_space = batch_space(spec.observation_space, batch_size)
        self.action_space = batch_space(spec.action_space, batch_size)
        self._checker = ActionChecker(spec.action_space, batch=n_agents)  # one engine's rows
        self._parts = {p.name: (p.shape, p.space.dtype) for p in spec.parts}
        # engine k is idle (its last answer returned by recv), in flight (sent; polled by recv, or
        # handed to its waiter: _waiting), or answered (in _answered, not yet returned by recv);
        # lists, not arrays: read and set one engine at a time on every send and recv
        self._in_flight = [False] * n_engines
        self._last = list(range(n_engines))  # the engines of the batch recv/reset returned last, in its order
        self._sent_ns = [0] * n_engines  # when each engine in flight was sent its command (monotonic)
        self._waiting = [False] * n_engines
        self._answered: list[int] = []  # engines answered but not yet returned, in the order found
        self._next = 0  # the first engine the next poll looks at
        self._ready: queue.SimpleQueue = queue.SimpleQueue()  # (engine, exception or None) from the waiters
        self._inboxes = [queue.SimpleQueue() for _ in range(n_engines)]
        for k, link in enumerate(self.links):
            t = threading.Thread(target=self._wait_for_answers, args=(k, link), daemon=True,
                                 name=f"aigym-async-engine{k}")
            t.start()
            self._waiters.append(t)
        self._failed = None
        self._ids = EnvIdRouter(n_agents, n_engines)  # env_ids <-> engines (env_ids.py)
        self._engine_ids = [k * n_agents + self._ids.agent_rows for k in range(n_engines)]  # recv's env_id
        self._one_engine = batch_size == n_agents  # recv's batch is one engine: _first_answer
        self._answers = [link.answer_semaphore for link in self.links]  # for wait_any
        # False: only the waiter threads wait (see the class doc); one wait_any takes at most
        # WAIT_ANY_MAX semaphores
        self.fast_wait = WAIT_ANY_AVAILABLE and n_engines <= WAIT_ANY_MAX
        # one C stager per engine: an idle engine's actions checked and written into its `in` tensor
        self._stagers = [self._checker.stager(link.step_views()[0], spec.layout.actions.start, P.CMD_STEP)
                         for link in self.links]

    # -- the waiter threads ---------------------------------------------------------------------
    # -- commands -------------------------------------------------------------------------------
    def async_reset(self, seed: int | Sequence[int] | None = None) -> None:
        """Send RESET to every engine (all must be idle); `recv` returns their first observations
        (``info["env_id"]`` as for steps). ``seed``: an int (engine k gets seed + k) or one per
        sub-environment (engine k takes its first agent's)."""
        self._live()
        busy = self._busy()
        if busy:
            raise RuntimeError(f"async_reset() needs every engine idle: engines {busy} have answers not yet "
                               "returned by recv()")
        seeds = engine_seeds(seed, self.n_agents, self.n_engines)
        for k, link in enumerate(self.links):
            self._dispatch(k, lambda link=link, s=seeds[k]: link.send_reset(s))

    def reset(self, *, seed: int | Sequence[int] | None = None, options: dict | None = None):
        """Reset every engine and wait for all: ``(obs, info)`` of all ``num_envs`` sub-environments
        in their order, ``info["env_id"]`` = ``arange(num_envs)``; every engine is then idle."""
        if options:
            raise ValueError(f"GodotAsyncVectorEnv.reset takes no options, got {options!r}")
        self.async_reset(seed)
        obs, _, _, _, info = self._collect(self.n_engines)
        order = np.argsort(info["env_id"], kind="stable")
        obs = {name: v[order] for name, v in obs.items()} if isinstance(obs, dict) else obs[order]
        self._last = list(range(self.n_engines))
        return obs, {"env_id": info["env_id"][order]}

    def send(self, actions: Any, env_ids: Any = None) -> None:
        """Hand ``actions`` (one row per id) to the sub-environments ``env_ids`` and return at once.
        Omitted, the rows go to the batch the last `recv` (or `reset`) returned, in its order: all of
        it, or its first whole engines for fewer rows (``action_space.sample()``'s batch_size rows
        after `reset`). The ids must cover whole engines, each of them idle (its last answer returned
        by `recv`); all actions are checked before anything is sent (ValueError, nothing sent)."""
        if self._failed is not None:
            raise RuntimeError(self._failed)
        engines, rows = self._ids.engines_of(env_ids) if env_ids is not None else (self._default_engines(actions), None)
        n = self.n_agents
        if rows is None and len(engines) == 1 and isinstance(actions, np.ndarray) and actions.shape[:1] == (n,):
            k = engines[0]  # the usual: one engine's actions for the ids recv returned
            if self._in_flight[k] or k in self._answered:
                self._refuse_busy(engines)
            self._stage(k, actions)
            self._dispatch(k, self.links[k].post_command)
            return
        self._refuse_busy(engines)
        acts = np.asarray(actions) if not isinstance(actions, np.ndarray) else actions
        if acts.shape[:1] != (n * len(engines),):
            raise ValueError(f"send() got {acts.shape[0] if acts.ndim else 'no'} action rows for "
                             f"{n * len(engines)} env ids")
        for j, k in enumerate(engines):  # staged into the idle engines' `in` tensors; nothing posted yet
            self._stage(k, acts[j * n:(j + 1) * n] if rows is None else acts[rows[j * n:(j + 1) * n]])
        for k in engines:
            self._dispatch(k, self.links[k].post_command)

    def _default_engines(self, actions: Any) -> list[int]:
        """send()'s engines when no env_ids are given: the last batch's, or its first whole engines;
        rows for every sub-environment while every engine is idle go to all of them, as before
        the last-batch default (callers that send the whole batch keep working)."""
        try:
            n_rows = len(actions)
        except TypeError:
            return self._last  # the row check names what is wrong
        if n_rows == self.num_envs and not self._busy():
            return list(range(self.n_engines))
        if n_rows % self.n_agents == 0 and 0 < n_rows < len(self._last) * self.n_agents:
            return self._last[:n_rows // self.n_agents]
        return self._last

    def _stage(self, k: int, actions: np.ndarray) -> None:
        """Engine k's actions checked and written into its `in` tensor (nothing posted: ValueError)."""
        if not self._stagers[k].stage(actions, P.AUTORESET_NEXT_STEP):  # in C, or another form:
            self.links[k].stage_step(self._checker.check(actions), P.AUTORESET_NEXT_STEP)

    def recv(self):
        """Wait until ``batch_size`` sub-environments' answers are in: ``(obs, reward, terminated,
        truncated, info)`` for them (fresh arrays; whole engines in the order they answered),
        ``info["env_id"]`` their ids. Raises RuntimeError when fewer engines were sent a command
        than a batch needs (the wait would never end)."""
        if self._failed is not None:
            raise RuntimeError(self._failed)
        k = self._first_answer() if self._one_engine else None
        if k is None:
            return self._collect(self.batch_size // self.n_agents)
        link = self.links[k]
        if link.errors_pending:
            link.report_errors(stacklevel=3)  # GodotScriptError or a warning (engine_errors)
        return self._batch([k])

    def step(self, actions: Any, env_ids: Any = None):
        """`send` then `recv` (envpool's step)."""
        self.send(actions, env_ids)
        return self.recv()

    def render(self) -> tuple[np.ndarray, ...] | None:
        """As `GodotVectorEnv.render`: ``render_mode="rgb_array"``, one frame per sub-environment
        (needs ``rendering=True`` and every engine idle: RuntimeError naming the busy ones); else None."""
        if self.render_mode != "rgb_array":
            return None
        self._live()
        busy = self._busy()
        if busy:
            raise RuntimeError(f"render() needs every engine idle: engines {busy} were sent a command whose "
                               "answer recv() has not returned yet")
        try:
            return render_frames(self.links, self.n_agents, self.render_mode, "GodotAsyncVectorEnv")
        except BaseException as exc:
            if any(link.closed for link in self.links):  # an engine died or hung: stop them all
                self._fail(exc)
            raise

    # -- inside ---------------------------------------------------------------------------------
    def _dispatch(self, k: int, command) -> None:
        """Send engine k a command and have its waiter wait for the answer. A failure to send
        leaves some engines with a command and others without: the environment is closed."""
        try:
            command()
        except BaseException as e:
            self._fail(e)
            raise
        self._in_flight[k] = True
        self._sent_ns[k] = time.monotonic_ns()

    def _busy(self) -> list[int]:
        return sorted({k for k, sent in enumerate(self._in_flight) if sent} | set(self._answered))

    def _refuse_busy(self, engines: list[int]) -> None:
        busy = [k for k in engines if self._in_flight[k] or k in self._answered]
        if busy:
            raise RuntimeError(f"engines {busy} were sent a command whose answer recv() has not returned yet")

    def _batch(self, engines: list[int]):
        self._last = list(engines)  # a copy: the caller may hold the list it passed
        results = [self.links[k].results for k in engines]
        if len(engines) == 1:
            env_id = self._engine_ids[engines[0]].copy()
        else:
            env_id = (np.asarray(engines)[:, None] * self.n_agents + self._ids.agent_rows).reshape(-1)
            self._ids.remember(env_id, engines)
        return (*stack_answers(results, self._parts, self.n_agents), {"env_id": env_id})

    def _live(self) -> None:
        if self._failed is not None:
            raise RuntimeError(self._failed)

    def _fail(self, exc: BaseException) -> None:
        """An engine died, hung or could not be sent to: stop them all; every later call raises."""
        self._failed = (f"the environment is closed because an engine failed ({type(exc).__name__}): create a "
                        "new GodotAsyncVectorEnv")
        self._shutdown()

    # -- teardown -------------------------------------------------------------------------------
    close_grace = 130.0  # seconds close() waits for an answer in flight when there is no step timeout

    def close(self, **kwargs: Any) -> None:
        """Stop every engine and waiter thread; harmless when called twice. A command still in
        flight is waited for first (its engine answers, or dies, or times out; without a step
        timeout, an engine silent for ``close_grace`` seconds is killed)."""
        if self._failed is None:
            self._failed = _CLOSED
        self._shutdown()

    def _shutdown(self) -> None:
        step_timeout = self.links[0].step_timeout if self.links else None
        grace = self.close_grace if step_timeout is None else step_timeout + 10.0  # the waiter times out first
        while any(self._waiting):  # a waiter still waits: let its engine answer (or fail) first
            try:
                k, _ = self._ready.get(timeout=grace)
            except queue.Empty:  # no answer and no step timeout: kill it, its waiter then reports its death
                for k in [k for k, w in enumerate(self._waiting) if w]:
                    proc = self.links[k].proc  # the waiter may close the link meanwhile: read each once
                    popen = proc.popen if proc is not None else None
                    if popen is not None:
                        popen.kill()
                grace = max(grace, 10.0)  # killed: its waiter sees the death within a wait slice
                continue
            self._in_flight[k] = self._waiting[k] = False
        for inbox in self._inboxes:
            inbox.put(None)
        for t in self._waiters:
            t.join()
        self._waiters, self._answered = [], []
        self._stagers = []  # they export the engines' tensors: dropped first, so the chunks can be unmapped
        links, self.links = self.links, []
        close_links(links)

    @property
    def engines(self):
        return [link.proc for link in self.links]

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return (f"<GodotAsyncVectorEnv {self.n_agents} agents x {self.n_engines} engines, batch {self.batch_size}>"
                if hasattr(self, "batch_size") else "<GodotAsyncVectorEnv>")
