"""One engine process running a GymEnv scene, connected over one shared-memory chunk.

`EngineLink` checks the project and scene, imports the project when needed, creates the chunk
and the start-up entries, launches Godot (headless, `--fixed-fps` matching the physics rate so
one frame is one physics tick and nothing sleeps), reads the space description the scene
published, then creates the step tensors. `GodotEnv` and `GodotVectorEnv` are thin layers on it.

Nothing is left behind: a failure at any point closes the engine (clean CLOSE, then SIGTERM,
then SIGKILL) and unlinks the chunk; a dead engine surfaces as `EngineDiedError` with the tail
of its log; the engine dies with us (parent-death signal) and quits when we vanish.
"""

from __future__ import annotations

import atexit
import os
import re
import threading
import warnings
import weakref
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from ..engine import GodotProcess, GodotProcessError, LaunchOptions, check_cpus, ensure_imported
from ..engine import check_project as engine_check_project
from ..shm import EngineDiedError, SharedMemory, SharedMemoryError, WaitTimeout
from ..shm.errors import EngineTimeoutError
from . import protocol as P

_imported: set[Path] = set()
_import_lock = threading.Lock()
_open_links: "weakref.WeakSet[EngineLink]" = weakref.WeakSet()


def demo_project() -> Path:
    """The demo Godot project (env GODOT_AIGYM_DEMO_PROJECT overrides the repository copy)."""
    env = os.environ.get("GODOT_AIGYM_DEMO_PROJECT")
    if env:
        return Path(env).resolve()
    return (Path(__file__).resolve().parents[3] / "demo_project").resolve()


def check_project(project: str | os.PathLike | None, scene: str | None) -> tuple[Path, str | None]:
    """`engine.check_project`, with the demo project when `project` is None."""
    return engine_check_project(demo_project() if project is None else project, scene)


def prepare_project(project: Path, godot=None) -> None:
    """`ensure_imported` once per process and project (class_name scripts, extension list)."""
    with _import_lock:
        if project in _imported:
            return
        ensure_imported(project, godot)
        _imported.add(project)


_TICKS_RE = re.compile(r"^\s*common/physics_ticks_per_second\s*=\s*(\d+)", re.M)


def project_physics_fps(project: Path) -> int:
    """physics/common/physics_ticks_per_second of the project (Godot's default: 60)."""
    text = (project / "project.godot").read_text(errors="replace")
    section = re.search(r"^\[physics\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    if section:
        m = _TICKS_RE.search(section.group(1))
        if m:
            return int(m.group(1))
    return 60


CpuSpec = Union[str, int, Sequence[int], None]
PINNED_SPIN_US = 1000


def engine_cpus(spec: CpuSpec, index: int | None = None) -> set[int] | None:
    """The CPUs a new engine may run on.

    "auto" (default): one CPU, the one with the fewest engines of this process on it (the
    highest-numbered on a tie), when we may use at least two. Godot's physics hands every step
    to its worker threads; on a single CPU those hand-offs are cheap context switches instead
    of cross-CPU wake-ups (measured on 2 vCPUs: 3x faster physics steps), and the other CPU
    stays free for Python. ``index`` (engine k of a vector env) is only a tie-breaker.
    None/False: no pinning. An int or a list of ints: exactly those CPUs.
    """
    if spec is None or spec is False:
        return None
    if isinstance(spec, str):
        if spec != "auto":
            raise ValueError(f"cpus must be 'auto', None, a CPU number or a list of them, got {spec!r}")
        allowed = sorted(os.sched_getaffinity(0))
        if len(allowed) < 2:
            return None
        load = {c: 0 for c in allowed}
        for link in list(_open_links):
            if link.cpus and len(link.cpus) == 1 and not link.closed:
                (c,) = link.cpus
                if c in load:
                    load[c] += 1
        order = allowed[::-1]
        if index:
            order = order[index % len(order):] + order[:index % len(order)]
        return {min(order, key=lambda c: load[c])}
    return set(check_cpus(spec))  # InvalidCpusError names the CPUs that exist


class EngineLink:
    """Start one engine on a GymEnv scene and talk the environment protocol with it.

    Construction launches the engine and returns at once; `connect()` waits for its space
    description and creates the step tensors (so several engines start in parallel).
    """

    def __init__(self, project=None, scene: str | None = None, *, n_agents: int = 1, seed: int | None = None,
                 action_repeat: int | None = None, max_episode_steps: int | None = None, headless: bool = True,
                 realtime: bool = False, physics_fps: int | None = None, prefix: str = P.DEFAULT_PREFIX,
                 timeout: float = 60.0, step_timeout: float | None = 120.0, spin_us: float | None = None,
                 engine_spin_us: int | None = None, cpus: CpuSpec = "auto", index: int | None = None,
                 log_path: str | os.PathLike | None = None, engine_args: Sequence[str] = (),
                 user_args: Sequence[str] = (), env: dict | None = None, engine_errors: str = "raise",
                 godot=None) -> None:
        self._closed = False
        self.proc: GodotProcess | None = None
        self.mem: SharedMemory | None = None
        self.spec: P.EnvSpec | None = None
        self._keep_log = log_path is not None
        self._connected = False
        if isinstance(n_agents, bool) or not isinstance(n_agents, (int, np.integer)) or n_agents < 1:
            raise ValueError(f"n_agents must be a positive integer, got {n_agents!r}")
        if action_repeat is not None and (not isinstance(action_repeat, (int, np.integer)) or action_repeat < 1):
            raise ValueError(f"action_repeat must be a positive integer, got {action_repeat!r}")
        if engine_errors not in P.ENGINE_ERRORS:
            raise ValueError(f"engine_errors must be one of {P.ENGINE_ERRORS}, got {engine_errors!r}")
        self.engine_errors = engine_errors
        self.project, self.scene = check_project(project, scene)
        self.n_agents = int(n_agents)
        self.timeout = timeout
        self.step_timeout = step_timeout
        self.prefix = prefix
        self.names = P.entry_names(prefix)
        self.physics_fps = int(physics_fps or project_physics_fps(self.project))
        self.cpus = engine_cpus(cpus, index)  # validated before anything is created
        prepare_project(self.project, godot)

        if self.cpus:
            # the engine has a CPU of its own: both sides spin longer before blocking (a blocking
            # wake-up across CPUs costs ~55 us here, more than a whole physics step)
            spin_us = PINNED_SPIN_US if spin_us is None else spin_us
            engine_spin_us = PINNED_SPIN_US if engine_spin_us is None else engine_spin_us
        user = ["--n-agents", str(self.n_agents), "--env-prefix", prefix, "--physics-fps", str(self.physics_fps)]
        if action_repeat is not None:
            user += ["--action-repeat", str(int(action_repeat))]
        if max_episode_steps is not None:
            user += ["--max-episode-steps", str(int(max_episode_steps))]
        if engine_spin_us is not None:
            user += ["--spin-us", str(int(engine_spin_us))]
        user += list(user_args)
        try:
            self.mem = SharedMemory(size=1 << 24, capacity=16)
            self._spec_t = self.mem.newUintTensor(self.names["spec"], P.SPEC_CAPACITY)
            self._seed_t = self.mem.newIntTensor(self.names["seed"], 2)
            # the engine counts the errors it logged while running a command here (texts: spec tensor)
            # (a memoryview: checked after every step, and its item reads cost half of numpy's)
            self.errors = memoryview(self.mem.newIntTensor(self.names["errors"], 1).view).cast("B").cast("i")
            kw = {} if spin_us is None else {"spin_us": spin_us}
            self.sem_action = self.mem.newSemaphore(self.names["sem_action"], 0)
            self.sem_obs = self.mem.newSemaphore(self.names["sem_obs"], 0, **kw)
            if seed is not None:  # any Python int: the game's RNG takes its 64 bits (as a signed int)
                seed = ((int(seed) + 2**63) % 2**64) - 2**63
            options = LaunchOptions(project=self.project, scene=self.scene, handle=self.mem.handle, seed=seed,
                                    fixed_fps=None if realtime else self.physics_fps, headless=headless,
                                    engine_args=tuple(engine_args), user_args=tuple(user), env=dict(env or {}))
            self.proc = GodotProcess(options, godot=godot, log_path=log_path, cpus=self.cpus)
            self.mem.set_peer(self.proc.popen)
        except BaseException:
            self.close()
            raise
        _open_links.add(self)

    # -- start-up -----------------------------------------------------------------------------------
    def connect(self) -> P.EnvSpec:
        """Wait for the scene's space description, then create the step tensors."""
        assert self.mem is not None and self.proc is not None
        try:
            try:
                self.sem_obs.wait(timeout=self.timeout)
            except WaitTimeout:
                self.close(grace=0)  # known hung (or no GymEnv): nothing will answer a clean CLOSE
                raise P.GodotEnvError(
                    f"{self.scene or 'the main scene'} of {self.project} did not start a GymEnv within "
                    f"{self.timeout:g} s (does the scene contain a GymEnv node?)" + self._log_excerpt()) from None
            except EngineDiedError:
                raise P.GodotEnvError(f"Godot exited during start-up (code {self.proc.poll()})"
                                      + self._engine_error_text() + self._log_excerpt()) from None
            try:
                spec = P.EnvSpec.parse(self._spec_t.view)
            except P.GodotEnvError as e:
                raise P.GodotEnvError(f"{e} [{self.scene}]" + self._log_excerpt()) from None
            if spec.n_agents != self.n_agents:
                raise P.GodotEnvError(f"{self.scene} runs {spec.n_agents} agents but {self.n_agents} were requested "
                                      "(the scene has a fixed set of agent nodes; use agent_scene to instance them)")
            if spec.physics_ticks_per_second != self.physics_fps:
                raise P.GodotEnvError(f"the engine ticks physics at {spec.physics_ticks_per_second} Hz, not at the "
                                      f"{self.physics_fps} Hz we launched it with")
            self.spec = spec
            n, d, w = spec.n_agents, spec.obs_dim, spec.action_width
            self._in_t = self.mem.newFloatTensor(self.names["in"], spec.in_size)
            self._out_t = self.mem.newFloatTensor(self.names["out"], spec.out_size)
            inv, outv = self._in_t.view, self._out_t.view
            self.header = inv[:P.IN_HEADER]
            self.mask = inv[P.IN_HEADER:P.IN_HEADER + n]
            self.actions_flat = inv[P.IN_HEADER + n:]
            self.actions = self.actions_flat.reshape(n, w)
            self.obs = outv[:n * d].reshape(n, d)
            self.reward = outv[n * d:n * d + n]
            self.terminated = outv[n * d + n:n * d + 2 * n]
            self.truncated = outv[n * d + 2 * n:n * d + 3 * n]
            self.final_obs = outv[n * d + 3 * n:].reshape(n, d)
            self._connected = True
            return spec
        except BaseException:
            self.close()
            raise

    # -- the step ------------------------------------------------------------------------------------
    def post(self) -> None:
        self.sem_action.post()

    def wait(self, report: bool = True) -> None:
        """Wait for the engine's answer; on death or hang close everything and raise.
        With `report`, errors the engine logged meanwhile are raised or warned about here
        (callers waiting for several engines report once all have answered)."""
        try:
            self.sem_obs.wait(self.step_timeout)
        except (EngineDiedError, WaitTimeout) as e:
            raise self.wait_failed(e) from None
        if report and self.errors[0]:
            self.report_errors()

    def report_errors(self, stacklevel: int = 4) -> None:
        """The engine logged errors during the last command: raise or warn (``engine_errors``)."""
        count = int(self.errors[0])
        self.errors[0] = 0
        try:
            texts = list((P.parse_spec_bytes(self._spec_t.view) or {}).get("engine_errors", []))
        except P.GodotEnvError:
            texts = []
        more = f"\n  ... and {count - len(texts)} more" if count > len(texts) else ""
        where = f" ({self.proc.log_path})" if self._keep_log and self.proc else ""
        msg = (f"the Godot engine running {self.scene} logged {count} error(s) during this "
               f"command{where}:\n  " + "\n  ".join(texts) + more)
        if self.engine_errors == "raise":
            raise P.GodotScriptError(msg)
        if self.engine_errors == "warn":
            warnings.warn(msg, P.GodotScriptWarning, stacklevel=stacklevel)

    def wait_failed(self, exc: BaseException) -> EngineDiedError | EngineTimeoutError:
        """Close everything after a failed wait; the error to raise (with the engine's last words)."""
        if isinstance(exc, WaitTimeout):
            log = self._log_excerpt()
            self.close(grace=0)
            return EngineTimeoutError(f"the engine did not answer within {self.step_timeout:g} s (hung?); "
                                      f"it was stopped{log}")
        return self._died()

    def command(self, cmd: int, flags: int = 0, seed: int | None = None) -> None:
        """Send one command and wait for its answer (RESET/STEP with arrays already filled)."""
        if seed is not None:
            self._seed_t.view[:] = P.seed_words(seed)
            flags |= P.FLAG_SEED
        h = self.header
        h[0] = cmd
        h[1] = flags
        self.post()
        self.wait()

    def _died(self) -> EngineDiedError:
        code = self.proc.poll() if self.proc else None
        msg = self._engine_error_text() + self._log_excerpt()
        self.close()
        return EngineDiedError(f"the Godot engine running {self.scene} died (exit code {code}) in the middle of an "
                               f"episode; the environment is closed{msg}")

    def _engine_error_text(self) -> str:
        try:
            raw = P.parse_spec_bytes(self._spec_t.view)
        except Exception:
            return ""
        if raw and "error" in raw:
            return f": {raw['error']}"
        return ""

    def _log_excerpt(self, lines: int = 25) -> str:
        if self.proc is None:
            return ""
        tail = [line for line in self.proc.log().splitlines() if "misc2" not in line and not re.match(r"^[0-9a-f]{32},", line)]
        text = "\n".join(tail[-lines:])
        where = f" ({self.proc.log_path})" if self._keep_log else ""
        return f"\n--- engine log{where} ---\n{text}" if text else ""

    # -- teardown -------------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    def close(self, grace: float = 5.0) -> None:
        """Quit the engine (CLOSE command, then signals), reap it and unlink the chunk. Idempotent."""
        if self._closed:
            return
        self._closed = True
        proc, mem = self.proc, self.mem
        try:
            if proc is not None and proc.alive() and mem is not None and not mem.closed:
                if self._connected:
                    try:
                        self.header[0] = P.CMD_CLOSE
                        self.sem_action.post()
                        self.sem_obs.timed_wait(min(grace, 2.0))
                    except SharedMemoryError:
                        pass
                mem.request_shutdown()
            if proc is not None:
                proc.close(grace=grace)  # a temporary log is removed, its text kept in proc.log()
        finally:
            self._views_drop()
            if mem is not None:
                mem.close()
            _open_links.discard(self)

    def _views_drop(self) -> None:
        for name in ("header", "mask", "actions", "actions_flat", "obs", "reward", "terminated", "truncated", "final_obs"):
            self.__dict__.pop(name, None)

    def __del__(self) -> None:
        try:
            self.close(grace=1.0)
        except Exception:
            pass


@atexit.register
def _close_all_links() -> None:  # interpreter exit: quit engines cleanly, unlink chunks
    for link in list(_open_links):
        try:
            link.close(grace=2.0)
        except Exception:
            pass
