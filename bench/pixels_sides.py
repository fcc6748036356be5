"""The sides bench_pixels.py measures in paired windows: each side stays open for a set of windows
and `window(n)` measures n frames / steps, so windows of the in-engine reference and of the Python
path alternate within one run (a change of the machine's speed hits both sides of a pair).

Every window also accounts CPU per process group (``/proc/<pid>/task/*/schedstat``): the engines'
main threads, their other threads (the X11 event thread; llvmpipe's, if any), the host's threads
(its caller and the async env's waiters), the X server, and the CPUs' idle and steal time
(``/proc/stat``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from pathlib import Path

import numpy as np

from godot_aigym.display import rendering_launch_options
from godot_aigym.display.event_thread import LOWEST, find_x11_event_thread, lower_x11_event_thread
from godot_aigym.engine import GodotProcess, LaunchOptions
from godot_aigym.env import GodotVectorEnv
from godot_aigym.env.async_vector_env import GodotAsyncVectorEnv
from godot_aigym.env.project import demo_project, project_physics_fps
from godot_aigym.shm import SharedMemory

SCENE = "res://envs/reach/reach.tscn"
IN_ENGINE = Path(__file__).resolve().parent / "gd" / "reach_in_engine.gd"
SIZE = 84
SAFETY_TIMEOUT = 300.0  # only when something is broken
COPY_FRAMES = 60  # frames over which the engine times its one copy per camera
GROUPS = ("engine main", "engine other", "host", "xvfb", "idle", "steal")
_TICK_NS = 1e9 / os.sysconf("SC_CLK_TCK")


def scene_episode_steps() -> int:
    """The Reach scene's max_episode_steps (reach.tscn): the in-engine loop restarts its agents as the
    env's autoreset does (without restarts they drift to the arena's edges and draw cheaper frames)."""
    text = (Path(demo_project()) / SCENE.removeprefix("res://")).read_text()
    found = re.search(r"^max_episode_steps = (\d+)$", text, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"{SCENE} sets no max_episode_steps: the in-engine loop needs it")
    return int(found[1])


def _threads_ns(pid: int) -> dict[int, int]:
    out = {}
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(FileNotFoundError, ProcessLookupError), \
                    open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                out[int(tid)] = int(f.read().split()[0])
    return out


def _cpu_idle_steal_ns() -> tuple[float, float]:
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    return (int(fields[3]) + int(fields[4])) * _TICK_NS, int(fields[7]) * _TICK_NS


class CpuMeter:
    """CPU nanoseconds per group between `start()` and `stop()`."""

    def __init__(self, engine_pids: list[int], xvfb_pid: int) -> None:
        self.engine_pids, self.xvfb_pid = engine_pids, xvfb_pid

    def _sample(self) -> dict[str, float]:
        s = dict.fromkeys(GROUPS, 0.0)
        for pid in self.engine_pids:
            for tid, ns in _threads_ns(pid).items():
                s["engine main" if tid == pid else "engine other"] += ns
        s["host"] = float(sum(_threads_ns(os.getpid()).values()))
        s["xvfb"] = float(sum(_threads_ns(self.xvfb_pid).values()))
        s["idle"], s["steal"] = _cpu_idle_steal_ns()
        return s

    def start(self) -> None:
        self._before = self._sample()

    def stop(self) -> dict[str, float]:
        after = self._sample()
        return {k: after[k] - self._before[k] for k in GROUPS}


def event_thread_lowered(pid: int) -> bool:
    tid = find_x11_event_thread(pid)
    return tid is not None and os.getpriority(os.PRIO_PROCESS, tid) == LOWEST


class InEngine:
    """``engines`` engines running bench/gd/reach_in_engine.gd, launched as the env launches its
    engines (--fixed-fps at the project's tick rate, not pinned, X11 event thread at nice 19), warmed
    up; `window(frames, lockstep)` runs one window on all of them at once. ``episode_steps``: agents
    restart after reaching their tile or this many moves, as in the env (0: they never restart)."""

    def __init__(self, godot, display, agents: int, engines: int, episode_steps: int = 0) -> None:
        self.agents, self.engines, self.display = agents, engines, display
        self._stack = contextlib.ExitStack()
        self.procs, self.mems, self.windows, self.cpu = [], [], [], []
        try:
            for _ in range(engines):
                mem = self._stack.enter_context(SharedMemory())
                mem.newUintTensor("frames", agents * SIZE * SIZE * 3)
                spec = mem.newIntTensor("window", 2)
                sems = [mem.newSemaphore(name, 0) for name in ("ready", "go", "done")]
                options = rendering_launch_options(LaunchOptions(
                    project=demo_project(), script=str(IN_ENGINE), handle=mem.handle,
                    fixed_fps=project_physics_fps(demo_project()),
                    user_args=("--agents", str(agents), "--image-size", str(SIZE),
                               "--copy-frames", str(COPY_FRAMES), "--episode-steps", str(episode_steps))),
                    *display)
                proc = self._stack.enter_context(GodotProcess(options, godot=godot))
                mem.set_peer(proc.popen)
                self.procs.append(proc)
                self.mems.append((spec, *sems))
            self.lowered = True
            for proc, (_, ready, _, _) in zip(self.procs, self.mems):  # warmed up; as EngineLink.connect:
                ready.wait(timeout=SAFETY_TIMEOUT)
                self.lowered &= lower_x11_event_thread(proc.popen.pid) is not None
            self.meter = CpuMeter([p.popen.pid for p in self.procs], display[0].pid)
        except BaseException:
            self._stack.close()
            raise

    def window(self, frames: int, lockstep: bool = False) -> None:
        for spec, *_ in self.mems:
            spec.write(np.array([1 if lockstep else 0, frames], np.int32))
        self.meter.start()
        for _, _, go, _ in self.mems:
            go.post()
        for f in range(frames if lockstep else 1):  # lockstep: as GodotVectorEnv.step, post to all, wait for each
            for *_, done in self.mems:
                done.wait(timeout=SAFETY_TIMEOUT)
            if lockstep and f + 1 < frames:
                for _, _, go, _ in self.mems:
                    go.post()
        self.cpu.append((self.meter.stop(), self.agents * frames * self.engines))
        self.windows.append(lockstep)

    def close(self) -> dict:
        """Ends the engines; per window (in order): images/s while all engines ran and lockstep or
        not; the engine's copy per image."""
        try:
            for spec, _, go, _ in self.mems:
                spec.write(np.array([-1, 0], np.int32))
                go.post()
            results = []
            for proc in self.procs:
                code = proc.wait(timeout=SAFETY_TIMEOUT)
                res = _results(proc)
                if code != 0 or "copy_s" not in res or len(res.get("windows", ())) != len(self.windows):
                    raise RuntimeError(f"in-engine Reach bench: exit {code}, results {res}:\n{proc.log_tail()}")
                results.append(res)
        finally:
            self._stack.close()
        rates = [rate_while_all_ran([r["windows"][w] for r in results], self.agents) for w in range(len(self.windows))]
        copy_s = sum(r["copy_s"] for r in results) / (COPY_FRAMES * self.agents * self.engines)
        return {"rates": rates, "lockstep": self.windows, "copy_s_per_image": copy_s, "cpu": self.cpu}


def _results(proc: GodotProcess) -> dict:
    out = {}
    for line in proc.log().splitlines():
        if line.startswith("RESULT "):
            item = json.loads(line[7:])
            out[item["name"]] = item["value"]
    return out


def rate_while_all_ran(windows: list[dict], agents: int) -> float:
    """images/s of the engines while all of them ran (one window of each): every engine's frames
    finished between the last start and the first end, over that window (an engine that ends first
    leaves the CPUs to the others: its tail would not be at once)."""
    lo, hi = max(w["start_unix"] for w in windows), min(w["end_unix"] for w in windows)
    counts = [sum(1 for t in w["frame_ends"] if lo < t <= hi) for w in windows]
    if hi <= lo or min(counts) < 2:
        raise RuntimeError(f"in-engine Reach bench: the engines hardly ran at once ({counts} frames)")
    return agents * sum(counts) / (hi - lo)


class ThroughEnv:
    """`GodotVectorEnv` stepped with random actions (Dict observation, one uint8 tensor per part)."""

    def __init__(self, display, agents: int, engines: int, **options) -> None:
        self.agents, self.engines = agents, engines
        self.env = GodotVectorEnv(scene=SCENE, n_agents=agents, n_engines=engines, seed=0, rendering=True,
                                  user_args=("--image-size", str(SIZE)), **options)
        try:
            self.rng = np.random.default_rng(0)
            self.env.reset(seed=0)
            for _ in range(5):  # warm-up
                self.env.step(self.rng.integers(0, 5, self.env.num_envs))
            pids = [link.proc.popen.pid for link in self.env.links]
            self.lowered = all(event_thread_lowered(p) for p in pids)  # as EngineLink.connect left it
            self.meter = CpuMeter(pids, display[0].pid)
        except BaseException:
            self.env.close()
            raise

    def window(self, steps: int) -> dict:
        actions = [self.rng.integers(0, 5, self.env.num_envs) for _ in range(steps)]
        self.meter.start()
        t0 = time.perf_counter()
        for a in actions:
            obs, *_ = self.env.step(a)
        elapsed = time.perf_counter() - t0
        cpu = self.meter.stop()
        assert obs["camera"].shape == (self.env.num_envs, SIZE, SIZE, 3)
        return {"rate": self.env.num_envs * steps / elapsed, "cpu": (cpu, self.env.num_envs * steps)}

    def host_copy(self, steps: int = 60) -> float:
        """Seconds per step the host's copy of the (N, 84, 84, 3) views takes."""
        views = [link.results.parts["camera"] for link in self.env.links]
        t1 = time.perf_counter()
        for _ in range(steps):
            for v in views:
                v.copy()
        return (time.perf_counter() - t1) / steps

    def close(self) -> None:
        self.env.close()


class ThroughAsyncEnv:
    """`GodotAsyncVectorEnv` (envpool's send / recv, one engine's agents per recv): each engine is sent
    its next actions as soon as its own images are in, so the engines run free as in the in-engine
    loop. Between windows every engine is idle (its last answer taken, not timed)."""

    def __init__(self, display, agents: int, engines: int, **options) -> None:
        self.agents, self.engines = agents, engines
        self.env = GodotAsyncVectorEnv(scene=SCENE, n_agents=agents, n_engines=engines, seed=0, rendering=True,
                                       user_args=("--image-size", str(SIZE)), **options)
        try:
            self.rng = np.random.default_rng(0)
            self.env.reset(seed=0)
            self.window(5)  # warm-up
            pids = [link.proc.popen.pid for link in self.env.links]
            self.meter = CpuMeter(pids, display[0].pid)
        except BaseException:
            self.env.close()
            raise

    def window(self, steps: int) -> dict:
        """``engines * steps`` batches received, every engine sent its first actions at the start and
        its next ones after each of its batches, so that all of them run until the last counted batch
        (as the in-engine rate counts only while all engines ran); the batches still in flight then
        are taken untimed."""
        env, n = self.env, self.agents
        actions = [self.rng.integers(0, 5, n) for _ in range(self.engines * steps)]
        meter = getattr(self, "meter", None)
        if meter:
            meter.start()
        t0 = time.perf_counter()
        env.send(self.rng.integers(0, 5, env.num_envs))
        for a in actions:
            obs, *_, info = env.recv()
            env.send(a, info["env_id"])
        elapsed = time.perf_counter() - t0
        cpu = meter.stop() if meter else None
        for _ in range(self.engines):  # every engine idle between windows
            env.recv()
        assert obs["camera"].shape == (n, SIZE, SIZE, 3)
        return {"rate": n * self.engines * steps / elapsed, "cpu": (cpu, n * self.engines * steps)}

    def close(self) -> None:
        self.env.close()
