"""`EnvOptions`: how to launch one engine on a GymEnv scene, declared once.

`GodotEnv(...)`, `GodotVectorEnv(...)` and the SB3 adapter take these as keyword arguments and
pass one `EnvOptions` down to `EngineLink`; every value is checked here, before anything is
created, with an error naming the argument.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import protocol as P

RENDER_MODES = ("human", "rgb_array")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@dataclass(frozen=True)
class EnvOptions:
    """Launch and environment options of one engine (see docs/ENVIRONMENTS.md, "Arguments").

    project: Godot project directory (None: the demo project); scene: ``res://`` path of a scene
    with a GymEnv node (None: the main scene); seed: ``--seed`` for the game's RNG at start-up;
    action_repeat / max_episode_steps: override the scene's (``0`` steps: no limit);
    render_mode: None, "human" (a window, real time) or "rgb_array" (`GodotEnv.render()` returns
    frames); headless / realtime: None follows render_mode; timeout: start-up seconds; step_timeout: seconds one command may take;
    cpus: "auto", None, a CPU or a list of CPUs; spin_us / engine_spin_us: spinning before
    blocking on each side; log_path: keep the engine log there; engine_args / user_args: extra
    Godot options before / after ``--``; engine_errors: "raise", "warn" or "ignore";
    godot: a GodotRuntime or path; env: extra environment variables of the engine; prefix:
    of the protocol's entry names; physics_fps: override the project's tick rate; launcher:
    what starts the engine (default `GodotProcess`); rendering: start the engine with a renderer
    on the host's private X server (needed by camera sensors and rgb_array frames); window: its
    main window (width, height); chunk_size: bytes of shared memory (room for images).
    """

    project: str | os.PathLike | None = None
    scene: str | None = None
    seed: int | None = None
    action_repeat: int | None = None
    max_episode_steps: int | None = None
    render_mode: str | None = None
    headless: bool | None = None
    realtime: bool | None = None
    timeout: float = 60.0
    step_timeout: float | None = 120.0
    spin_us: float | None = None
    engine_spin_us: int | None = None
    cpus: Any = "auto"
    log_path: str | os.PathLike | None = None
    engine_args: Sequence[str] = ()
    user_args: Sequence[str] = ()
    engine_errors: str = "raise"
    godot: Any = None
    env: dict | None = None
    prefix: str = P.DEFAULT_PREFIX
    physics_fps: int | None = None
    # what starts the engine: called like GodotProcess(LaunchOptions, godot=, log_path=, cpus=);
    # None is GodotProcess (tests pass a protocol-level fake engine, tests/env/fake_engine.py)
    launcher: Any = None
    # the engine renders (camera sensors, render()) on this host's private X server
    rendering: bool | None = None     # None: render_mode "human" without a DISPLAY of the user's
    window: tuple = (64, 64)          # the main window when rendering: render()'s frame size
    chunk_size: int = 1 << 24         # bytes of the shared-memory chunk (images need room)

    def __post_init__(self) -> None:
        # absolute now: a relaunch (the first render() of an rgb_array env) after os.chdir looked for
        # the project and the log relative to the new working directory
        for name in ("project", "log_path"):
            value = getattr(self, name)
            if isinstance(value, (str, os.PathLike)) and not isinstance(value, bytes):
                object.__setattr__(self, name, os.path.abspath(os.path.expanduser(os.fspath(value))))
        if self.render_mode is not None and self.render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode must be None or one of {list(RENDER_MODES)}, got {self.render_mode!r}")
        if self.seed is not None and not _is_int(self.seed):
            raise ValueError(f"seed must be an integer or None, got {self.seed!r}")
        if self.action_repeat is not None and (not _is_int(self.action_repeat) or self.action_repeat < 1):
            raise ValueError(f"action_repeat must be a positive integer, got {self.action_repeat!r}")
        if self.max_episode_steps is not None and (not _is_int(self.max_episode_steps)
                                                   or self.max_episode_steps < 0):
            raise ValueError(f"max_episode_steps must be an integer >= 0 (0: no limit), got {self.max_episode_steps!r}")
        for name in ("timeout", "step_timeout"):
            value = getattr(self, name)
            if value is None and name == "step_timeout":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if self.engine_errors not in P.ENGINE_ERRORS:
            raise ValueError(f"engine_errors must be one of {P.ENGINE_ERRORS}, got {self.engine_errors!r}")
        if self.physics_fps is not None and (not _is_int(self.physics_fps) or self.physics_fps < 1):
            raise ValueError(f"physics_fps must be a positive integer, got {self.physics_fps!r}")
        if self.rendering is not None and not isinstance(self.rendering, bool):
            raise ValueError(f"rendering must be True, False or None, got {self.rendering!r}")
        if not _is_int(self.chunk_size) or self.chunk_size < 1 << 16:
            raise ValueError(f"chunk_size must be an integer >= 65536 bytes, got {self.chunk_size!r}")
        if (not isinstance(self.window, (tuple, list)) or len(self.window) != 2
                or not all(_is_int(v) and 0 < v <= 16384 for v in self.window)):
            raise ValueError(f"window must be (width, height) in 1..16384, got {self.window!r}")
        if self.env is not None and (not isinstance(self.env, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.env.items())):
            raise ValueError(f"env must map names to strings (the engine's environment variables), got {self.env!r}")
        if self.log_path is not None:
            _check_log_path(self.log_path)  # was a bare FileNotFoundError / IsADirectoryError at launch
        for name in ("engine_args", "user_args"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not all(isinstance(a, str) for a in value):
                raise ValueError(f"{name} must be a sequence of strings, got {value!r}")

    @property
    def wants_rendering(self) -> bool:
        """The engine renders on the host's private X server."""
        if self.rendering is None:
            return self.render_mode == "human" and not os.environ.get("DISPLAY")
        return self.rendering

    @property
    def run_headless(self) -> bool:
        if self.wants_rendering:
            return False
        return self.render_mode != "human" if self.headless is None else bool(self.headless)

    @property
    def run_realtime(self) -> bool:
        return self.render_mode == "human" if self.realtime is None else bool(self.realtime)

    def replace(self, **changes: Any) -> "EnvOptions":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_kwargs(cls, owner: str, project: Any, scene: Any, options: "EnvOptions | None",
                    kwargs: dict) -> "EnvOptions":
        """The options of ``owner(project, scene, **kwargs)`` or ``owner(options=...)``; unknown
        keywords raise TypeError naming them."""
        unknown = sorted(set(kwargs) - _FIELDS)
        if unknown:
            raise TypeError(f"{owner}() got unexpected keyword argument(s): {', '.join(unknown)}")
        base = options if options is not None else cls()
        changes = dict(kwargs)
        if project is not None:
            changes["project"] = project
        if scene is not None:
            changes["scene"] = scene
        return base.replace(**changes) if changes else base


_FIELDS = {f.name for f in dataclasses.fields(EnvOptions)}


def _check_log_path(path: str | os.PathLike) -> None:
    log = Path(path)
    if log.is_dir():
        raise ValueError(f"log_path {log} is a folder: give a file name (GodotVectorEnv and GodotGroupEnv take log_dir)")
    if log.exists():  # an existing file (or /dev/null) is opened "wb": only the file must be writable
        if not os.access(log, os.W_OK):
            raise ValueError(f"log_path {log} is not writable by this user")
        return
    if not log.parent.is_dir():
        raise ValueError(f"log_path {log}: {log.parent} is not an existing folder (create it first)")
    if not os.access(log.parent, os.W_OK | os.X_OK):
        raise ValueError(f"log_path {log}: the folder {log.parent} is not writable by this user")


def prepare_log_dir(log_dir: str | os.PathLike | None) -> str | os.PathLike | None:
    """The folder of a vector env's per-engine logs, created if missing; ValueError if it cannot be."""
    if log_dir is not None:
        if os.path.exists(log_dir) and not os.path.isdir(log_dir):
            raise ValueError(f"log_dir {log_dir} is a file, not a folder")
        try:
            os.makedirs(log_dir, exist_ok=True)
        except OSError as e:
            raise ValueError(f"log_dir {log_dir}: cannot create the folder ({e.strerror or e})") from None
    return log_dir
