"""Launch and supervise a Godot engine process.

`GodotProcess` starts Godot (headless by default) on a project, optionally with a scene,
`--handle`, a seed, a fixed frame rate and extra user arguments; writes its output to a log
file; and guarantees the engine does not outlive us: the child gets a parent-death signal
(SIGKILL when this Python process dies, however it dies), `close()` first waits for a clean
exit, then terminates, then kills by the recorded pid, and is harmless when called twice.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import queue
import signal
import subprocess
import threading
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..runtime import GodotRuntime, resolve_godot

PR_SET_PDEATHSIG = 1


class GodotProcessError(RuntimeError):
    """The engine could not be started, or failed while we waited for it."""


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class _Spawner:
    """Starts engines from one daemon thread that lives as long as the process.

    The parent-death signal fires when the *thread* that forked the child ends, not the
    process: an engine started from a short-lived worker thread would be killed when that
    thread returns. The main thread and this daemon thread only end with the process.
    """

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def popen(self, *args, **kwargs) -> subprocess.Popen:
        if threading.current_thread() is threading.main_thread():
            return subprocess.Popen(*args, **kwargs)
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="godot-aigym-spawner", daemon=True)
                self._thread.start()
        done: queue.SimpleQueue = queue.SimpleQueue()
        self._requests.put((args, kwargs, done))
        ok, value = done.get()
        if not ok:
            raise value
        return value

    def _serve(self) -> None:
        while True:
            args, kwargs, done = self._requests.get()
            try:
                done.put((True, subprocess.Popen(*args, **kwargs)))
            except BaseException as e:  # handed back to the requesting thread
                done.put((False, e))


_spawner = _Spawner()


def check_project(project: str | os.PathLike, scene: str | None) -> tuple[Path, str | None]:
    """Resolve and check the project directory and scene before anything is created.

    Returns the absolute project path and the scene as a res:// path (a path inside the project
    is converted); raises GodotProcessError naming what is wrong.
    """
    root = Path(project).expanduser().resolve()
    if not (root / "project.godot").is_file():
        raise GodotProcessError(f"not a Godot project (no project.godot): {root}")
    if scene is not None:
        if not isinstance(scene, str) or not scene:
            raise GodotProcessError(f"scene must be a res:// path or a path inside the project, got {scene!r}")
        if not scene.startswith("res://"):
            p = Path(scene)
            p = p if p.is_absolute() else root / p
            try:
                scene = "res://" + p.resolve().relative_to(root).as_posix()
            except ValueError:
                raise GodotProcessError(f"scene {scene!r} is not inside the project {root}") from None
        file = root / scene[len("res://"):]
        if not file.is_file():
            raise GodotProcessError(f"scene not found: {scene} (looked for {file})")
        if file.suffix not in (".tscn", ".scn"):
            raise GodotProcessError(f"not a scene file (.tscn/.scn): {scene}")
    return root, scene


@dataclass
class LaunchOptions:
    """What to run: every field maps to one engine command-line option."""

    project: Path
    scene: str | None = None          # res:// path of the scene to run (default: the main scene)
    script: str | None = None         # res:// path of a SceneTree script to run instead (--script)
    handle: str | None = None         # shared-memory handle passed as --handle
    seed: int | None = None           # passed as --seed (our addon seeds the game with it)
    fixed_fps: int | None = None      # --fixed-fps: deterministic steps, no frame sleeping
    headless: bool = True
    quit_after: int | None = None     # --quit-after N frames (a safety net for tests)
    engine_args: Sequence[str] = ()   # before "--": options for the engine itself
    user_args: Sequence[str] = ()     # after "--": read by the game with OS.get_cmdline_user_args()
    env: dict[str, str] = field(default_factory=dict)

    def command(self, godot: Path) -> list[str]:
        cmd = [str(godot)]
        if self.headless:
            cmd.append("--headless")
        cmd += ["--path", str(self.project)]
        if self.fixed_fps:
            cmd += ["--fixed-fps", str(int(self.fixed_fps))]
        if self.quit_after:
            cmd += ["--quit-after", str(int(self.quit_after))]
        if self.script:
            cmd += ["--script", self.script]
        cmd += list(self.engine_args)
        if self.scene:
            cmd.append(self.scene)
        user = list(self.user_args)
        if self.handle:
            user = ["--handle", self.handle, *user]
        if self.seed is not None:
            user = [*user, "--seed", str(int(self.seed))]
        if user:
            cmd += ["--", *user]
        return cmd


class GodotProcess:
    """A running engine. Use as a context manager, or call `close()`."""

    def __init__(self, options: LaunchOptions, *, godot: GodotRuntime | None = None,
                 log_path: str | os.PathLike | None = None):
        self.options = options
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file = None
        self._final_log: str | None = None  # kept after close() when the log file was ours
        project, scene = check_project(options.project, options.scene)  # absolute: the engine runs with cwd=project
        options = self.options = dataclasses.replace(options, project=project, scene=scene)
        self.godot = godot or resolve_godot()
        self._owns_log = log_path is None
        if log_path is None:
            fd, log_path = tempfile.mkstemp(prefix="godot-aigym-", suffix=".log")
            os.close(fd)
        self.log_path = Path(log_path)
        self.command = options.command(self.godot.path)
        self._log_file = open(self.log_path, "wb")
        try:
            self._proc = _spawner.popen(
                self.command, stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT,
                env={**os.environ, **options.env}, preexec_fn=_die_with_parent, cwd=str(project),
            )
        except OSError as e:
            self._log_file.close()
            raise GodotProcessError(f"cannot start Godot ({self.godot.path}): {e}") from e

    # -- state ----------------------------------------------------------------------------------
    @property
    def pid(self) -> int:
        return self._proc.pid if self._proc else -1

    @property
    def popen(self) -> subprocess.Popen[bytes] | None:
        return self._proc

    def poll(self) -> int | None:
        return self._proc.poll() if self._proc else -1

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log(self) -> str:
        """Everything the engine printed so far."""
        if self._final_log is not None:
            return self._final_log
        if self._log_file and not self._log_file.closed:
            self._log_file.flush()
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    # -- waiting and stopping -------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> int:
        """Wait for the engine to exit; on timeout kill it and raise GodotProcessError."""
        assert self._proc is not None
        try:
            return self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.close(grace=0)
            raise GodotProcessError(
                f"Godot did not exit within {timeout} s; killed it. Last output:\n{self.log_tail()}"
            ) from None

    def close(self, grace: float = 5.0) -> int | None:
        """Stop the engine: wait `grace` s for it to exit by itself, then SIGTERM, then SIGKILL."""
        proc, self._proc = self._proc, None
        code = None
        if proc is not None:
            if grace > 0:
                try:
                    code = proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    pass
            if code is None:
                for sig, wait_s in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 10.0)):
                    try:
                        proc.send_signal(sig)
                        code = proc.wait(timeout=wait_s)
                        break
                    except subprocess.TimeoutExpired:
                        continue
                    except ProcessLookupError:
                        code = proc.wait()
                        break
        if self._log_file and not self._log_file.closed:
            self._log_file.close()
            if self._owns_log:  # a temporary log: keep its text, leave no file behind
                self._final_log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
                self.log_path.unlink(missing_ok=True)
        return code

    def __enter__(self) -> "GodotProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.close(grace=0 if exc[0] else 5.0)

    def __del__(self) -> None:  # last resort: never leave an engine behind
        if getattr(self, "_proc", None) is not None:
            self.close(grace=0)


def run_godot(options: LaunchOptions, timeout: float = 120.0, godot: GodotRuntime | None = None) -> tuple[int, str]:
    """Run the engine to completion; return (exit code, output). Kills it after `timeout` s."""
    with GodotProcess(options, godot=godot) as proc:
        code = proc.wait(timeout=timeout)
    return code, proc.log()
