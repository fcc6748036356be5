#!/usr/bin/env python3
"""Two host processes on one machine, each a GodotVectorEnv of 1 engine x 16 agents with
cpus="auto", stepping at the same time: their agent-steps/s in all, with the machine-wide
placement records (godot_aigym.env.placement_registry) and without them (each host sees only
its own engines, as before 2026-11-30 09:00 UTC: both engines on the last CPU).

Every repeat starts both modes' hosts afresh, in turn (paired); the note gives the median and
min-max of the per-repeat ratios. Trivial scene and cart-pole.

    .venv/bin/python bench/bench_placement.py [--repeats 3] [--seconds 0.7] [--out PATH]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python_host"))

SCENES = {"trivial": "res://envs/trivial/trivial.tscn", "cartpole": "res://envs/cartpole/cartpole.tscn"}
MODES = ("registry", "own_engines_only")


def host(i: int, scene: str, mode: str, seconds: float, barrier, results) -> None:
    """One host: start its env after host i-1 did (so "auto" sees it), then step with the other."""
    import numpy as np

    from godot_aigym.env import GodotVectorEnv, placement
    if mode == "own_engines_only":
        placement.foreign_engines = lambda: []
    env = None
    try:
        for k in range(2):
            if k == i:
                env = GodotVectorEnv(None, SCENES[scene], n_agents=16, seed=i, max_episode_steps=0)
                env.reset(seed=i)
            barrier.wait()
        act = np.zeros(16, np.int64) if env.env_spec.discrete else np.zeros((16, 2), np.float32)
        for _ in range(500):
            env.step(act)
        barrier.wait()
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            for _ in range(100):
                env.step(act)
            n += 100
        link = env.links[0]
        results.put((i, n * 16 / (time.perf_counter() - t0), sorted(link.cpus or []), link.spin_us, link.engine_spin_us))
        barrier.wait()
    finally:
        if env is not None:
            env.close()


def one_run(scene: str, mode: str, seconds: float) -> tuple[float, list]:
    ctx = mp.get_context("spawn")  # a fresh interpreter per host, as two training processes are
    barrier, results = ctx.Barrier(2, timeout=300), ctx.Queue()
    procs = [ctx.Process(target=host, args=(i, scene, mode, seconds, barrier, results)) for i in range(2)]
    for p in procs:
        p.start()
    got = sorted(results.get(timeout=300) for _ in procs)
    for p in procs:
        p.join()
    return sum(g[1] for g in got), [g[2:] for g in got]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=0.7)
    ap.add_argument("--out", type=Path, help="also write the results as JSON there")
    args = ap.parse_args(argv)
    out: dict = {}
    for scene in SCENES:
        totals: dict[str, list[float]] = {m: [] for m in MODES}
        for rep in range(args.repeats):
            for mode in MODES:
                total, placed = one_run(scene, mode, args.seconds)
                totals[mode].append(total)
                if rep == 0:
                    print(f"{scene} {mode}: (engine CPUs, host spin_us, engine spin_us) per host {placed}", flush=True)
        ratios = [a / b for a, b in zip(totals[MODES[0]], totals[MODES[1]])]
        for mode in MODES:
            v = totals[mode]
            print(f"{scene:8s} {mode:16s} {statistics.median(v):>9,.0f} agent-steps/s in all "
                  f"({min(v):,.0f}-{max(v):,.0f})")
        print(f"{scene:8s} paired ratio registry / own engines only: median {statistics.median(ratios):.2f}x, "
              f"min-max {min(ratios):.2f}-{max(ratios):.2f}x", flush=True)
        out[scene] = {"totals": totals, "paired_ratios": ratios}
    if args.out:
        import json
        args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "repeats": args.repeats,
                                        "seconds": args.seconds, "results": out}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
