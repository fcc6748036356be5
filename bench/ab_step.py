#!/usr/bin/env python3
"""(An A/B tool, not one of `make bench`'s benchmarks: no goal, no results file.)
Step time of variants of the trivial environment in short paired windows: every variant is open
at once (each engine pinned to the CPU bench_env.py uses), and each repeat steps every variant for
one window, in an order that reverses every repeat; the note is each variant's median step time
and the median and interquartile range of its per-repeat ratio to the first variant.

On this guest (~20% steal) one-second windows of one configuration swing by 30-50%, so only
paired ratios say anything. A variant is ``name=api:n_agents:project``: api ``env`` (GodotEnv,
one agent) or ``vec`` (GodotVectorEnv, n agents in one engine); project a copy of the demo
project (e.g. the code before a change: ``cp -a demo_project /tmp/before``), empty for the demo's;
optionally ``:scene:autoreset`` after it (api ``vec``): scene ``trivial``, ``cartpole`` (its
agents follow bench_env.py's balancing rule: episodes of ~750 steps end and restart in the engine)
or ``cartpole_random`` (random actions: episodes of ~20 steps, an early policy's), autoreset
``next_step`` (the default) or ``same_step``.

    .venv/bin/python bench/ab_step.py [--repeats 20] [--seconds 0.15] \\
        before=env:1:/tmp/before after=env:1: before16=vec:16:/tmp/before after16=vec:16: \\
        next=vec:16::cartpole:next_step same=vec:16::cartpole:same_step
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python_host"))

from godot_aigym.env import GodotEnv, GodotVectorEnv  # noqa: E402

TRIVIAL = "res://envs/trivial/trivial.tscn"
CARTPOLE = "res://envs/cartpole/cartpole.tscn"


def open_variant(spec: str, cpus: set[int] | None):
    """(name, env, step function) of ``name=api:n_agents:project``."""
    name, _, rest = spec.partition("=")
    api, n, project, scene, autoreset = (rest.split(":") + ["", ""])[:5]
    n = int(n)
    if scene not in ("", "trivial", "cartpole", "cartpole_random") or ((scene or autoreset) and api != "vec"):
        raise SystemExit(f"{spec}: scene must be trivial or cartpole, and a scene or autoreset needs api vec")
    if api == "env":
        env = GodotEnv(project or None, TRIVIAL, seed=0, max_episode_steps=0, cpus=cpus)
        action = np.zeros(2, np.float32)
    elif api == "vec":
        env = GodotVectorEnv(project or None, CARTPOLE if scene[:8] == "cartpole" else TRIVIAL, n_agents=n, seed=0,
                             max_episode_steps=0, autoreset_mode=autoreset or "next_step",
                             cpus=sorted(cpus) if cpus else None)
        action = np.zeros((n, 2), np.float32)
    else:
        raise SystemExit(f"{spec}: api must be env or vec")
    obs, _ = env.reset(seed=0)
    step = env.step
    if scene == "cartpole":  # bench_env.py's balancing rule
        state = {"a": (obs[:, 2] > 0).astype(np.int64)}

        def balance():
            state["a"] = (step(state["a"])[0][:, 2] > 0).astype(np.int64)
        return name, env, balance
    if scene == "cartpole_random":  # 64 batches of random actions, in turn
        acts, k = [np.random.default_rng(j).integers(0, 2, n) for j in range(64)], [0]

        def random_step():
            k[0] = (k[0] + 1) & 63
            step(acts[k[0]])
        return name, env, random_step
    return name, env, lambda: step(action)


def window(step, seconds: float) -> float:
    """Microseconds per step over one window."""
    k, t0 = 0, time.perf_counter()
    while True:
        for _ in range(200):
            step()
        k += 200
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            return elapsed / k * 1e6


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=0.15, help="one window (default 0.15 s)")
    ap.add_argument("variants", nargs="+")
    args = ap.parse_args(argv)
    allowed = sorted(os.sched_getaffinity(0))
    cpus = {allowed[-1]} if len(allowed) >= 2 else None  # as bench_env.py places a lone engine
    variants = []
    try:
        for spec in args.variants:
            variants.append(open_variant(spec, cpus))
        for _, _, step in variants:
            window(step, 0.2)  # warm-up
        times: dict[str, list[float]] = {name: [] for name, _, _ in variants}
        for r in range(args.repeats):
            for name, _, step in (variants if r % 2 == 0 else variants[::-1]):
                times[name].append(window(step, args.seconds))
    finally:
        for _, env, _ in variants:
            env.close()
    base = variants[0][0]
    for name, us in times.items():
        ratios = [a / b for a, b in zip(us, times[base])]
        q1, _, q3 = statistics.quantiles(ratios, n=4)
        print(f"{name:12s} median {statistics.median(us):6.2f} us/step (min {min(us):.2f}, max {max(us):.2f}); "
              f"vs {base}: median {statistics.median(ratios):.3f}x, IQR {q1:.3f}-{q3:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
