#!/usr/bin/env python3
"""Rendering benchmark: camera images per second, in the engine and into Python, same run.

One engine renders N CameraSensor3D agents (84×84 RGB) in a low-poly unshaded 3D scene
(tests/project/render/bench_render.gd) under the host's private Xvfb, on Mesa llvmpipe:

  * in engine: frames rendered only; rendered + every camera read back (`capture`, the
    in-engine render-and-read-back rate); and + written into a uint8 shared-memory tensor;
  * into Python, lockstep: the host posts "act", the engine renders one frame, writes every
    camera into the (N, 84, 84, 3) uint8 tensor and posts "obs"; the host takes a zero-copy
    numpy view and touches it. Uses the shm API directly, not the env layer.

Goals (issue 13): into Python >= 0.9x the in-engine render-and-read-back rate; 16 agents
>= 1,500 images/s into Python. Results: a table and bench/results/render.json.

    PYTHONPATH=python_host .venv/bin/python bench/bench_render.py [--repeats 3]
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
from godot_aigym.engine import GodotProcess, LaunchOptions, ensure_imported  # noqa: E402
from godot_aigym.runtime import resolve_godot  # noqa: E402
from godot_aigym.shm import SharedMemory  # noqa: E402

PROJECT = REPO / "tests" / "project"
SCRIPT = "res://render/bench_render.gd"
W = H = 84
SAFETY_TIMEOUT = 120.0  # a wait only this long when something is broken


def _results(proc: GodotProcess) -> dict:
    out = {}
    for line in proc.log().splitlines():
        if line.startswith("RESULT "):
            item = json.loads(line[7:])
            out[item["name"]] = item["value"]
        elif line.startswith("FAIL ") or line.startswith("SCRIPT ERROR"):
            raise RuntimeError(f"bench scene failed: {line}\n{proc.log_tail()}")
    return out


def _launch(godot, display, agents: int, mode: str, frames: int, handle: str) -> GodotProcess:
    vd, support = display
    spec = {"agents": agents, "w": W, "h": H, "mode": mode, "frames": frames, "warmup": 10}
    options = rendering_launch_options(
        LaunchOptions(project=PROJECT, script=SCRIPT, handle=handle, user_args=(json.dumps(spec),)), vd, support)
    return GodotProcess(options, godot=godot)


def in_engine(godot, display, agents: int, frames: int, engines: int = 1) -> dict[str, float]:
    """images/s (summed over engines running at once): render only, + read back, + tensor write;
    and the seconds per image of the engine's one copy into the tensor (copy_s_per_image)."""
    with contextlib.ExitStack() as stack:
        procs = []
        for _ in range(engines):
            mem = stack.enter_context(SharedMemory())
            mem.newUintTensor("frames", agents * H * W * 3)
            procs.append(stack.enter_context(_launch(godot, display, agents, "engine", frames, mem.handle)))
        results = []
        for proc in procs:
            code = proc.wait(timeout=SAFETY_TIMEOUT)
            if code != 0:
                raise RuntimeError(f"in-engine bench exited with {code}:\n{proc.log_tail()}")
            results.append(_results(proc))
    images = agents * frames
    rates = {k: sum(images / res[f"{k}_s"] for res in results) for k in ("render_only", "capture", "tensor")}
    rates["copy_s_per_image"] = sum(res["copy_s"] for res in results) / (images * len(results))
    return rates


def lockstep(godot, display, agents: int, steps: int, engines: int = 1) -> float:
    """images/s into Python: post act to every engine -> each renders and writes its batch ->
    wait every obs -> look at the zero-copy views. Engines step concurrently, as a vector env does."""
    with contextlib.ExitStack() as stack:
        links = []
        for _ in range(engines):
            mem = stack.enter_context(SharedMemory())
            frames = mem.newUintTensor("frames", agents * H * W * 3)
            ctl = mem.newIntTensor("ctl", 1)
            act, obs = mem.newSemaphore("act", 0), mem.newSemaphore("obs", 0)
            proc = stack.enter_context(_launch(godot, display, agents, "lockstep", steps, mem.handle))
            mem.set_peer(proc.popen)  # a dead engine raises instead of timing out
            links.append((proc, frames, ctl, act, obs))
        for proc, _, _, _, obs in links:
            try:
                obs.wait(timeout=SAFETY_TIMEOUT)  # each engine's first frame is ready
            except Exception as e:
                raise RuntimeError(f"the lockstep engine did not start ({e}):\n{proc.log_tail()}") from None
        views = [frames.numpy().reshape(agents, H, W, 3) for _, frames, _, _, _ in links]  # zero-copy
        checksum = 0
        t0 = time.perf_counter()
        for _ in range(steps):
            for link in links:
                link[3].post()
            for link, view in zip(links, views):
                link[4].wait(timeout=SAFETY_TIMEOUT)
                checksum += int(view[-1, H // 2, W // 2, 0])  # the agents' pixels, as a policy would see them
        elapsed = time.perf_counter() - t0
        for proc, _, ctl, act, _ in links:
            ctl.write(np.array([1], np.int32))
            act.post()
        for proc, *_ in links:
            code = proc.wait(timeout=SAFETY_TIMEOUT)
            res = _results(proc)
            if code != 0 or res.get("steps") != steps:
                raise RuntimeError(f"lockstep bench: exit {code}, steps {res.get('steps')} of {steps}:\n{proc.log_tail()}")
    return engines * agents * steps / elapsed


def _loaded(*loads: float | None) -> bool | None:
    """Other jobs ran meanwhile: a load average above half the cores (the bench itself uses ~1)."""
    known = [v for v in loads if v is not None]
    return max(known) > (os.cpu_count() or 1) / 2 if known else None


def write_render_results(kind: str, metrics: list, args: argparse.Namespace, godot_version: str,
                         loads: tuple[float | None, float | None], width: int, height: int,
                         counts: dict) -> Path:
    """Writes the results of a rendering bench (RGB frames of `width` x `height` on llvmpipe under
    Xvfb) with the run's `counts` of frames or steps; says where."""
    load_before, load_after = loads
    path = write_results(
        kind, metrics, path=args.out, machine=machine(godot=godot_version), repeats=args.repeats,
        spread="min-max", loaded=_loaded(*loads),
        params={"width": width, "height": height, "channels": 3, **counts,
                "renderer": "opengl3 (compatibility) on Mesa llvmpipe, Xvfb"},
        notes=[f"load average before/after: {load_before}/{load_after} (the machine is shared)"])
    print(f"\nwrote {path}")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--frames-1", type=int, default=300, help="frames per measurement with 1 agent")
    ap.add_argument("--frames-16", type=int, default=60, help="frames per measurement with 16 agents")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    godot = resolve_godot()
    ensure_imported(PROJECT, godot)
    display = shared_display(godot)
    load_before = load_average()
    rows = {}
    try:
        for engines, agents, frames in ((1, 1, args.frames_1), (1, 16, args.frames_16), (2, 16, args.frames_16)):
            eng = [in_engine(godot, display, agents, frames, engines) for _ in range(args.repeats)]
            py = [lockstep(godot, display, agents, frames, engines) for _ in range(args.repeats)]
            rows[(engines, agents)] = {
                "render_only": [e["render_only"] for e in eng],
                "capture": [e["capture"] for e in eng],
                "tensor": [e["tensor"] for e in eng],
                "python": py,
            }
    finally:
        close_shared_display()
    load_after = load_average()

    metrics = []
    print(f"\nimages/s at {W}x{H} RGB, low-poly unshaded scene, median of {args.repeats} (min-max)")
    print(f"{'engines x agents':>16} {'render only':>12} {'render+readback':>16} {'+tensor write':>14} "
          f"{'into Python':>12} {'ratio':>6}")
    for (engines, agents), r in rows.items():
        med = {k: statistics.median(v) for k, v in r.items()}
        ratio = med["python"] / med["capture"]
        print(f"{f'{engines} x {agents}':>16} {med['render_only']:>12.0f} {med['capture']:>16.0f} "
              f"{med['tensor']:>14.0f} {med['python']:>12.0f} {ratio:>6.2f}")
        spread = {k: (min(v), max(v)) for k, v in r.items()}
        key = f"{engines}x{agents}"
        what = f"{engines} engine(s) x {agents} camera(s)"
        metrics.append(metric(
            f"render_{key}_engine", f"{what}, render + read back in engine", "images/s", med["capture"],
            better="higher", ours_spread=spread["capture"],
            also=[{"name": "render only", "value": med["render_only"], "spread": list(spread["render_only"])},
                  {"name": "+ uint8 tensor write", "value": med["tensor"], "spread": list(spread["tensor"])}],
            note="in-engine render-and-read-back rate (CameraSensor3D.capture every frame), summed over engines"))
        # the step time lockstep adds to the in-engine frame: wake-ups, the engine's copies, the view
        added = 1.0 - med["capture"] / med["python"] if med["python"] else None
        note = "lockstep through a uint8 tensor"
        if added is not None:
            note += f"; lockstep adds {added:.0%} to the in-engine step"
        if agents == 16:
            note += f"; goal >= 1500 images/s: {'met' if med['python'] >= 1500 else 'not met'}"
        metrics.append(metric(
            f"render_{key}_python", f"{what}, into Python (lockstep)", "images/s", med["python"],
            better="higher", ours_spread=spread["python"], baseline_name=f"render_{key}_engine",
            baseline=med["capture"], baseline_spread=spread["capture"],
            goal=goal(">=", 0.9, ">= 0.9x the in-engine render-and-read-back rate"), note=note))
    write_render_results("render", metrics, args, godot.version, (load_before, load_after), W, H,
                         {"frames_1_agent": args.frames_1, "frames_16_agents": args.frames_16})


if __name__ == "__main__":
    main()
