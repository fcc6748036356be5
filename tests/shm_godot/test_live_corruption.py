"""A hostile same-user writer against running engines: seeded random bytes over the directory
entries (name, kind/dtype, count, offset, nbytes), the header, semaphore words, the engine
record and tensor data of a live chunk, between steps and during them (a thread scribbling
while the host waits). Real engines: the trivial scene through GodotEnv and GodotVectorEnv,
and a game written against the original API by name (test_seed_api_steps.gd).

What must hold (docs/FAILURE_MODEL.md, "A same-user writer during a run"): the engine never
dies by a signal and never logs a crash: it goes on, or reports what was wrong and exits by
itself; the host raises only our documented errors, and every wait ends (the step timeout is
the only bound, and only a stolen post needs it); nothing is left in /dev/shm or /tmp.
The seeds are printed; a failure names the scribble that preceded it."""

from __future__ import annotations

import hashlib
import os
import struct
import threading

import numpy as np
import pytest

from godot_aigym import SharedMemory
from godot_aigym.engine import GodotProcess, LaunchOptions
from godot_aigym.env import GodotEnv, GodotVectorEnv
from godot_aigym.env.protocol import GodotEnvError
from godot_aigym.shm import layout as L
from godot_aigym.shm.errors import EngineDiedError, EngineScriptError, EngineTimeoutError, SharedMemoryError

from demo_fixtures import prepared_demo
from hostile_writer import HostileWriter, check_engine_ended, leftovers

SAFETY_S = 60  # only fires when something is broken (or a scribble stole a post: then it is the bound)
DOCUMENTED = (SharedMemoryError, GodotEnvError)
HOST_STOPS_ENGINES = (EngineTimeoutError, EngineScriptError, EngineDiedError)  # link.py's _wait_failed
STEPS_AFTER = 3  # steps after each scribble
TRIVIAL = "res://envs/trivial/trivial.tscn"


@pytest.fixture(scope="module")
def demo(godot):
    return prepared_demo(godot)  # imported under the project lock (parallel workers)


def test_entry_lookups_use_one_checked_copy_of_a_racing_entry(godot, test_project):
    """getFloatArray / sendFloatArray / findFloatTensor while the host flips the entry's count,
    offset and nbytes between the true ones and hostile ones: before the fix the engine checked
    the live entry and then read it again for the copy (SIGSEGV, or a heap overflow)."""
    calls, n = 3000, 64
    with SharedMemory(size=1 << 20, capacity=4) as mem:
        ready, go = mem.newSemaphore("ready", 0), mem.newSemaphore("go", 0)
        entry = mem.newFloatTensor("x", n)._entry
        at = L.entry_offset(entry.index) + 72  # count, offset, nbytes: 24 bytes
        true = struct.pack("<QQQ", n, entry.offset, n * 4)
        hostile = [struct.pack("<QQQ", n, entry.offset, 1 << 30),  # nbytes far beyond the chunk
                   struct.pack("<QQQ", n, mem.size - 64, n * 4),  # the data past the chunk's end
                   struct.pack("<QQQ", 1 << 28, entry.offset, 1 << 30),  # a huge tensor
                   struct.pack("<QQQ", n, 0, n * 4)]  # over the header and the directory
        opts = LaunchOptions(project=test_project, script="res://shm/test_entry_race.gd", handle=mem.handle,
                             user_args=[str(calls), str(n)])
        stop = threading.Event()

        def flip() -> None:
            mm, k = mem._mm, 0
            while not stop.is_set():
                mm[at:at + 24] = hostile[k % len(hostile)]
                mm[at:at + 24] = true
                k += 1

        with GodotProcess(opts, godot=godot) as proc:
            mem.set_peer(proc.popen)
            ready.wait(timeout=SAFETY_S)
            flipper = threading.Thread(target=flip, daemon=True)
            flipper.start()
            go.post()
            try:
                ready.wait(timeout=SAFETY_S)  # posted after the last call
            except SharedMemoryError:
                pass  # the engine died: said below
            finally:
                stop.set()
                flipper.join()
            mem._mm[at:at + 24] = true
            proc.wait(timeout=SAFETY_S)
            log = proc.log()
            code = check_engine_ended(proc.popen, log, "entry race")
    print(next((line for line in log.splitlines() if line.startswith("RACE DONE")), "no summary"))
    assert code == 0, log[-3000:]
    assert f"RACE DONE calls={calls}" in log and "wrong=0" in log, log[-3000:]


def _step_envs(make_env, engines_of, act, seed: int, corruptions: int, max_envs: int, label: str):
    """Run `corruptions` scribbles (seeded) over envs from `make_env`: STEPS_AFTER steps after
    each; an env that raised a documented error is closed (its engines checked) and replaced.
    Scribble i (its engine, its bytes, during a step or not, the actions after it) comes from its
    own stream ``(seed, i)``: the same whatever the scribbles before it did, so a seed names the
    same run on a fast or a busy machine (a step that raises early draws fewer actions)."""
    seed = int(os.environ.get("AIGYM_HOSTILE_SEED", seed))  # other seeds: explore, then pin what fails
    print(f"{label}: hostile writer seed {seed}")
    applied, envs, raised_kinds, plan = 0, 0, {}, hashlib.sha256()
    handles, logs = [], []
    while applied < corruptions:
        envs += 1
        assert envs <= max_envs, f"{label}: {envs} envs for {applied} scribbles"  # a bound on the loop only
        env = make_env()
        links = engines_of(env)
        handles += [link.mem.handle for link in links]
        logs += [link.proc.log_path for link in links]
        procs = [link.proc for link in links]
        popens = [p.popen for p in procs]
        writers = [HostileWriter(link.mem, seed) for link in links]
        raised, last = None, None
        try:
            env.reset(seed=int(np.random.default_rng([seed, applied, 1]).integers(2**31)))
            while applied < corruptions and raised is None:
                rng = np.random.default_rng([seed, applied])
                j = int(rng.integers(len(writers)))
                writer = writers[j]
                last = writer.next(rng)
                during = bool(rng.integers(2))
                plan.update(f"{applied} {j} {last} {during};".encode())
                applied += 1
                if not during:
                    writer.apply(last)
                try:
                    for k in range(STEPS_AFTER):
                        if during and k == 0:
                            writer.during(last)
                        _, _, terminated, truncated, _ = env.step(act(rng))
                        if np.ndim(terminated) == 0 and (terminated or truncated):
                            env.reset()  # GodotEnv; the vector env resets by itself
                except DOCUMENTED as e:
                    raised = e
                except Exception as e:  # anything else is a bug: name the scribble
                    raise AssertionError(f"{label}: {type(e).__name__} after scribble {last}: {e}") from e
                finally:
                    if during:
                        writer.settle()
        finally:
            for writer in writers:
                writer.stop()
            for link in links:  # ask each engine to quit and wait for it (no close() grace period)
                if link.mem is not None and not link.mem.closed:
                    link.mem.request_shutdown()
            try:
                for popen in popens:
                    popen.wait(SAFETY_S)
            finally:
                env.close()  # also when an engine did not quit: nothing left behind
        if raised is not None:
            raised_kinds[type(raised).__name__] = raised_kinds.get(type(raised).__name__, 0) + 1
        for proc, popen in zip(procs, popens):
            # after these the env stops engines itself (a hung or stuck one at once, the others of a
            # vector env with close()'s grace): a signal from the host is then no verdict
            check_engine_ended(popen, proc.log(), f"{label} after scribble {last}",
                               killed_ok=isinstance(raised, HOST_STOPS_ENGINES))
    print(f"{label}: {applied} scribbles over {envs} envs (plan {plan.hexdigest()[:16]}); host errors {raised_kinds}")
    assert not leftovers(handles, logs), leftovers(handles, logs)


def test_godot_env_under_a_hostile_writer(godot, demo):
    def make():
        return GodotEnv(demo, TRIVIAL, seed=5, step_timeout=SAFETY_S)

    _step_envs(make, lambda env: [env._link], lambda rng: rng.uniform(-1, 1, 2).astype(np.float32),
               seed=1101, corruptions=100, max_envs=100, label="GodotEnv")


def test_vector_env_under_a_hostile_writer(godot, demo):
    def make():
        return GodotVectorEnv(demo, TRIVIAL, n_agents=4, n_engines=2, seed=5, step_timeout=SAFETY_S)

    _step_envs(make, lambda env: env.links, lambda rng: rng.uniform(-1, 1, (8, 2)).astype(np.float32),
               seed=2202, corruptions=60, max_envs=60, label="GodotVectorEnv")


class SeedApiGame:
    """test_seed_api_steps.gd behind the env calls `_step_envs` makes: the original API's names
    (cSharedMemory.getFloatArray / findFloatTensor / sendIntArray, cSharedMemorySemaphore
    init/wait/post) look every entry up at every step, so scribbles meet the lookups."""

    def __init__(self, godot, project) -> None:
        self.mem = SharedMemory(size=1 << 16, capacity=8)
        self.proc = None
        try:
            self._action, self._obs = self.mem.newFloatTensor("action", 1), self.mem.newFloatTensor("observation", 4)
            self.mem.newIntTensor("done", 1)
            self._sem_action = self.mem.newSemaphore("sem_action", 0)
            self._sem_obs = self.mem.newSemaphore("sem_observation", 0)
            self.proc = GodotProcess(LaunchOptions(project=project, script="res://shm/test_seed_api_steps.gd",
                                                   handle=self.mem.handle), godot=godot)
            self.mem.set_peer(self.proc.popen)
            self._sem_obs.wait(timeout=SAFETY_S)  # the game is ready (nothing scribbled yet)
        except BaseException:
            self.close()
            raise
        self.links = [self]

    def reset(self, seed=None):
        return self._obs.read(), {}

    def step(self, action):
        self._action.write(np.asarray(action, np.float32))
        self._sem_action.post()
        self._sem_obs.wait(timeout=SAFETY_S)
        return self._obs.read(), 0.0, False, False, {}

    def close(self) -> None:
        if self.proc is not None:
            self.mem.request_shutdown()  # the game quits by itself (code 0)
            self.proc.close(grace=SAFETY_S)
        self.mem.close()


def test_seed_api_game_under_a_hostile_writer(godot, test_project):
    _step_envs(lambda: SeedApiGame(godot, test_project), lambda game: game.links,
               lambda rng: rng.uniform(-1, 1, 1).astype(np.float32),
               seed=3303, corruptions=120, max_envs=120, label="seed-API game")
