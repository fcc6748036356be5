"""Launch and supervise a Godot engine process.

`GodotProcess` starts Godot (headless by default) on a project, optionally with a scene,
`--handle`, a seed, a fixed frame rate and extra user arguments; writes its output to a log
file (a private temporary one by default, see `logs.py`); and guarantees the engine does not
outlive us: it is started through `launch.spawn` (parent-death signal, CPU mask set in the
child), `close()` first waits for a clean exit, then terminates, then kills by the recorded
pid, and is harmless when called twice.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from ..runtime import GodotRuntime, resolve_godot
from . import logs
from .errors import GodotProcessError
from .launch import check_cpus, spawn
from .needs import stop_when_gone


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
    # (pid, what) of processes the engine cannot run without, e.g. its X server: not on the
    # command line; the engine is stopped when one exits (engine/needs.py says why)
    needs: tuple[tuple[int, str], ...] = ()

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

    def __init__(self, options: LaunchOptions, *, godot: GodotRuntime | str | os.PathLike | None = None,
                 log_path: str | os.PathLike | None = None, cpus: int | Iterable[int] | None = None):
        """``cpus``: run the engine (all its threads) on these CPUs only; None: the calling thread's.
        ``log_path``: write the engine's output there and keep the file; by default a private
        temporary log is used and removed by `close()` (its text stays in `log()`)."""
        self.options = options
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file = None          # the caller's log file (log_path given)
        self._log_fd: int | None = None  # our temporary log, readable even once unlinked
        self._final_log: str | None = None  # kept after close() when the log file was ours
        project, scene = check_project(options.project, options.scene)  # absolute: the engine runs with cwd=project
        options = self.options = dataclasses.replace(options, project=project, scene=scene)
        self.cpus = check_cpus(cpus)  # before anything is created
        # a path (EnvOptions.godot, documented as a GodotRuntime or a path) goes through the resolver
        self.godot = godot if isinstance(godot, GodotRuntime) else resolve_godot(godot)
        self._owns_log = log_path is None
        if log_path is None:
            self._log_fd, log_path = logs.create_log()
            out = self._log_fd
        else:
            out = self._log_file = open(log_path, "wb")
        self.log_path = Path(log_path)
        self.command = options.command(self.godot.path)
        try:
            self._proc = spawn(self.command, cpus=self.cpus, stdout=out, stderr=subprocess.STDOUT,
                               env={**os.environ, **options.env}, cwd=str(project))
        except (OSError, subprocess.SubprocessError) as e:
            self._release_log()
            raise GodotProcessError(f"cannot start Godot ({self.godot.path}): {e}") from e
        stop_when_gone(self._proc, options.needs, out if isinstance(out, int) else out.fileno())

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
        if self._log_fd is not None:
            return self._read_own_log()
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
                        if sig == signal.SIGTERM:  # a stopped engine acts on SIGTERM only once continued
                            proc.send_signal(signal.SIGCONT)
                        code = proc.wait(timeout=wait_s)
                        break
                    except subprocess.TimeoutExpired:
                        continue
                    except ProcessLookupError:
                        code = proc.wait()
                        break
        self._release_log()
        return code

    def _read_own_log(self) -> str:
        assert self._log_fd is not None
        chunks, offset = [], 0
        while chunk := os.pread(self._log_fd, 1 << 20, offset):
            chunks.append(chunk)
            offset += len(chunk)
        return b"".join(chunks).decode(errors="replace")

    def _release_log(self) -> None:
        """Close our side of the log; a temporary log keeps its text and leaves no file behind."""
        if self._log_fd is not None:
            fd = self._log_fd
            try:
                self._final_log = self._read_own_log()
            finally:
                self._log_fd = None
                os.close(fd)
                logs.remove_log(str(self.log_path))
        if self._log_file is not None and not self._log_file.closed:
            self._log_file.close()

    def __enter__(self) -> "GodotProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.close(grace=0 if exc[0] else 5.0)

    def __del__(self) -> None:  # last resort: never leave an engine behind
        if getattr(self, "_proc", None) is not None:
            self.close(grace=0)


def run_godot(options: LaunchOptions, timeout: float = 120.0,
              godot: GodotRuntime | str | os.PathLike | None = None) -> tuple[int, str]:
    """Run the engine to completion; return (exit code, output). Kills it after `timeout` s."""
    with GodotProcess(options, godot=godot) as proc:
        code = proc.wait(timeout=timeout)
    return code, proc.log()
