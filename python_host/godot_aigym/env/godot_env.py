"""`GodotEnv`: a Godot scene with a GymEnv node as a single-agent `gymnasium.Env`.

    env = GodotEnv(scene="res://envs/cartpole/cartpole.tscn")      # the demo project by default
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    env.close()

Spaces, episode limit and action repeat come from the scene (nothing is declared twice). The
step is one round trip through shared memory: actions written into a zero-copy view, one
semaphore post, one wait, observations copied out of a view.
"""

from __future__ import annotations

import operator
import os
from typing import Any, Sequence

import gymnasium as gym
import numpy as np

from . import protocol as P
from ..shm import EngineDiedError, WaitTimeout
from .link import EngineLink


def check_box_actions(actions: np.ndarray, space: gym.spaces.Box, what: Any, where: str = "") -> None:
    """ValueError unless every action lies in `space` (NaN never does)."""
    if not (np.all(actions >= space.low) and np.all(actions <= space.high)):
        raise ValueError(f"action {what!r}{where} is outside the action space {space}")


def discrete_action(action: Any, n: int) -> int:
    """The index an action stands for, or ValueError naming it and the space."""
    try:
        if isinstance(action, np.ndarray):
            if action.size != 1 or action.dtype.kind not in "iub":
                raise TypeError
            index = int(action.reshape(()))
        else:
            index = operator.index(action)
    except TypeError:
        raise ValueError(f"action {action!r} is not in the action space Discrete({n}): expected an integer") from None
    if not 0 <= index < n:
        raise ValueError(f"action {action!r} is outside the action space Discrete({n})")
    return index


def multi_discrete_actions(actions: Any, space: gym.spaces.MultiDiscrete, shape: tuple[int, ...]) -> np.ndarray:
    """The actions as an integer array of `shape`, each in [0, nvec); ValueError naming them
    otherwise (integral floats are accepted, as policies often emit them)."""
    try:
        a = actions if type(actions) is np.ndarray else np.asarray(actions)
    except (TypeError, ValueError):
        a = None
    if a is not None and a.dtype.kind == "f" and np.isfinite(a).all() and (a == np.round(a)).all():
        a = a.astype(np.int64)
    if a is None or a.shape != shape or a.dtype.kind not in "iub":
        raise ValueError(f"action {actions!r} is not in the action space {space}: expected integers of shape {shape}")
    inside = (a >= 0) & (a < space.nvec)
    if not inside.all():
        if a.ndim == 2:
            bad = int(np.flatnonzero(~inside.all(axis=1))[0])
            raise ValueError(f"action {a[bad]!r} of sub-environment {bad} is outside the action space {space}")
        raise ValueError(f"action {actions!r} is outside the action space {space}")
    return a


class GodotEnv(gym.Env):
    """A single-agent Gymnasium environment running in a Godot engine process.

    Args:
        project: Godot project directory (default: the demo project).
        scene: res:// path of a scene containing a GymEnv node (default: the main scene).
        seed: initial seed of the game's random number generator (`--seed`).
        action_repeat: physics ticks per step (default: the scene's).
        max_episode_steps: truncate after this many steps (default: the scene's).
        render_mode: None (headless) or "human" (a window; real time unless ``realtime=False``).
        headless: False opens a window even without render_mode.
        timeout: seconds to wait for the engine to start the scene.
        step_timeout: seconds one step may take before the engine is declared hung.
        cpus: "auto" pins the engine (all its threads) to the least used CPU when there are two or
            more (Godot's physics thread hand-offs are far cheaper on one CPU); None: no pinning;
            an int or a list of ints: those CPUs.
        spin_us / engine_spin_us: how long Python / the engine spin before blocking (default:
            1000 us when the engine is pinned, else the shm module default).
        log_path: keep the engine log there (default: a temporary file, deleted unless it failed).
        engine_args / user_args: extra Godot options before / after ``--``.
    """

    metadata = {"render_modes": ["human"], "render_fps": 50}

    def __init__(self, project: str | os.PathLike | None = None, scene: str | None = None, *,
                 seed: int | None = None, action_repeat: int | None = None, max_episode_steps: int | None = None,
                 render_mode: str | None = None, headless: bool | None = None, realtime: bool | None = None,
                 timeout: float = 60.0, step_timeout: float | None = 120.0, spin_us: float | None = None,
                 engine_spin_us: int | None = None, cpus="auto", log_path: str | os.PathLike | None = None,
                 engine_args: Sequence[str] = (), user_args: Sequence[str] = (), engine_errors: str = "raise",
                 godot=None) -> None:
        self._link: EngineLink | None = None
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        if headless is None:
            headless = render_mode is None
        if realtime is None:
            realtime = render_mode == "human"
        link = EngineLink(project, scene, n_agents=1, seed=seed, action_repeat=action_repeat,
                          max_episode_steps=max_episode_steps, headless=headless, realtime=realtime,
                          timeout=timeout, step_timeout=step_timeout, spin_us=spin_us, engine_spin_us=engine_spin_us,
                          cpus=cpus, log_path=log_path, engine_args=engine_args, user_args=user_args,
                          engine_errors=engine_errors, godot=godot)
        self._link = link
        spec = link.connect()
        self.env_spec = spec
        self.observation_space = spec.observation_space
        self.action_space = spec.action_space
        self.metadata = {**self.metadata, "render_fps": link.physics_fps / max(1, spec.action_repeat),
                         "name": spec.name}
        self._discrete = spec.discrete
        self._multi = isinstance(spec.action_space, gym.spaces.MultiDiscrete)
        self._n_actions = int(spec.action_space.n) if spec.discrete else 0
        self._act = link.actions[0]
        self._obs = link.obs[0]
        self._rew = link.reward
        self._term = link.terminated
        self._trunc = link.truncated
        self._header = link.header
        # one agent: reward, terminated, truncated are adjacent in `out`
        self._rtt = link._out_t.view[spec.obs_dim:spec.obs_dim + 3]
        self._post = link.sem_action.post
        self._wait = link.sem_obs.wait
        self._step_timeout = link.step_timeout
        self._errors = link.errors
        self._needs_reset = True
        if spec.discrete:
            self._low = self._high = None
        elif self._multi:
            self._shape = spec.action_space.shape
        else:
            self._low_list = spec.action_space.low.tolist()
            self._high_list = spec.action_space.high.tolist()
            self._shape = spec.action_space.shape

    # -- gymnasium API --------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        link = self._live()
        link.command(P.CMD_RESET, 0, seed)
        self._needs_reset = False
        return self._obs.copy(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._needs_reset:
            self._live()
            raise RuntimeError("call reset() before step() (and after an episode ended)")
        if self._discrete:
            self._act[0] = discrete_action(action, self._n_actions)
        elif self._multi:
            self._act[:] = multi_discrete_actions(action, self.action_space, self._shape)
        else:
            a = action
            if type(a) is not np.ndarray or a.dtype != np.float32:
                a = self._as_box(action)
            if a.shape != self._shape:
                raise ValueError(f"action {action!r} has shape {a.shape}, the action space {self.action_space} "
                                 f"needs {self._shape}")
            for v, lo, hi in zip(a.tolist(), self._low_list, self._high_list):  # NaN fails too
                if not lo <= v <= hi:
                    raise ValueError(f"action {action!r} is outside the action space {self.action_space}")
            self._act[:] = a
        self._header[0] = P.CMD_STEP
        self._post()
        try:
            self._wait(self._step_timeout)
        except (EngineDiedError, WaitTimeout) as e:
            raise self._link.wait_failed(e) from None
        if self._errors[0]:
            try:
                self._link.report_errors(stacklevel=3)
            except P.GodotScriptError:
                self._needs_reset = True  # this step's results are lost: start over with reset()
                raise
        reward, terminated, truncated = self._rtt.tolist()
        if terminated or truncated:
            self._needs_reset = True
        return self._obs.copy(), reward, terminated != 0.0, truncated != 0.0, {}

    def _as_box(self, action: Any) -> np.ndarray:
        try:
            a = np.asarray(action, dtype=np.float32)
        except (TypeError, ValueError):
            raise ValueError(f"action {action!r} is not in the action space {self.action_space}: "
                             "expected numbers") from None
        if a.dtype.kind != "f":
            raise ValueError(f"action {action!r} is not in the action space {self.action_space}")
        return a

    def render(self) -> None:
        """Rendering happens in the engine's own window (render_mode="human")."""
        return None

    def close(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            for name in ("_act", "_obs", "_rew", "_term", "_trunc", "_header", "_rtt", "_post", "_wait"):
                self.__dict__.pop(name, None)
            link.close()
        super().close()

    # -- extras ------------------------------------------------------------------------------------------
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
        link = self._link
        where = f"{link.scene} pid {link.proc.pid}" if link is not None and link.proc else "closed"
        return f"<GodotEnv {where}>"
