#!/usr/bin/env python3
"""Pixel observations through the env layer: camera images per second into Python.

The Reach scene (demo_project/envs/reach: low-poly unshaded floor and tile, one CameraSensor3D
per agent) at 84x84 RGB, stepped through `GodotVectorEnv` (Dict observations, a uint8 tensor per
part, zero-copy views copied out once per step) with random actions, under the host's private Xvfb
on Mesa llvmpipe: 1 and 16 camera agents per engine, and 2 engines x 16. In the same run, the
same scene's in-engine render-and-read-back rate (bench/gd/reach_in_engine.gd: the same agents,
a random move and every camera read back each frame, no step protocol; engines at once, summed;
launched like the env's engines: --fixed-fps at the project's tick rate, not pinned),
and the per-step cost of carrying the image: the engine's one copy of every camera into a
tensor (timed in the engine) and the host's copy of the (N, 84, 84, 3) views out of shared memory.

    PYTHONPATH=python_host .venv/bin/python bench/bench_pixels.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python_host"))
sys.path.insert(0, str(REPO / "bench"))

from bench_render import write_render_results  # noqa: E402
from results_schema import goal, load_average, metric  # noqa: E402

from godot_aigym.display import close_shared_display, rendering_launch_options, shared_display  # noqa: E402
from godot_aigym.engine import GodotProcess, LaunchOptions, ensure_imported  # noqa: E402
from godot_aigym.env import GodotVectorEnv  # noqa: E402
from godot_aigym.env.project import demo_project, project_physics_fps  # noqa: E402
from godot_aigym.runtime import resolve_godot  # noqa: E402

from godot_aigym.shm import SharedMemory  # noqa: E402

SCENE = "res://envs/reach/reach.tscn"
IN_ENGINE = REPO / "bench" / "gd" / "reach_in_engine.gd"
SIZE = 84
SAFETY_TIMEOUT = 300.0  # only when something is broken


def in_engine(godot, display, agents: int, frames: int, engines: int) -> dict[str, float]:
    """The Reach scene in the engine: images/s rendered and read back (summed over engines running
    at once) and the seconds per image of the engine's one copy into a tensor."""
    with contextlib.ExitStack() as stack:
        procs = []
        for _ in range(engines):
            mem = stack.enter_context(SharedMemory())
            mem.newUintTensor("frames", agents * SIZE * SIZE * 3)
            options = rendering_launch_options(LaunchOptions(
                project=demo_project(), script=str(IN_ENGINE), handle=mem.handle,
                fixed_fps=project_physics_fps(demo_project()),  # launched as the env launches its engines
                user_args=("--agents", str(agents), "--frames", str(frames), "--image-size", str(SIZE))), *display)
            procs.append(stack.enter_context(GodotProcess(options, godot=godot)))
        results = []
        for proc in procs:
            code = proc.wait(timeout=SAFETY_TIMEOUT)
            res = {}
            for line in proc.log().splitlines():
                if line.startswith("RESULT "):
                    item = json.loads(line[7:])
                    res[item["name"]] = item["value"]
            if code != 0 or "copy_s" not in res or res.get("bytes") != agents * frames * SIZE * SIZE * 3:
                raise RuntimeError(f"in-engine Reach bench: exit {code}, results {res}:\n{proc.log_tail()}")
            results.append(res)
    images = agents * frames
    return {"capture": sum(images / r["capture_s"] for r in results),
            "copy_s_per_image": sum(r["copy_s"] for r in results) / (images * len(results))}


def through_env(engines: int, agents: int, steps: int) -> tuple[float, float]:
    """(images/s into Python, seconds per step spent copying the images out of shared memory)."""
    envs = GodotVectorEnv(scene=SCENE, n_agents=agents, n_engines=engines, seed=0, rendering=True,
                          user_args=("--image-size", str(SIZE)))
    try:
        rng = np.random.default_rng(0)
        envs.reset(seed=0)
        for _ in range(5):  # warm-up
            envs.step(rng.integers(0, 5, envs.num_envs))
        actions = [rng.integers(0, 5, envs.num_envs) for _ in range(steps)]
        t0 = time.perf_counter()
        for a in actions:
            obs, *_ = envs.step(a)
        elapsed = time.perf_counter() - t0
        assert obs["camera"].shape == (envs.num_envs, SIZE, SIZE, 3)
        views = [link.results.parts["camera"] for link in envs.links]
        t1 = time.perf_counter()
        for _ in range(steps):
            for v in views:
                v.copy()
        copy_s = (time.perf_counter() - t1) / steps
    finally:
        envs.close()
    return engines * agents * steps / elapsed, copy_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps-1", type=int, default=200)
    ap.add_argument("--steps-16", type=int, default=40)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    godot = resolve_godot()
    ensure_imported(demo_project(), godot)
    display = shared_display(godot)
    load_before = load_average()
    rows = {}
    try:
        for engines, agents, steps in ((1, 1, args.steps_1), (1, 16, args.steps_16), (2, 16, args.steps_16)):
            eng, runs = [], []
            for _ in range(args.repeats):  # interleaved: a change of the machine's load hits both sides
                eng.append(in_engine(godot, display, agents, steps, engines))
                runs.append(through_env(engines, agents, steps))
            rows[(engines, agents)] = {"engine": [e["capture"] for e in eng], "python": [r[0] for r in runs],
                                       "copy": [r[1] for r in runs],
                                       # the engine's one copy per step: every agent's frame into the tensor
                                       "engine_copy": [agents * e["copy_s_per_image"] for e in eng]}
    finally:
        close_shared_display()
    load_after = load_average()

    metrics = []
    print(f"\nimages/s at {SIZE}x{SIZE} RGB through GodotVectorEnv (Reach scene), median of {args.repeats}")
    print(f"{'engines x agents':>16} {'in engine':>10} {'into Python':>12} {'ratio':>6} {'engine copy':>12} "
          f"{'host copy':>10} {'share':>6}")
    for (engines, agents), r in rows.items():
        med = {k: statistics.median(v) for k, v in r.items()}
        step_s = engines * agents / med["python"]
        share = (med["engine_copy"] + med["copy"]) / step_s  # carrying the image: engine copy + host copy
        print(f"{f'{engines} x {agents}':>16} {med['engine']:>10.0f} {med['python']:>12.0f} "
              f"{med['python'] / med['engine']:>6.2f} {med['engine_copy'] * 1e6:>9.0f} us "
              f"{med['copy'] * 1e6:>7.0f} us {share:>6.1%}")
        key = f"{engines}x{agents}"
        metrics.append(metric(
            f"pixels_{key}_env", f"{engines} engine(s) x {agents} camera agent(s), into Python through GodotVectorEnv",
            "images/s", med["python"], better="higher", ours_spread=(min(r["python"]), max(r["python"])),
            baseline_name="the same Reach scene in the engine: render + read back every camera (same run)",
            baseline=med["engine"], baseline_spread=(min(r["engine"]), max(r["engine"])),
            goal=goal(">=", 0.9, ">= 0.9x the in-engine render-and-read-back rate"),
            also=[{"name": "engine image copy per step (s)", "value": med["engine_copy"],
                   "spread": [min(r["engine_copy"]), max(r["engine_copy"])]},
                  {"name": "host image copy per step (s)", "value": med["copy"],
                   "spread": [min(r["copy"]), max(r["copy"])]},
                  {"name": "share of the step (engine + host copy; goal <= 5%)", "value": share, "spread": None}],
            note=("Dict observation, one uint8 tensor per part, each camera's read-back copied once into its "
                  "agent's slice (write_pixels_at); the engine answers after the frame drawn with physics paused "
                  "(one frame per step)"
                  + (f"; goal >= 1500 images/s: {'met' if med['python'] >= 1500 else 'not met'}"
                     if agents == 16 else ""))))
    write_render_results("pixels", metrics, args, godot.version, (load_before, load_after), SIZE, SIZE,
                         {"steps_1_agent": args.steps_1, "steps_16_agents": args.steps_16})


if __name__ == "__main__":
    main()
