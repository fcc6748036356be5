#!/usr/bin/env python3
"""Camera pixels into Python beside the same scene's in-engine render-and-read-back rate, one run.

The Reach scene (demo_project/envs/reach: low-poly unshaded floor and tile, one CameraSensor3D
per agent) at 84x84 RGB under the host's private Xvfb on Mesa llvmpipe: 1 and 16 camera agents per
engine, and 2 engines x 16. Per configuration, repeats alternate (a change of the machine's load
hits both sides):

  * in engine (bench/gd/reach_in_engine.gd): the same agents; per frame a random move each, one
    frame drawn, every camera read back and copied once into its slice of a shared-memory uint8
    tensor (CameraSensor3D.write_into): the env's work per image minus the step protocol. Engines
    are launched like the env's (--fixed-fps at the project's tick rate, not pinned, X11 event
    thread at nice 19, main window not drawn as GymEnv does offscreen), prepared first and started
    together; 2 engines: only the frames made while both ran (rate_while_all_ran);
  * in engine, lockstep (2 engines, a reference beside the goal's baseline): the same loop, but the
    host starts every frame of every engine and waits for all of them, as a vector env steps its
    engines: the barrier's cost (each step waits for the slower engine) without the step protocol;
  * into Python: `GodotVectorEnv` (Dict observation, one uint8 tensor per part, zero-copy views)
    stepped with random actions; one frame drawn per step, as in the engine;
  * into Python, asynchronous (several engines): `GodotAsyncVectorEnv` (envpool's send / recv, one
    engine's images per recv, that engine sent its next actions at once), so the engines run free
    as in the in-engine loop. THE GOAL ROW of several engines uses it: both sides then run the
    engines without a barrier and do the same work per image, so the ratio measures what carrying
    the images into Python costs; the synchronous env is reported beside it (pixels_2x16_env_sync)
    against the lockstep loop, which has the same barrier.

Also: the per-step cost of carrying the image (the engine's one copy per camera, timed in the
engine, and the host's copy of the (N, 84, 84, 3) views out of shared memory) and where the step's
CPU goes (engine main thread per image in both paths, host per step). Goals (issue 13): into Python
>= 0.9x in engine; 16 agents >= 1,500 images/s; carrying the image <= 5% of the step.

    PYTHONPATH=python_host .venv/bin/python bench/bench_pixels.py [--repeats 5] [--configs 1x1,1x16,2x16]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python_host"))
sys.path.insert(0, str(REPO / "bench"))

from results_schema import goal, load_average, machine, metric, write_results  # noqa: E402

from godot_aigym.display import close_shared_display, rendering_launch_options, shared_display  # noqa: E402
from godot_aigym.display.event_thread import LOWEST, find_x11_event_thread, lower_x11_event_thread  # noqa: E402
from godot_aigym.engine import GodotProcess, LaunchOptions, ensure_imported  # noqa: E402
from godot_aigym.env import GodotVectorEnv  # noqa: E402
from godot_aigym.env.async_vector_env import GodotAsyncVectorEnv  # noqa: E402
from godot_aigym.env.project import demo_project, project_physics_fps  # noqa: E402
from godot_aigym.runtime import resolve_godot  # noqa: E402
from godot_aigym.shm import SharedMemory  # noqa: E402

SCENE = "res://envs/reach/reach.tscn"
IN_ENGINE = REPO / "bench" / "gd" / "reach_in_engine.gd"
SIZE = 84
SAFETY_TIMEOUT = 300.0  # only when something is broken


def _results(proc: GodotProcess) -> dict:
    out = {}
    for line in proc.log().splitlines():
        if line.startswith("RESULT "):
            item = json.loads(line[7:])
            out[item["name"]] = item["value"]
    return out


def _main_thread_ns(pid: int) -> int:
    """Nanoseconds the process's main thread has run (/proc schedstat)."""
    with open(f"/proc/{pid}/task/{pid}/schedstat") as f:
        return int(f.read().split()[0])


def _event_thread_lowered(pid: int) -> bool:
    tid = find_x11_event_thread(pid)
    return tid is not None and os.getpriority(os.PRIO_PROCESS, tid) == LOWEST


def in_engine(godot, display, agents: int, frames: int, engines: int, lockstep: bool = False) -> dict[str, float]:
    """The Reach scene in the engine, ``engines`` at once: images/s (every engine's images over the
    time from the first start to the last end), the engine's one copy into the tensor per image,
    and the main thread's CPU per image. ``lockstep``: the host starts every frame of every engine
    and waits for all of them to finish it (semaphores "go" / "done"), as a vector env steps its
    engines, with nothing else of the step protocol."""
    with contextlib.ExitStack() as stack:
        procs, pids, lowered = [], [], []
        for _ in range(engines):
            mem = stack.enter_context(SharedMemory())
            mem.newUintTensor("frames", agents * SIZE * SIZE * 3)
            ready, go = mem.newSemaphore("ready", 0), mem.newSemaphore("go", 0)
            done = mem.newSemaphore("done", 0) if lockstep else None
            options = rendering_launch_options(LaunchOptions(
                project=demo_project(), script=str(IN_ENGINE), handle=mem.handle,
                fixed_fps=project_physics_fps(demo_project()),  # launched as the env launches its engines
                user_args=("--agents", str(agents), "--frames", str(frames), "--image-size", str(SIZE),
                           *(("--lockstep",) if lockstep else ()))), *display)
            proc = stack.enter_context(GodotProcess(options, godot=godot))
            mem.set_peer(proc.popen)
            procs.append((proc, ready, go, done))
            pids.append(proc.popen.pid)
        for proc, ready, *_ in procs:  # warmed up; as EngineLink does once an env's engine is up:
            ready.wait(timeout=SAFETY_TIMEOUT)
            lowered.append(lower_x11_event_thread(proc.popen.pid) is not None)
        for *_, go, _ in procs:
            go.post()
        for f in range(frames if lockstep else 0):  # as GodotVectorEnv.step: post to all, then wait for each
            for *_, done in procs:
                done.wait(timeout=SAFETY_TIMEOUT)
            if f + 1 < frames:
                for *_, go, _ in procs:
                    go.post()
        results = []
        for proc, *_ in procs:
            code = proc.wait(timeout=SAFETY_TIMEOUT)
            res = _results(proc)
            if code != 0 or "copy_s" not in res or res.get("bytes") != agents * frames * SIZE * SIZE * 3:
                raise RuntimeError(f"in-engine Reach bench: exit {code}, results {res}:\n{proc.log_tail()}")
            results.append(res)
    images = agents * frames
    main_ns = [r["thread_ns"][str(pid)][0] for pid, r in zip(pids, results)]
    return {"capture": rate_while_all_ran(results, agents), "overlap": overlap(results),
            "copy_s_per_image": sum(r["copy_s"] for r in results) / (images * engines),
            "main_cpu_per_image": sum(main_ns) / 1e9 / (images * engines), "lowered": all(lowered)}


def rate_while_all_ran(results: list[dict], agents: int) -> float:
    """images/s of the engines while all of them ran: every engine's frames finished between the
    last start and the first end, over that window (an engine that ends first leaves the CPUs to
    the others: its tail would not be at once). Before, each engine's frames in the window were
    timed from its own first to its last one and the rates summed: an engine with only a few
    frames there added a rate from one or two intervals, and 1/time made such noise count upward
    (quiet runs reported up to 4,946 images/s against medians of 3,700-4,000)."""
    lo, hi = max(r["start_unix"] for r in results), min(r["end_unix"] for r in results)
    counts = [sum(1 for t in r["frame_ends"] if lo < t <= hi) for r in results]
    if hi <= lo or min(counts) < 2:
        raise RuntimeError(f"in-engine Reach bench: the engines hardly ran at once ({counts} frames)")
    return agents * sum(counts) / (hi - lo)


def overlap(results: list[dict]) -> float:
    """The share of the engines' whole run during which all of them ran."""
    lo, hi = max(r["start_unix"] for r in results), min(r["end_unix"] for r in results)
    return (hi - lo) / (max(r["end_unix"] for r in results) - min(r["start_unix"] for r in results))


def through_env(engines: int, agents: int, steps: int) -> dict[str, float]:
    """images/s into Python, the host's copy of the views per step, the engines' main-thread CPU
    per image and the host's CPU per step."""
    envs = GodotVectorEnv(scene=SCENE, n_agents=agents, n_engines=engines, seed=0, rendering=True,
                          user_args=("--image-size", str(SIZE)))
    try:
        rng = np.random.default_rng(0)
        envs.reset(seed=0)
        for _ in range(5):  # warm-up
            envs.step(rng.integers(0, 5, envs.num_envs))
        actions = [rng.integers(0, 5, envs.num_envs) for _ in range(steps)]
        pids = [link.proc.popen.pid for link in envs.links]
        lowered = all(_event_thread_lowered(p) for p in pids)  # as EngineLink.connect left it
        main0, host0 = [_main_thread_ns(p) for p in pids], time.thread_time()
        t0 = time.perf_counter()
        for a in actions:
            obs, *_ = envs.step(a)
        elapsed = time.perf_counter() - t0
        host_cpu, main1 = time.thread_time() - host0, [_main_thread_ns(p) for p in pids]
        assert obs["camera"].shape == (envs.num_envs, SIZE, SIZE, 3)
        views = [link.results.parts["camera"] for link in envs.links]
        t1 = time.perf_counter()
        for _ in range(steps):
            for v in views:
                v.copy()
        copy_s = (time.perf_counter() - t1) / steps
    finally:
        envs.close()
    images = engines * agents * steps
    return {"rate": images / elapsed, "copy": copy_s, "host_cpu_per_step": host_cpu / steps, "lowered": lowered,
            "main_cpu_per_image": sum(b - a for a, b in zip(main0, main1)) / 1e9 / images}


def through_async_env(engines: int, agents: int, steps: int) -> dict[str, float]:
    """images/s into Python through `GodotAsyncVectorEnv` (envpool's send / recv, one engine's agents
    per recv): each engine is sent its next actions as soon as its own images are in, so the engines
    run free as in the in-engine loop; ``engines * steps`` batches received after the warm-up."""
    envs = GodotAsyncVectorEnv(scene=SCENE, n_agents=agents, n_engines=engines, seed=0, rendering=True,
                               user_args=("--image-size", str(SIZE)))
    try:
        rng = np.random.default_rng(0)
        actions = [rng.integers(0, 5, agents) for _ in range(engines * steps)]
        envs.async_reset(seed=0)
        for _ in range(5 * engines):  # warm-up
            obs, *_, info = envs.recv()
            envs.send(actions[0], info["env_id"])
        pids = [link.proc.popen.pid for link in envs.links]
        main0, host0 = [_main_thread_ns(p) for p in pids], time.thread_time()
        t0 = time.perf_counter()
        for a in actions:
            obs, *_, info = envs.recv()
            envs.send(a, info["env_id"])
        elapsed = time.perf_counter() - t0
        host_cpu, main1 = time.thread_time() - host0, [_main_thread_ns(p) for p in pids]
        assert obs["camera"].shape == (agents, SIZE, SIZE, 3)
    finally:
        envs.close()
    images = engines * agents * steps
    return {"rate": images / elapsed, "host_cpu_per_step": host_cpu / (engines * steps),
            "main_cpu_per_image": sum(b - a for a, b in zip(main0, main1)) / 1e9 / images}


def _loaded(*loads: float | None) -> bool | None:
    """Other jobs ran meanwhile: a load average above half the cores (the bench itself uses ~1)."""
    known = [v for v in loads if v is not None]
    return max(known) > (os.cpu_count() or 1) / 2 if known else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)  # ~1 min; medians of 3 moved by one disturbed sample
    ap.add_argument("--steps-1", type=int, default=200, help="frames/steps per measurement with 1 agent")
    ap.add_argument("--steps-16", type=int, default=60, help="frames/steps per measurement with 16 agents")
    ap.add_argument("--configs", default="1x1,1x16,2x16", help="engines x agents to run, comma-separated")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    configs = [tuple(int(v) for v in c.split("x")) for c in args.configs.split(",")]

    godot = resolve_godot()
    ensure_imported(demo_project(), godot)
    display = shared_display(godot)
    load_before = load_average()
    rows, lowered = {}, {}
    try:
        for engines, agents in configs:
            steps = args.steps_1 if agents == 1 else args.steps_16
            eng, env, lock, asy = [], [], [], []
            for _ in range(args.repeats):  # interleaved: a change of the machine's load hits both sides
                eng.append(in_engine(godot, display, agents, steps, engines))
                if engines > 1:  # the same engines stepped in lockstep: what the barrier alone costs
                    lock.append(in_engine(godot, display, agents, steps, engines, lockstep=True)["capture"])
                    asy.append(through_async_env(engines, agents, steps))  # no barrier, as in the engine
                env.append(through_env(engines, agents, steps))
            rows[(engines, agents)] = {
                "engine": [e["capture"] for e in eng], "python": [r["rate"] for r in env],
                **({"lockstep": lock, "async": [r["rate"] for r in asy],
                    "cpu_async": [r["main_cpu_per_image"] for r in asy],
                    "cpu_host_async": [r["host_cpu_per_step"] for r in asy]} if lock else {}),
                "copy": [r["copy"] for r in env],
                "engine_copy": [agents * e["copy_s_per_image"] for e in eng],  # every agent's frame, per step
                "cpu_engine": [e["main_cpu_per_image"] for e in eng], "cpu_env": [r["main_cpu_per_image"] for r in env],
                "cpu_host": [r["host_cpu_per_step"] for r in env]}
            lowered[f"{engines}x{agents}"] = {"in engine": all(e["lowered"] for e in eng),
                                              "through the env": all(r["lowered"] for r in env)}
    finally:
        close_shared_display()
    load_after = load_average()

    metrics = []
    print(f"\nimages/s at {SIZE}x{SIZE} RGB, Reach scene, median of {args.repeats}; CPU: engine main thread "
          "per image (in engine / through the env), host per step")
    print(f"{'engines x agents':>16} {'in engine':>10} {'into Python':>12} {'ratio':>6} {'engine copy':>12} "
          f"{'host copy':>10} {'share':>6} {'CPU/image engine':>17} {'env':>7} {'host/step':>10}")
    for (engines, agents), r in rows.items():
        med = {k: statistics.median(v) for k, v in r.items()}
        spread = {k: [min(v), max(v)] for k, v in r.items()}
        step_s = engines * agents / med["python"]
        share = (med["engine_copy"] + med["copy"]) / step_s  # carrying the image: engine copy + host copy
        print(f"{f'{engines} x {agents}':>16} {med['engine']:>10.0f} {med['python']:>12.0f} "
              f"{med['python'] / med['engine']:>6.2f} {med['engine_copy'] * 1e6:>9.0f} us "
              f"{med['copy'] * 1e6:>7.0f} us {share:>6.1%} {med['cpu_engine'] * 1e6:>14.0f} us "
              f"{med['cpu_env'] * 1e6:>4.0f} us {med['cpu_host'] * 1e6:>7.0f} us")
        asy = "async" in med  # several engines: the goal row is the asynchronous env (no barrier either side)
        if asy:
            print(f"{'':>16} in engine, lockstep {med['lockstep']:.0f} ({med['lockstep'] / med['engine']:.2f}x free-running; "
                  f"GodotVectorEnv {med['python'] / med['lockstep']:.2f}x lockstep)")
            print(f"{'':>16} GodotAsyncVectorEnv {med['async']:.0f} ({med['async'] / med['engine']:.2f}x free-running; "
                  f"engine CPU/image {med['cpu_async'] * 1e6:.0f} us, host CPU per engine step "
                  f"{med['cpu_host_async'] * 1e6:.0f} us)")
            metrics.append(metric(
                f"pixels_{engines}x{agents}_env_sync",
                f"{engines} engines x {agents} camera agents, into Python through GodotVectorEnv (synchronous: "
                "every step waits for every engine)", "images/s", med["python"], better="higher",
                ours_spread=spread["python"], baseline_name="the same in-engine loop in lockstep: the host starts "
                "every frame of every engine and waits for all (same run)", baseline=med["lockstep"],
                baseline_spread=spread["lockstep"],
                also=[{"name": "ratio to the free-running in-engine rate", "value": med["python"] / med["engine"],
                       "spread": None}],
                note="reference beside the goal row: the synchronous env against the in-engine loop with the same "
                     "barrier"))
        also = [("into Python through the synchronous GodotVectorEnv (images/s)", "python"),
                ("in engine, lockstep (images/s): the host starts every frame of every engine and waits for all",
                 "lockstep"), ("engine main-thread CPU per image, through the async env (s)", "cpu_async"),
                ("host CPU per engine step, async env (s)", "cpu_host_async")] if asy else []
        also += [("engine image copy per step (s)", "engine_copy"), ("host image copy per step (s)", "copy"),
                ("engine main-thread CPU per image, in engine (s)", "cpu_engine"),
                ("engine main-thread CPU per image, through the env (s)", "cpu_env"),
                ("host CPU per step (s)", "cpu_host")]
        ours = "async" if asy else "python"
        metrics.append(metric(
            f"pixels_{engines}x{agents}_env",
            f"{engines} engine(s) x {agents} camera agent(s), into Python through "
            + ("GodotAsyncVectorEnv (send / recv, one engine's images per recv)" if asy else "GodotVectorEnv"),
            "images/s", med[ours], better="higher", ours_spread=spread[ours],
            baseline_name="the same Reach scene in the engine: one frame drawn, every camera read back and copied "
                          "once into a shared-memory tensor (same run)",
            baseline=med["engine"], baseline_spread=spread["engine"],
            goal=goal(">=", 0.9, ">= 0.9x the in-engine render-and-read-back rate"),
            also=[{"name": name, "value": med[k], "spread": spread[k]} for name, k in also]
            + [{"name": "share of the step (engine + host copy; goal <= 5%)", "value": share, "spread": None}],
            note=("Dict observation, one uint8 tensor per part, each camera's read-back copied once into its "
                  "agent's slice (write_pixels_at); one frame drawn per step, physics paused for it"
                  + ("; the engines run free on both sides (no barrier in the engine loop, none in the "
                     "async env)" if asy else "")
                  + (f"; goal >= 1500 images/s: {'met' if med[ours] >= 1500 else 'not met'}"
                     if agents == 16 else ""))))
    path = write_results(
        "pixels", metrics, path=args.out, machine=machine(godot=godot.version), repeats=args.repeats,
        spread="min-max", loaded=_loaded(load_before, load_after),
        params={"width": SIZE, "height": SIZE, "channels": 3, "steps_1_agent": args.steps_1,
                "steps_16_agents": args.steps_16, "renderer": "opengl3 (compatibility) on Mesa llvmpipe, Xvfb"},
        notes=[f"load average before/after: {load_before}/{load_after} (the machine is shared)",
               f"X11 event thread at nice 19 in every engine: {lowered}"])
    if not all(v for side in lowered.values() for v in side.values()):
        print(f"warning: the X11 event thread was not lowered everywhere: {lowered}")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
