#!/usr/bin/env python3
"""(An A/B tool, not one of `make bench`'s benchmarks: no goal, no results file.)
Instructions per step of the trivial environment, counted by valgrind (cachegrind, no cache
simulation): repeatable whatever the machine's load, so a cut of a few percent shows where timed
windows on a busy guest cannot see it. Each variant runs twice, for SHORT and LONG steps (or
frames); the difference over LONG - SHORT is the count per step, start-up and shutdown cancel.

    side ``engine``: the engine under valgrind (a GODOT_BIN wrapper), the host native;
    side ``host``:   the host's Python under valgrind, the engines native.

Both sides block instead of spinning (spin_us=0, engine_spin_us=0), so a wait costs the same
few instructions however long it lasts. A variant is ``name=api:n_agents[:engines][:project]``
as in ab_step.py (api ``env``, ``vec``, ``split``: the vector env stepped by ``step_async`` +
``step_wait`` as the RLlib runner steps it, or ``empty``: the empty loop's frames, engine side only),
optionally followed by ``:scene:autoreset`` (scene ``trivial``; ``cartpole``, whose agents follow
bench_env.py's balancing rule, episodes of ~750 steps; or ``cartpole_random``: random actions,
episodes of ~20 steps, an early policy's; autoreset ``next_step``, ``same_step``: the vector env's mode).
Under valgrind the engine runs ~50x slower, which inflates the empty loop's count (other threads'
spinning grows with the time a frame takes: ~115k instructions a frame against ~21.5k for a
whole 1-agent step): compare steps with steps. callgrind is unusable on this engine (its
stripped binary ran ~100x slower than cachegrind), hence cachegrind and per-function totals.

    .venv/bin/python bench/ab_instructions.py [--side engine|host] [--short 2000] [--long 12000] \\
        [--top 12] before=env:1::/tmp/before after=env:1 vec16=vec:16 \\
        next=vec:16:1::cartpole:next_step same=vec:16:1::cartpole:same_step
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python_host"))

CACHEGRIND = ("valgrind", "--tool=cachegrind", "--cache-sim=no", "--branch-sim=no", "--fair-sched=yes")
# the engine wrapper: the resolver's --version probe runs bare, an engine started for a chunk
# (--handle) or the empty loop runs under cachegrind, writing to $AIGYM_CG_OUT
WRAPPER = """#!/bin/sh
case "$*" in *--version*) exec "{godot}" "$@";; esac
case "$*" in *--handle*|*empty_loop*) exec {cachegrind} --cachegrind-out-file="$AIGYM_CG_OUT" "{godot}" "$@";; esac
exec "{godot}" "$@"
"""
# what one run does (run in a fresh interpreter: under valgrind on the host side)
RUN = """
import sys
sys.path.insert(0, {python_host!r})
import numpy as np
from godot_aigym.env import GodotEnv, GodotVectorEnv
from godot_aigym.engine import GodotProcess, LaunchOptions
from godot_aigym.env.link import demo_project
api, n, engines, project, steps = {api!r}, {n}, {engines}, {project!r} or None, {steps}
scene, autoreset = {scene!r} or "trivial", {autoreset!r} or "next_step"
kw = dict(seed=0, max_episode_steps=0, spin_us=0, engine_spin_us=0, timeout=900, step_timeout=900)
if api == "empty":
    proc = GodotProcess(LaunchOptions(project=project or demo_project(), scene="res://bench/empty_loop.tscn",
                                      fixed_fps=1000, user_args=("--frames", str(steps))))
    with proc:
        proc.wait(timeout=900)
else:
    cartpole = scene.startswith("cartpole")
    path = "res://envs/cartpole/cartpole.tscn" if cartpole else "res://envs/trivial/trivial.tscn"
    if api == "env":
        env, a = GodotEnv(project, path, **kw), np.zeros(2, np.float32)
    else:
        env = GodotVectorEnv(project, path, n_agents=n, n_engines=engines, autoreset_mode=autoreset, **kw)
        a = np.zeros((n * engines, 2), np.float32)
    obs, _ = env.reset(seed=0)
    step = env.step
    if api == "split":  # the RLlib runner's overlapped step: step_async, then step_wait
        send, wait = env.step_async, env.step_wait
        def step(a):
            send(a)
            return wait()
    if scene == "cartpole_random":  # 64 batches of random actions, in turn
        acts = [np.random.default_rng(k).integers(0, 2, n * engines) for k in range(64)]
        for k in range(steps):
            step(acts[k & 63])
    elif cartpole:  # bench_env.py's balancing rule (a vector env: its episodes restart in the engine)
        a = (obs[:, 2] > 0).astype(np.int64)
        for _ in range(steps):
            obs = step(a)[0]
            a = (obs[:, 2] > 0).astype(np.int64)
    else:
        for _ in range(steps):
            step(a)  # zero actions: the trivial scene never terminates
    env.close()
"""


def load(path: Path) -> collections.Counter:
    """Instructions per function of a cachegrind out file."""
    counts: collections.Counter = collections.Counter()
    fn = None
    with open(path) as f:
        for line in f:
            if line.startswith("fn="):
                fn = line[3:].strip()
            elif line[:1].isdigit():
                parts = line.split()
                if len(parts) >= 2:
                    counts[fn] += int(parts[1])
    return counts


def run(spec: str, side: str, steps: int, out: Path, wrapper: Path) -> collections.Counter:
    parts = spec.split(":") + [""] * 5
    api, n, engines, project, scene, autoreset = parts[0], parts[1] or "1", parts[2] or "1", *parts[3:6]
    if api not in ("env", "vec", "split", "empty") or (api == "empty" and side == "host"):
        raise SystemExit(f"{spec}: api must be env, vec or empty (empty: engine side only)")
    if scene not in ("", "trivial", "cartpole", "cartpole_random") or (scene[:8] == "cartpole" and api not in ("vec", "split")):
        raise SystemExit(f"{spec}: scene must be trivial or cartpole (cartpole: api vec or split)")
    code = RUN.format(python_host=str(REPO / "python_host"), api=api, n=int(n), engines=int(engines),
                      project=project, steps=steps, scene=scene, autoreset=autoreset)
    env = dict(os.environ)
    cmd = [sys.executable, "-c", code]
    if side == "engine":
        env.update(GODOT_BIN=str(wrapper), AIGYM_CG_OUT=str(out))
    else:  # OpenBLAS's idle threads otherwise add a count that varies by +-1.5k a step
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        cmd = [*CACHEGRIND, f"--cachegrind-out-file={out}", *cmd]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return load(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--side", choices=("engine", "host"), default="engine")
    ap.add_argument("--short", type=int, default=2000)
    ap.add_argument("--long", type=int, default=12000)
    ap.add_argument("--top", type=int, default=12, help="functions listed per variant")
    ap.add_argument("variants", nargs="+")
    args = ap.parse_args(argv)
    from godot_aigym.runtime import resolve_godot

    with tempfile.TemporaryDirectory(prefix="aigym-cg-") as tmp:
        wrapper = Path(tmp) / "godot"
        wrapper.write_text(WRAPPER.format(godot=resolve_godot().path, cachegrind=" ".join(CACHEGRIND)))
        wrapper.chmod(0o755)
        per_step = {}
        for spec in args.variants:
            name, _, rest = spec.partition("=")
            short = run(rest, args.side, args.short, Path(tmp) / f"{name}.short", wrapper)
            long = run(rest, args.side, args.long, Path(tmp) / f"{name}.long", wrapper)
            k = args.long - args.short
            diff = {fn: (long[fn] - short[fn]) / k for fn in set(short) | set(long)}
            per_step[name] = sum(diff.values())
            print(f"{name}: {per_step[name]:,.0f} instructions per step ({args.side})")
            for fn, v in sorted(diff.items(), key=lambda kv: -abs(kv[1]))[:args.top]:
                print(f"  {v:10,.1f}  {fn[:100]}")
        base = args.variants[0].partition("=")[0]
        for name, v in per_step.items():
            print(f"{name:12s} {v:10,.0f}  {v - per_step[base]:+9,.0f} vs {base} ({v / per_step[base]:.3f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
