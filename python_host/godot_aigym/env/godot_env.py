"""`GodotEnv`: a Godot scene with a GymEnv node as a single-agent `gymnasium.Env`.

    env = GodotEnv(scene="res://envs/cartpole/cartpole.tscn")      # the demo project by default
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    env.close()

Spaces, episode limit and action repeat come from the scene (nothing is declared twice). The
step is one round trip through shared memory, through `EngineLink.step`.
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np

from . import protocol as P
from .actions import ActionChecker
from .link import EngineLink
from .observations import agent_observation
from .options import EnvOptions

_CALL_RESET = "call reset() before step() (and after an episode ended)"


class GodotEnv(gym.Env):
    """A single-agent Gymnasium environment running in a Godot engine process.

    Keyword arguments are those of `EnvOptions` (or pass ``options=EnvOptions(...)``):
    project, scene, seed, action_repeat, max_episode_steps, render_mode, headless, realtime,
    timeout, step_timeout, cpus, spin_us, engine_spin_us, log_path, engine_args, user_args,
    engine_errors, godot, env, prefix, physics_fps, launcher, rendering, window, chunk_size.
    See docs/ENVIRONMENTS.md, "Arguments".
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 50}

    def __init__(self, project: str | os.PathLike | None = None, scene: str | None = None, *,
                 options: EnvOptions | None = None, **kwargs: Any) -> None:
        self._link: EngineLink | None = None
        self._blocked: str | None = _CALL_RESET  # why step() may not run now (None: it may)
        opts = EnvOptions.from_kwargs("GodotEnv", project, scene, options, kwargs)
        self.render_mode = opts.render_mode
        self._options = opts
        self._episode_start: tuple[int | None] | None = None  # (seed,) of the last reset until a step
        self._connect(EngineLink(opts, n_agents=1))

    def _connect(self, link: EngineLink) -> None:
        self._link = link
        spec = link.connect()
        self.env_spec = spec
        self.observation_space = spec.observation_space
        self.action_space = spec.action_space
        self.metadata = {**self.metadata, "render_fps": link.physics_fps / max(1, spec.action_repeat),
                         "name": spec.name}
        link.use_checker(ActionChecker(spec.action_space))  # link.step checks the actions
        self._step = link.step
        self._obs = link.results.obs[0]
        self._results = link.results
        self._dict = bool(spec.parts)  # a Dict observation: parts copied out per step
        self._first_agent = link.results.first_agent  # reward, terminated, truncated

    # -- gymnasium API --------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        link = self._live()
        self._blocked = _CALL_RESET  # until the reset succeeded
        try:
            link.reset(seed)
        except BaseException as e:
            if not isinstance(e, Exception):  # KeyboardInterrupt mid-command
                self._interrupted(e)
            raise
        self._blocked = None
        self._episode_start = (seed,)
        return self._observation(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._blocked is not None:
            raise RuntimeError(self._blocked)
        try:
            self._step(action)  # checks the action first (ValueError: nothing sent)
        except ValueError:
            raise
        except P.GodotScriptError:
            self._episode_start = None
            self._blocked = _CALL_RESET  # this step's results are lost: start over with reset()
            raise
        except Exception:
            self._episode_start = None
            if self._link.closed:
                self._blocked = "the environment is closed (its engine stopped); create a new one"
            raise
        except BaseException as e:  # KeyboardInterrupt mid-round-trip
            self._interrupted(e)
            raise
        self._episode_start = None
        reward, terminated, truncated = self._first_agent.tolist()
        if terminated or truncated:
            self._blocked = _CALL_RESET
        obs = agent_observation(self._results) if self._dict else self._obs.copy()  # inlined: the hot path
        return obs, reward, terminated != 0.0, truncated != 0.0, {}

    def _observation(self) -> Any:
        return agent_observation(self._results) if self._dict else self._obs.copy()

    def render(self) -> np.ndarray | None:
        """``render_mode="rgb_array"``: the engine's main window as an (H, W, 3) uint8 array
        (``window=(W, H)``, 64x64 by default) showing the state of the last reset/step.
        ``"human"``: the engine's own window shows itself (None).

        With ``rendering`` left at None, an rgb_array env trains headless and starts rendering at
        its first render() call: that call must come at the start of an episode (right after
        reset(), as RecordVideo does); the engine is then relaunched on the host's private X
        server and the episode reset again with the same seed (an unseeded reset draws a new start).
        """
        if self.render_mode != "rgb_array":
            return None
        link = self._live()
        if not link.renders:
            self._start_rendering()
        return self._link.render()

    def _start_rendering(self) -> None:
        if self._options.rendering is not None or self._episode_start is None:
            raise P.GodotEnvError(
                "render() needs an engine that renders: create the environment with rendering=True "
                "(with rendering=None, render_mode='rgb_array' switches to rendering only right after reset())")
        old = self._link
        old.close()
        self._options = self._options.replace(rendering=True)
        self._connect(EngineLink(self._options, n_agents=1))
        self._link.reset(self._episode_start[0])

    def _interrupted(self, exc: BaseException) -> None:
        """A command interrupted (KeyboardInterrupt, SystemExit) may or may not have had its answer
        taken: the next command would read a stale answer, so the environment closes."""
        self._episode_start = None
        self.close()
        self._blocked = (f"the environment is closed because a command was interrupted ({type(exc).__name__}): "
                         "its engine's answer is unknown; create a new one")

    def close(self) -> None:
        link, self._link = self._link, None
        self._blocked = "the environment is closed"
        if link is not None:
            self.__dict__.pop("_obs", None)
            self.__dict__.pop("_first_agent", None)
            self.__dict__.pop("_step", None)
            link.close()
        super().close()

    # -- extras ---------------------------------------------------------------------------------
    def _live(self) -> EngineLink:
        if self._link is None or self._link.closed:
            raise RuntimeError("the environment is closed")
        return self._link

    @property
    def engine(self):
        """The GodotProcess (pid, log, ...), or None once closed."""
        return self._link.proc if self._link is not None else None

    @property
    def link(self) -> EngineLink | None:
        return self._link

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        link = getattr(self, "_link", None)
        where = f"{link.scene} pid {link.proc.pid}" if link is not None and link.proc else "closed"
        return f"<GodotEnv {where}>"
