#!/usr/bin/env python3
"""godot-aigym's trivial env against godot_rl_agents' (the baseline measured in the same run).

The baseline is the trivial env (4-float observation, 2-float action, reward a0 - 0.5 a1, done
at sum >= 10; demo_project/envs/trivial/trivial_env.gd) written with godot_rl_agents' Godot plugin
the way its docs have a user write one (a Sync node, an AIController3D per agent:
bench/godot_rl/README.md), stepped through its Python package's `GodotEnv` (godot-rl 0.8.2,
installed into the venv by this script when missing: `pip install --no-deps godot-rl==0.8.2`).
The same Godot binary, each side's engines placed as its users get them, the same actions:

  * theirs, with their fastest documented settings: GodotEnv's launch flags (headless with
    --disable-render-loop, --action_repeat=1, --speedup=8, --fixed-fps 60 = their `framerate`:
    8 physics ticks per frame, Godot's maximum, and no frame sleep), 1 agent and 16 agents in
    one engine, not pinned (their launcher does not pin; pinned to our engines' CPU their 16-agent
    env ran 0.90x, 0.79-1.09x, 1 agent 0.99x: quiet, 5 paired repeats); their engine is SIGSTOPped
    outside its own windows (idle, its Sync node polls the socket every 10 us and would take CPU
    from the others);
  * ours: GodotEnv (1 agent) and GodotVectorEnv (16 agents, one engine), as bench_env.py's rows
    (each engine pinned to the CPU cpus="auto" gives a lone env: bench_env.placement).

Every repeat measures all four back to back (the order reversed every other repeat); the
ratios are ours / theirs per repeat (paired), goal >= 20x (issue 11's aim). Actions: one seeded
pool of uniform [-1, 1] actions, cycled, for both sides (episodes end at sum >= 10 on both:
in the engine for theirs and our vector env, by env.reset() for our GodotEnv).

    .venv/bin/python bench/bench_godot_rl.py [--repeats 5] [--seconds 1.0] [--speedup 8] [--framerate 60]
                                             [--out PATH] [--no-save]

Results: bench/results/godot_rl.json (bench/results_schema.py).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "bench" / "godot_rl"))

from bench_env import LOADED_LOAD, TRIVIAL, Config, add_output_options  # noqa: E402
from fixture import assemble  # noqa: E402
from results_schema import goal, machine, metric, write_results  # noqa: E402

from godot_aigym.engine import GodotProcess, LaunchOptions  # noqa: E402
from godot_aigym.engine.project import ensure_imported  # noqa: E402
from godot_aigym.env.link import demo_project, prepare_project  # noqa: E402
from godot_aigym.runtime import resolve_godot  # noqa: E402

RESULTS = REPO / "bench" / "results" / "godot_rl.json"
GODOT_RL = "godot-rl==0.8.2"
GOAL = 20.0  # ours / godot_rl_agents, issue 11's aim
SPEEDUP, FRAMERATE = 8, 60  # their --speedup and `framerate` (--fixed-fps): 8 physics ticks per frame
POOL = 4096  # actions in the cycled pool


def godot_rl_env_class():
    """godot_rl's GodotEnv, installed into this interpreter's environment when missing (no deps:
    its pins, gymnasium <= 1.0 and stable-baselines3, would replace ours; GodotEnv needs neither)."""
    try:
        return importlib.import_module("godot_rl.core.godot_env").GodotEnv
    except ImportError:
        print(f"installing {GODOT_RL} (the baseline's Python side, for this benchmark only) with --no-deps", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-deps",
                        GODOT_RL], check=True)
        importlib.invalidate_caches()
        return importlib.import_module("godot_rl.core.godot_env").GodotEnv


def action_pool(n_agents: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, (POOL, n_agents, 2)).astype(np.float32)


class Ours(Config):
    """bench_env.py's configuration, stepping the shared action pool instead of zeros."""

    def step_fn(self):
        env, pool, state = self.env, action_pool(self.agents), {"i": 0}
        if self.api == "GodotEnv":
            def step():
                i = state["i"] = (state["i"] + 1) % POOL
                _, _, terminated, truncated, _ = env.step(pool[i, 0])
                if terminated or truncated:
                    env.reset()
            return step

        def step():
            i = state["i"] = (state["i"] + 1) % POOL
            env.step(pool[i])
        return step


class Theirs(Config):
    """godot_rl_agents' trivial env: their Python GodotEnv on our fixture project's scene."""

    def __init__(self, key: str, label: str, n_agents: int, env_class, project: Path, speedup: int, framerate: int):
        super().__init__(key, label, f"res://trivial_{n_agents}.tscn", "godot_rl", n_agents)
        self.env_class, self.project, self.proc = env_class, project, None
        self.speedup, self.framerate = speedup, framerate

    def open(self, project: Path, godot) -> None:
        with socket.socket() as s:  # a free port for their server socket
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        # what their GodotEnv._launch_env passes (show_window=False, framerate, action_repeat, speedup)
        flags = [f"--port={port}", "--env_seed=0", "--disable-render-loop", "--fixed-fps", str(self.framerate),
                 "--action_repeat=1", f"--speedup={self.speedup}"]
        self.proc = GodotProcess(LaunchOptions(project=self.project, scene=self.scene, engine_args=flags),
                                 godot=godot)  # not pinned, as their launcher runs it
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # their connection chatter
                self.env = self.env_class(env_path=None, port=port)  # None: connect to an engine we started
                self.env.reset()
        except (OSError, AssertionError, ValueError) as e:  # their accept() times out after 60 s
            raise RuntimeError(f"godot_rl_agents' {self.scene} did not connect ({e!r}); "
                               f"its engine's output:\n{self.proc.log_tail()}") from e
        if self.env.num_envs != self.n_agents:
            raise RuntimeError(f"{self.scene}: godot_rl reports {self.env.num_envs} agents, expected {self.n_agents}")
        self.pause(True)

    def pause(self, stopped: bool) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP if stopped else signal.SIGCONT)

    def step_fn(self):
        env, pool, state = self.env, action_pool(self.agents), {"i": 0}

        def step():
            i = state["i"] = (state["i"] + 1) % POOL
            env.step([pool[i]])  # one action head ("move"), [agent][2]
        return step

    def measure(self, seconds: float) -> float:
        self.pause(False)
        try:
            return super().measure(seconds)
        finally:
            self.pause(True)

    def close(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):  # their engine died already: still close below
            self.pause(False)
        try:
            if self.env is not None:
                with contextlib.redirect_stdout(io.StringIO()):
                    self.env.close()  # "close" message: their engine quits
                self.env = None
                self.proc.wait(timeout=30)
        finally:
            self.proc.close()
            self.proc = None


def paired(ours: Config, theirs: Config) -> list[float]:
    return [a / b for a, b in zip(ours.rates, theirs.rates)]


def run(args: argparse.Namespace) -> dict:
    env_class = godot_rl_env_class()
    godot = resolve_godot()
    ours_project = demo_project()
    prepare_project(ours_project, godot)
    theirs_project = assemble()
    ensure_imported(theirs_project, godot)
    load_before = os.getloadavg()[0]
    flags = (args.speedup, args.framerate)
    configs = [
        Theirs("godot_rl_1", "godot_rl_agents, GodotEnv, 1 agent", 1, env_class, theirs_project, *flags),
        Ours("trivial_1_env", "trivial, GodotEnv, 1 agent", TRIVIAL, "GodotEnv", 1),
        Theirs("godot_rl_16", "godot_rl_agents, GodotEnv, 16 agents", 16, env_class, theirs_project, *flags),
        Ours("trivial_16_vec", "trivial, vector env, 16 agents", TRIVIAL, "vector", 16),
    ]
    try:
        for c in configs:
            c.open(ours_project, godot)
        for rep in range(args.repeats):
            order = configs if rep % 2 == 0 else configs[::-1]
            line = [f"{c.key} {c.measure(args.seconds):,.0f}" for c in order]
            print(f"repeat {rep + 1}/{args.repeats}: " + ", ".join(line), flush=True)
    finally:
        for c in configs:
            c.close()
    by = {c.key: c for c in configs}
    metrics = []
    for ours, theirs, unit in (("trivial_1_env", "godot_rl_1", "steps/s"), ("trivial_16_vec", "godot_rl_16", "agent-steps/s")):
        o, t = by[ours], by[theirs]
        ratios = paired(o, t)
        metrics.append(metric(
            f"{ours.replace('_env', '_agent').replace('_vec', '_agents')}_vs_godot_rl", o.label, unit,
            statistics.median(o.rates), better="higher", ours_spread=(min(o.rates), max(o.rates)),
            baseline_name=t.label, baseline=statistics.median(t.rates), baseline_spread=(min(t.rates), max(t.rates)),
            goal=goal(">=", GOAL, f">= {GOAL:g}x godot_rl_agents (issue 11)"),
            note=f"paired per-repeat ratio: median {statistics.median(ratios):.1f}x, "
                 f"min-max {min(ratios):.1f}-{max(ratios):.1f}x"))
    return {"metrics": metrics, "configs": configs, "load": (load_before, os.getloadavg()[0]), "godot": godot.version}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.0, help="duration of one measurement (default 1 s)")
    ap.add_argument("--speedup", type=int, default=SPEEDUP, help=f"their --speedup (default {SPEEDUP})")
    ap.add_argument("--framerate", type=int, default=FRAMERATE, help=f"their framerate, --fixed-fps (default {FRAMERATE})")
    add_output_options(ap, RESULTS)
    args = ap.parse_args(argv)
    result = run(args)
    before, after = result["load"]
    loaded = args.loaded if args.loaded is not None else before > LOADED_LOAD
    for m in result["metrics"]:
        print(f"{m['label']}: {m['ours']:,.0f} {m['unit']} vs {m['baseline_name']} {m['baseline']:,.0f}: "
              f"{m['ratio']:.1f}x (goal >= {GOAL:g}x: {'yes' if m['goal_met'] else 'no'}; {m['note']})")
    if loaded:
        print(f"LOADED machine (1-minute load average {before:.2f} before the run): ratios are distorted")
    if not args.no_save:
        params = {"repeats": args.repeats, "seconds_per_measurement": args.seconds, "godot_rl": GODOT_RL,
                  "godot_rl_flags": {"speedup": args.speedup, "framerate (--fixed-fps)": args.framerate, "action_repeat": 1,
                                     "show_window": False},
                  "engine_cpus": "ours pinned as cpus='auto' places a lone env (bench_env.placement); theirs not pinned",
                  "actions": f"seeded pool of {POOL} uniform [-1, 1] actions, both sides",
                  "rates": {c.key: [round(r, 1) for r in c.rates] for c in result["configs"]},
                  "load_average_1min": {"before": round(before, 2), "after": round(after, 2)}}
        notes = [f"loaded: 1-minute load average {before:.2f} before the run"] if loaded else []
        out = write_results("godot_rl", result["metrics"], path=args.out or RESULTS,
                            machine=machine(numpy=np.__version__, godot=result["godot"]), repeats=args.repeats,
                            spread="min-max", params=params, loaded=loaded, notes=notes)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
