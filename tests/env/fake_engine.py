"""A protocol-level fake engine: a Python process that speaks the step protocol through real
shared memory and real semaphores, with the trivial environment's rules (see
demo_project/envs/trivial/trivial_env.gd) and GymEpisodes' autoreset. No Godot: it starts in
a fraction of a second, so the host's vector-env, autoreset and error-path logic is unit-tested
in milliseconds. Faults on demand: die, hang, fail at start-up, log errors. ``dict_parts=True``
describes a Dict observation instead (see `dict_parts`): the trivial floats as the `state` part in
`out`, plus an image, a Discrete and a MultiDiscrete part in tensors of their own, all derived from
each agent's tick count so tests know every value.

    env = GodotEnv(DEMO, TRIVIAL, launcher=FakeEngine(hang_after=3))

By default the engine is a thread of the test process (no start-up at all: the semaphore waits
release the GIL); ``process=True`` (implied by ``die_after``) runs it as a process of its own,
``python fake_engine.py '<json config>'`` (forked from a server that has imported its modules:
forked_python.py), so that it can die like a real engine.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


@dataclass
class FakeEngine:
    """The launcher: called like GodotProcess(LaunchOptions, godot=, log_path=, cpus=)."""

    die_after: int | None = None     # exit(3) instead of answering command number k (1-based)
    hang_after: int | None = None    # stop answering at command number k
    stuck_after: int | None = None   # at command k, record an error and wait for ever, as a
                                     # game stopped on a script error does (the chunk's engine record)
    fatal: str | None = None         # report this configuration error at start-up and quit with 1
    error_on_action: float | None = None  # log an error during a STEP whose first action is this
    spec_overrides: dict | None = None    # fields of the spec replaced (to test the host's checks)
    process: bool = False            # a process of its own instead of a thread
    dict_parts: bool = False         # a Dict observation (state, camera, phase, hint; see dict_parts())

    def __call__(self, launch, *, godot=None, log_path=None, cpus=None):
        config = {"handle": launch.handle, "args": list(launch.user_args), "seed": launch.seed,
                  "faults": asdict(self)}
        if self.process or self.die_after is not None:
            return FakeEngineProcess(config, log_path)
        return FakeEngineThread(config)


class FakeEngineThread:
    """The fake engine as a thread; the handle EngineLink expects (the part of GodotProcess it uses)."""

    popen = None  # the host then watches the engine_pid written on attach: ours, always alive
    log_path = None

    def __init__(self, config: dict) -> None:
        self._lines: list[str] = []
        self._code: int | None = None
        self._thread = threading.Thread(target=self._run, args=(config,), daemon=True, name="fake-engine")
        self.pid = os.getpid()
        self._thread.start()

    def _run(self, config: dict) -> None:
        self._code = run(config, self._lines.append)

    def poll(self) -> int | None:
        return None if self._thread.is_alive() else self._code

    def alive(self) -> bool:
        return self._thread.is_alive()

    def log(self) -> str:
        return "\n".join(self._lines)

    def wait(self, timeout: float | None = None) -> int | None:
        self._thread.join(timeout)
        return self.poll()

    def close(self, grace: float = 5.0) -> int | None:
        self._thread.join(max(grace, 1.0))  # the host requested shutdown: the loop sees it within 50 ms
        if self._thread.is_alive():
            raise RuntimeError("the fake engine thread did not stop")
        return self._code


# `python fake_engine.py '<json config>'`, run in a fork of a server that has imported what the
# engine side imports (forked_python.py: no fresh interpreter's ~0.45 CPU-s per fake engine)
_RUN_AS_MAIN = f"import runpy, sys; sys.argv[0] = {__file__!r}; runpy.run_path(sys.argv[0], run_name='__main__')"
_server = None


def _processes():
    global _server
    if _server is None:
        from forked_python import PythonForkServer

        _server = PythonForkServer(dict(os.environ), ("numpy", "godot_aigym.env.protocol", "godot_aigym.shm"))
        atexit.register(_server.close)
    return _server


class FakeEngineProcess:
    """The process handle EngineLink expects (the part of GodotProcess it uses)."""

    def __init__(self, config: dict, log_path=None) -> None:
        self._keep = log_path is not None
        if log_path is None:
            fd, log_path = tempfile.mkstemp(prefix="godot-aigym-fake-", suffix=".log")
            os.close(fd)
        self.log_path = Path(log_path)
        self._text = ""
        with open(self.log_path, "wb") as log:
            self._popen: subprocess.Popen | None = _processes().spawn(_RUN_AS_MAIN, (json.dumps(config),),
                                                                      output=log.fileno())
        self.pid = self._popen.pid

    @property
    def popen(self):
        return self._popen

    def poll(self) -> int | None:
        return self._popen.poll() if self._popen else self._code

    def alive(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def log(self) -> str:
        if self.log_path.exists():
            self._text = self.log_path.read_text(errors="replace")
        return self._text

    def wait(self, timeout: float | None = None) -> int:
        return self._popen.wait(timeout)

    def close(self, grace: float = 5.0) -> int | None:
        if self._popen is None:
            return self._code
        try:
            self._popen.wait(grace)
        except subprocess.TimeoutExpired:
            self._popen.kill()
            self._popen.wait()
        self._code = self._popen.returncode
        self._popen = None
        self.log()
        if not self._keep:
            self.log_path.unlink(missing_ok=True)
        return self._code

    _code: int | None = None


# -- the engine side ------------------------------------------------------------------------------
def _write_message(tensor, value: dict) -> None:
    text = json.dumps(value).encode()
    buf = np.zeros(tensor.view.size, np.uint8)
    buf[:4] = np.frombuffer(len(text).to_bytes(4, "little"), np.uint8)
    buf[4:4 + len(text)] = np.frombuffer(text, np.uint8)
    tensor.view[:] = buf


class _Trivial:
    """The trivial environment's rules for n agents, and GymEpisodes' bookkeeping."""

    def __init__(self, n: int, max_steps: int, repeat: int, seed: int | None) -> None:
        self.n, self.max_steps, self.repeat = n, max_steps, repeat
        self.rng = np.random.default_rng(seed)
        self.a = np.zeros((n, 2), np.float32)
        self.sum = np.zeros(n, np.float32)
        self.ticks = np.zeros(n, np.float32)
        self.steps = np.zeros(n, np.int64)
        self.finished = np.zeros(n, bool)
        self.out = np.zeros(n * (2 * 4 + 3), np.float32)
        self.final_ticks: np.ndarray | None = None  # the tick counts before the last SAME_STEP reset

    def restart(self, i: int) -> None:
        self.a[i] = self.rng.uniform(-1, 1, 2)
        self.sum[i] = self.ticks[i] = 0
        self.steps[i] = 0
        self.finished[i] = False

    def observe(self) -> None:
        n, o = self.n, self.out
        o[:4 * n] = np.stack([self.a[:, 0], self.a[:, 1], self.sum, self.ticks], axis=1).ravel()
        o[4 * n:5 * n] = self.a[:, 0] - 0.5 * self.a[:, 1]
        o[5 * n:6 * n] = self.sum >= 10
        o[6 * n:7 * n] = 0

    def reset(self, mask: np.ndarray | None) -> None:
        for i in range(self.n):
            if mask is None or mask[i]:
                self.restart(i)
        self.observe()
        self.out[4 * self.n:7 * self.n] = 0

    def step(self, actions: np.ndarray, autoreset: int, P) -> None:
        n, o = self.n, self.out
        acts = actions.reshape(n, 2)
        for _ in range(self.repeat):
            self.a[:] = acts
            self.sum += acts.sum(axis=1)
            self.ticks += 1
        restarted = np.zeros(n, bool)
        if autoreset == P.AUTORESET_NEXT_STEP:
            for i in np.flatnonzero(self.finished):
                self.restart(i)
                self.steps[i] = -1
                restarted[i] = True
        self.observe()
        self.steps += 1
        if self.max_steps > 0:
            o[6 * n:7 * n][self.steps >= self.max_steps] = 1
        for k in range(4, 7):
            o[k * n:(k + 1) * n][restarted] = 0
        done = (o[5 * n:6 * n] != 0) | (o[6 * n:7 * n] != 0)
        if autoreset == P.AUTORESET_SAME_STEP and done.any():
            self.final_ticks = self.ticks.copy()
            keep = o[4 * n:7 * n].copy()
            final = o[7 * n:].reshape(n, 4)
            final[done] = o[:4 * n].reshape(n, 4)[done]
            for i in np.flatnonzero(done):
                self.restart(i)
            self.observe()
            o[4 * n:7 * n] = keep
        elif autoreset == P.AUTORESET_NEXT_STEP:
            self.finished |= done


# -- Dict observations: every part a function of the agent index and its tick count -----------------
IMAGE_SHAPE = (4, 5, 3)
PHASES = 5
HINT_NVEC = (3, 2)


def dict_parts(agent: np.ndarray, ticks: np.ndarray) -> dict[str, np.ndarray]:
    """The fake's tensor parts for agents ``agent`` whose tick counts are ``ticks`` (both (k,)):
    camera (k, 4, 5, 3) uint8, every pixel (ticks + 10 * agent + channel) % 256; phase (k,) ticks
    % 5; hint (k, 2) [ticks % 3, agent % 2]."""
    t, a = ticks.astype(np.int64), agent.astype(np.int64)
    base = (t + 10 * a)[:, None, None, None] + np.arange(IMAGE_SHAPE[2])
    camera = np.broadcast_to(base % 256, (len(t), *IMAGE_SHAPE)).astype(np.uint8)
    return {"camera": camera, "phase": (t % PHASES).astype(np.int32),
            "hint": np.stack([t % HINT_NVEC[0], a % HINT_NVEC[1]], axis=1).astype(np.int32)}


def _dict_observation() -> dict:
    state = {"name": "state", "kind": "box", "shape": [4], "dtype": "float32", "low": [-1, -1, None, 0],
             "high": [1, 1, None, None], "in_out": True}
    return {"type": "dict", "parts": [
        state,
        {"name": "camera", "kind": "image", "shape": list(IMAGE_SHAPE), "dtype": "uint8", "low": 0, "high": 255,
         "in_out": False},
        {"name": "phase", "kind": "discrete", "shape": [], "n": PHASES, "dtype": "int32", "in_out": False},
        {"name": "hint", "kind": "multi_discrete", "shape": [len(HINT_NVEC)], "nvec": list(HINT_NVEC),
         "dtype": "int32", "in_out": False}]}


def _write_parts(mem, prefix: str, P, env: "_Trivial", final: bool) -> None:
    """Write the part tensors: the observations now, or (``final``) those before a SAME_STEP reset."""
    ticks = env.final_ticks if final else env.ticks
    kind = P.PART_FINAL_OBS if final else P.PART_OBS
    for name, values in dict_parts(np.arange(env.n), ticks).items():
        entry = P.part_entry(prefix, kind, name)
        tensor = mem.findUintTensor(entry) if values.dtype == np.uint8 else mem.findIntTensor(entry)
        tensor.view[:] = values.ravel()


def _record_stuck(mem, semaphore: str, text: bytes) -> None:
    """Write the engine record as gdextension/shm/engine_errors.cpp does for an engine blocked for
    good on ``semaphore`` (already taken: its count is 0) after logging ``text``."""
    from godot_aigym.shm import layout as L
    base, off = L.engine_record_offset_for(mem._capacity), L.ENGINE_RECORD_OFFSETS
    L.U32.pack_into(mem._mm, base + off["error_count"], 1)
    L.U32.pack_into(mem._mm, base + off["text_size"], len(text))
    mem._mm[base + off["text"]:base + off["text"] + len(text)] = text
    L.U64.pack_into(mem._mm, base + off["stuck_sem"], mem._entries[semaphore].offset)


def _arg(args: list[str], key: str, default: int) -> int:
    return int(args[args.index(key) + 1]) if key in args else default


def run(config: dict, say=None) -> int:
    """Serve the protocol until CLOSE, shutdown or the host's death; the exit code."""
    if say is None:
        def say(text: str) -> None:
            print(text, flush=True)
    from godot_aigym.env import protocol as P
    from godot_aigym.shm import EngineDiedError, SharedMemory

    faults, args = config["faults"], config["args"]
    prefix = args[args.index("--env-prefix") + 1] if "--env-prefix" in args else P.DEFAULT_PREFIX
    n = _arg(args, "--n-agents", 1)
    mem = SharedMemory.attach(config["handle"], as_engine=True)
    try:
        return _serve(mem, config, say, P, EngineDiedError)
    finally:
        mem.close()


def _serve(mem, config: dict, say, P, EngineDiedError) -> int:
    faults, args = config["faults"], config["args"]
    prefix = args[args.index("--env-prefix") + 1] if "--env-prefix" in args else P.DEFAULT_PREFIX
    n = _arg(args, "--n-agents", 1)
    names = P.entry_names(prefix)
    sem_action, sem_obs = mem.find_semaphore(names["sem_action"]), mem.find_semaphore(names["sem_obs"])
    if faults["fatal"]:
        _write_message(mem.findUintTensor(names["fatal"]), {"error": faults["fatal"]})
        sem_obs.post()
        say(f"fake engine: fatal: {faults['fatal']}")
        return 1
    env = _Trivial(n, _arg(args, "--max-episode-steps", 50), _arg(args, "--action-repeat", 1), config["seed"])
    spec = {"protocol": P.PROTOCOL, "version": P.PROTOCOL_VERSION, "name": "FakeTrivial", "n_agents": n,
            "observation": (_dict_observation() if faults["dict_parts"] else
                            {"type": "box", "shape": [4], "low": [-1, -1, None, 0], "high": [1, 1, None, None]}),
            "action": {"type": "box", "shape": [2], "low": [-1, -1], "high": [1, 1]}, "action_width": 2,
            "max_episode_steps": env.max_steps, "action_repeat": env.repeat,
            "physics_ticks_per_second": _arg(args, "--physics-fps", 60),
            "in_size": P.in_size(n, 2), "out_size": P.out_size(n, 4)}
    spec.update(faults["spec_overrides"] or {})
    _write_message(mem.findUintTensor(names["spec"]), spec)
    say("fake engine: spec published")
    sem_obs.post()
    inp = out = None
    commands = 0
    while True:
        try:
            while not sem_action.timed_wait(0.05):
                if mem.shutdown_requested:
                    return 0
        except EngineDiedError:  # the host is gone
            return 1
        commands += 1
        if faults["die_after"] is not None and commands >= faults["die_after"]:
            say("fake engine: dying as asked")
            os._exit(3)
        if faults["stuck_after"] is not None and commands >= faults["stuck_after"]:
            _record_stuck(mem, names["sem_action"], b"fake engine: stuck as asked (fake_engine.py:1, step)")
        if faults["hang_after"] is not None and commands >= faults["hang_after"] or \
                faults["stuck_after"] is not None and commands >= faults["stuck_after"]:
            say("fake engine: hanging as asked")
            while not mem.shutdown_requested:
                time.sleep(0.05)
            return 0
        if inp is None:
            inp, out = mem.findFloatTensor(names["in"]).view, mem.findFloatTensor(names["out"]).view
        cmd, flags, masked = int(inp[P.H_COMMAND]), int(inp[P.H_FLAGS]), int(inp[P.H_MASKED])
        if cmd == P.CMD_CLOSE:
            sem_obs.post()
            return 0
        if cmd == P.CMD_RESET:
            if flags & P.FLAG_SEED:
                words = mem.findIntTensor(names["seed"]).view.astype(np.int64)
                env.rng = np.random.default_rng((int(words[1]) << 32) | (int(words[0]) & 0xFFFFFFFF))
            env.reset(inp[P.IN_HEADER:P.IN_HEADER + n] != 0 if masked else None)
        elif cmd == P.CMD_STEP:
            actions = inp[P.IN_HEADER + n:].copy()
            env.final_ticks = None
            env.step(actions, flags, P)
            if faults["dict_parts"] and env.final_ticks is not None:
                _write_parts(mem, prefix, P, env, final=True)
            if faults["error_on_action"] is not None and actions[0] == faults["error_on_action"]:
                _write_message(mem.findUintTensor(names["error_texts"]),
                               {"engine_errors": ["fake engine: error on request (fake_engine.py:1, step)"], "count": 1})
                mem.findIntTensor(names["errors"]).view[0] = 1
        else:
            say(f"fake engine: unknown command {cmd}")
            return 1
        if faults["dict_parts"]:
            _write_parts(mem, prefix, P, env, final=False)
        out[:] = env.out
        sem_obs.post()


if __name__ == "__main__":
    sys.exit(run(json.loads(sys.argv[1])))
