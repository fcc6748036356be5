#!/usr/bin/env python3
"""Environment step rates of godot-aigym, next to an empty headless Godot scene, from one run.

Measured (raw loops: no gymnasium wrappers, no policy; every repeat runs each config in turn):

  * empty loop: demo_project/bench/empty_loop.tscn with --fixed-fps, frames timed inside Godot
    with Time.get_ticks_usec() -- the engine's own frame rate, the ceiling of one step per frame;
    the same binary, engine flags and CPU as our engines (only the scene and the user arguments
    differ); in every repeat half its frames run before the configurations and half after, and
    the repeat's rate is all frames over both times, so drift during the repeat is in both sides;
  * the trivial environment (4-float observation, 2-float action, no physics) and the demo
    cart-pole (Godot 2D physics: two rigid bodies and two joints per agent), each through
    GodotEnv.step (1 agent) and GodotVectorEnv.step with 1 and 16 agents in one engine
    (plus 2 engines x 16 agents), in agent steps per second.

Two engines x 16 agents vs one engine x 16, trivial env and cart-pole, interleaved in every
repeat: goals >= 1.0x (trivial) and >= 1.5x (cart-pole) with the spin policy of
godot_aigym.env.placement.spin_budgets (issue 10: on 2 CPUs every side spins and yields); the note gives the median and min-max of the
per-repeat (paired) ratios, steadier than a ratio of medians on a busy machine.
``--scaling-only`` runs just those four configurations (quick, many repeats).

Goals (issue 11): 1 agent (trivial env, GodotEnv) >= 0.6x the empty-loop frame rate; 16 agents
>= 12x the 1-agent agent-steps/s (godot_rl_agents, measured in the same run: bench_godot_rl.py).
The notes of the step-goal rows give the median and min-max of the per-repeat (paired) ratios:
the empty loop and each env are measured back to back in every repeat, so drift of the machine
cancels.
The machine may be shared: compare ratios within one run, never absolute numbers across runs.
``--fit`` runs the trivial vector env with 1, 2, 4, 8, 16 and 32 agents in one engine and fits the
step time F + n*a (fixed cost F, per-agent cost a): 16 agents reach 12x one agent only when
F >= 44a.
Results: a rich table and bench/results/env.json (per metric: ours, baseline, ratio, goal, pass).

    .venv/bin/python bench/bench_env.py [--repeats 5] [--seconds 1.0] [--scaling-only | --step-goals | --fit] [--out PATH]

A run is marked ``loaded`` in the results when the 1-minute load average before it was above
LOADED_LOAD (other jobs were running: absolute numbers mean little and ratios are distorted);
``--quiet`` / ``--loaded`` override that guess.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python_host"))
sys.path.insert(0, str(REPO / "bench"))

from results_schema import machine, metrics_from_value_table, write_results  # noqa: E402

from godot_aigym.engine import GodotProcess, LaunchOptions  # noqa: E402
from godot_aigym.env import GodotEnv, GodotVectorEnv  # noqa: E402
from godot_aigym.env.link import demo_project, prepare_project, project_physics_fps  # noqa: E402
from godot_aigym.env.placement import spin_budgets  # noqa: E402
from godot_aigym.runtime import resolve_godot  # noqa: E402

RESULTS = REPO / "bench" / "results" / "env.json"
TRIVIAL = "res://envs/trivial/trivial.tscn"
CARTPOLE = "res://envs/cartpole/cartpole.tscn"
EMPTY = "res://bench/empty_loop.tscn"
TWO_ENGINE_GOALS = {"trivial": 1.0, "cartpole": 1.5}  # 2 engines x 16 vs 1 engine x 16 (issue 10)
FIT_AGENTS = (1, 2, 4, 8, 16, 32)  # --fit: agents of one engine
LOADED_LOAD = 0.5  # 1-minute load average before the run above which it counts as loaded


def placement(k: int) -> set[int] | None:
    """The CPU of engine k in every configuration (what cpus="auto" picks for a lone env)."""
    allowed = sorted(os.sched_getaffinity(0))
    return {allowed[-1 - k % len(allowed)]} if len(allowed) >= 2 else None


def policy_budgets(n_engines: int) -> list[list]:
    """(host spin_us, engine --spin-us) of each engine under the spin policy (the same for each)."""
    return [list(spin_budgets(n_engines, placement(0) is not None)) for _ in range(n_engines)]


def empty_loop_fps(project: Path, godot, frames: int, fps: int) -> float:
    cpus = placement(0)  # the same CPU as the environments' (first) engine
    proc = GodotProcess(LaunchOptions(project=project, scene=EMPTY, fixed_fps=fps,
                                      user_args=("--frames", str(frames))), godot=godot, cpus=cpus)
    with proc:
        code = proc.wait(timeout=120)
        log = proc.log()
    for line in log.splitlines():
        if line.startswith("AIGYM_EMPTY_LOOP "):
            return float(json.loads(line[len("AIGYM_EMPTY_LOOP "):])["fps"])
    raise RuntimeError(f"empty loop printed no result (exit {code}):\n{log[-2000:]}")


class Config:
    """One environment set-up and its raw step loop."""

    def __init__(self, key: str, label: str, scene: str, api: str, n_agents: int, n_engines: int = 1):
        self.key, self.label, self.scene, self.api = key, label, scene, api
        self.n_agents, self.n_engines = n_agents, n_engines
        self.env = None
        self.rates: list[float] = []

    @property
    def agents(self) -> int:
        return self.n_agents * self.n_engines

    def open(self, project: Path, godot) -> None:
        # max_episode_steps=0: no truncation, so the trivial loop never resets; the cart-pole's
        # episodes end (and restart) naturally, inside the engine for the vector env.
        # all configurations stay open during the run: place them explicitly, as each would be alone
        cpus = [placement(k) for k in range(self.n_engines)]
        if self.api == "GodotEnv":
            self.env = GodotEnv(project, self.scene, seed=0, max_episode_steps=0, cpus=cpus[0], godot=godot)
        else:
            self.env = GodotVectorEnv(project, self.scene, n_agents=self.n_agents, n_engines=self.n_engines,
                                      seed=0, max_episode_steps=0, cpus=[sorted(c) for c in cpus] if cpus[0] else None,
                                      godot=godot)
        self.env.reset(seed=0)

    def step_fn(self):
        env = self.env
        discrete = env.env_spec.discrete
        if self.api == "GodotEnv":
            if discrete:  # a cheap balancing rule keeps cart-pole episodes going
                state = {"a": 0}

                def step():
                    obs, _, terminated, truncated, _ = env.step(state["a"])
                    state["a"] = 1 if obs[2] > 0 else 0
                    if terminated or truncated:
                        env.reset()
                return step
            action = np.zeros(2, np.float32)

            def step():
                _, _, terminated, truncated, _ = env.step(action)
                if terminated or truncated:
                    env.reset()
            return step
        if discrete:
            state = {"a": np.zeros(self.agents, np.int64)}

            def step():
                obs, *_ = env.step(state["a"])
                state["a"] = (obs[:, 2] > 0).astype(np.int64)
            return step
        actions = np.zeros((self.agents, 2), np.float32)
        return lambda: env.step(actions)

    def measure(self, seconds: float) -> float:
        step = self.step_fn()
        for _ in range(2000):  # warm-up
            step()
        n, batch = 0, 500
        t0 = time.perf_counter()
        while True:
            for _ in range(batch):
                step()
            n += batch
            elapsed = time.perf_counter() - t0
            if elapsed >= seconds:
                break
        rate = n * self.agents / elapsed
        self.rates.append(rate)
        return rate

    def close(self) -> None:
        if self.env is not None:
            self.env.close()
            self.env = None


def median_spread(values: list[float]) -> tuple[float, list[float]]:
    return statistics.median(values), [min(values), max(values)]


def paired_ratios(ours: Config, base: Config | list[float]) -> list[float]:
    """ours / base within each repeat (both measured back to back)."""
    return [a / b for a, b in zip(ours.rates, base if isinstance(base, list) else base.rates)]


def paired_note(ours: Config, base: Config | list[float]) -> str:
    med, (lo, hi) = median_spread(paired_ratios(ours, base))
    return f"paired per-repeat ratio: median {med:.2f}x, min-max {lo:.2f}-{hi:.2f}x"


def fit_step_cost(configs: list[Config]) -> dict:
    """Least-squares F + n*a over the median step times (us) of one engine with n agents."""
    n = np.array([c.n_agents for c in configs], float)
    us = np.array([1e6 * c.n_agents / statistics.median(c.rates) for c in configs])
    a, f = np.polyfit(n, us, 1)
    return {"F_us": round(float(f), 2), "a_us_per_agent": round(float(a), 3),
            "step_us": {int(k): round(float(t), 2) for k, t in zip(n, us)},
            "predicted_16_vs_1": round(float(16 * (f + a) / (f + 16 * a)), 2), "needed_for_12x": "F >= 44a"}


def run(args: argparse.Namespace) -> dict:
    godot = resolve_godot()
    project = demo_project()
    prepare_project(project, godot)
    fps = project_physics_fps(project)
    load_before = os.getloadavg()[0]
    configs = [
        Config("trivial_1_env", "trivial, GodotEnv, 1 agent", TRIVIAL, "GodotEnv", 1),
        Config("trivial_1_vec", "trivial, vector env, 1 agent", TRIVIAL, "vector", 1),
        Config("trivial_16_vec", "trivial, vector env, 16 agents", TRIVIAL, "vector", 16),
        Config("trivial_2x16_vec", "trivial, vector env, 2 engines x 16", TRIVIAL, "vector", 16, 2),
        Config("cartpole_1_env", "cart-pole, GodotEnv, 1 agent", CARTPOLE, "GodotEnv", 1),
        Config("cartpole_1_vec", "cart-pole, vector env, 1 agent", CARTPOLE, "vector", 1),
        Config("cartpole_16_vec", "cart-pole, vector env, 16 agents", CARTPOLE, "vector", 16),
        Config("cartpole_2x16_vec", "cart-pole, vector env, 2 engines x 16", CARTPOLE, "vector", 16, 2),
    ]
    if args.scaling_only:
        configs = [c for c in configs if c.n_agents == 16]
    if args.step_goals:  # issue 11's step goals only: the trivial env's 1-agent and 16-agent rows
        configs = [c for c in configs if c.key in ("trivial_1_env", "trivial_1_vec", "trivial_16_vec")]
    if args.fit:  # the trivial env's step time against the agents of one engine
        configs = [Config(f"trivial_{n}_fit", f"trivial, vector env, {n} agents", TRIVIAL, "vector", n)
                   for n in FIT_AGENTS]
    empty: list[float] = []
    try:
        for c in configs:
            c.open(project, godot)
        with_empty = not (args.scaling_only or args.fit)
        for rep in range(args.repeats):
            line = []
            before = empty_loop_fps(project, godot, args.frames // 2, fps) if with_empty else 0.0
            for c in configs:
                line.append(f"{c.key} {c.measure(args.seconds):,.0f}")
            if with_empty:  # half the frames before the configs, half after: the repeat's drift in both
                after = empty_loop_fps(project, godot, args.frames - args.frames // 2, fps)
                empty.append(args.frames / ((args.frames // 2) / before + (args.frames - args.frames // 2) / after))
                line.insert(0, f"empty {empty[-1]:,.0f} fps ({before:,.0f} before, {after:,.0f} after)")
            print(f"repeat {rep + 1}/{args.repeats}: " + ", ".join(line), flush=True)
    finally:
        for c in configs:
            c.close()

    by = {c.key: c for c in configs}
    metrics: dict[str, dict] = {}

    def add(key, label, values, unit, baseline=None, baseline_value=None, goal=None, note=""):
        value, spread = median_spread(values)
        ratio = value / baseline_value if baseline_value else None
        metrics[key] = {"label": label, "value": round(value, 1), "unit": unit, "spread": [round(s, 1) for s in spread],
                        "baseline": baseline, "baseline_value": round(baseline_value, 1) if baseline_value else None,
                        "ratio": round(ratio, 3) if ratio is not None else None, "goal": goal,
                        "goal_met": (ratio >= goal) if (goal is not None and ratio is not None) else None,
                        "note": note}

    load_after = os.getloadavg()[0]
    fit = fit_step_cost(configs) if args.fit else None
    for c in configs if args.fit else ():
        add(f"{c.key}_agents", c.label, c.rates, "agent-steps/s", note=f"fit over {FIT_AGENTS}: {fit}")
    for env in ("trivial",) if args.step_goals else ("trivial", "cartpole") if not (args.scaling_only or args.fit) else ():
        if env == "trivial":
            empty_med = statistics.median(empty)
            add("empty_loop_fps", "empty headless scene", empty, "frames/s", note=f"--fixed-fps {fps}, timed in Godot")
        one_env, one_vec, sixteen = by[f"{env}_1_env"], by[f"{env}_1_vec"], by[f"{env}_16_vec"]
        add(f"{env}_1_agent_godotenv", one_env.label, one_env.rates, "steps/s", "empty loop frame rate", empty_med,
            0.6 if env == "trivial" else None, note=paired_note(one_env, empty))
        add(f"{env}_1_agent_vector", one_vec.label, one_vec.rates, "agent-steps/s", "empty loop frame rate", empty_med)
        add(f"{env}_16_agents_vs_1", sixteen.label, sixteen.rates, "agent-steps/s",
            "same API, 1 agent", statistics.median(one_vec.rates), 12.0, note=paired_note(sixteen, one_vec))
        add(f"{env}_16_agents_vs_godotenv", sixteen.label, sixteen.rates, "agent-steps/s",
            "GodotEnv, 1 agent", statistics.median(one_env.rates))
    ratios: dict[str, list[float]] = {}
    for env in ("trivial", "cartpole"):
        sixteen = by.get(f"{env}_16_vec")
        two = by.get(f"{env}_2x16_vec")
        if sixteen is None or two is None:
            continue
        ratios[f"{env}_2x16"] = paired_ratios(two, sixteen)
        med, (lo, hi) = median_spread(ratios[f"{env}_2x16"])
        add(f"{env}_2x16_agents", two.label, two.rates, "agent-steps/s", "1 engine x 16 agents",
            statistics.median(sixteen.rates), TWO_ENGINE_GOALS[env],
            note=f"paired per-repeat ratio: median {med:.2f}x, min-max {lo:.2f}-{hi:.2f}x; "
                 f"spin {{'policy (host, engine) per engine': {policy_budgets(2)}}}")
    usable = len(os.sched_getaffinity(0))
    return {
        "schema": 1,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "numpy": np.__version__, "godot": godot.version},
        "params": {"repeats": args.repeats, "seconds_per_measurement": args.seconds, "empty_loop_frames": args.frames,
                   "fixed_fps": fps, "engine_cpus": "auto (each engine pinned to one CPU)",
                   "usable_cpus": usable, "scaling_only": args.scaling_only, "step_goals": args.step_goals,
                   "fit": fit,
                   "spin_policy": {f"{n}_engines": policy_budgets(n) for n in (1, 2)},
                   "load_average_1min": {"before": round(load_before, 2), "after": round(load_after, 2)},
                   "paired_2x16_ratios": {env: [round(r, 3) for r in rs] for env, rs in ratios.items()}},
        "metrics": metrics,
    }


def report(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"godot-aigym environment steps ({result['machine']['cpus']} CPUs, Godot "
                  f"{result['machine']['godot']}, median of {result['params']['repeats']} repeats)")
    for col, justify in (("metric", "left"), ("ours", "right"), ("spread", "right"), ("baseline", "left"),
                         ("baseline value", "right"), ("ratio", "right"), ("goal", "right"), ("pass", "center")):
        table.add_column(col, justify=justify)
    for m in result["metrics"].values():
        ok = m["goal_met"]
        table.add_row(m["label"], f"{m['value']:,.0f} {m['unit']}", f"{m['spread'][0]:,.0f}-{m['spread'][1]:,.0f}",
                      m["baseline"] or "", f"{m['baseline_value']:,.0f}" if m["baseline_value"] else "",
                      f"{m['ratio']:.2f}x" if m["ratio"] is not None else "",
                      f">= {m['goal']:g}x" if m["goal"] is not None else "",
                      "" if ok is None else ("[green]yes[/]" if ok else "[red]no[/]"))
    Console(width=170).print(table)


def add_output_options(ap: argparse.ArgumentParser, results: Path) -> None:
    """--out, --no-save and --loaded / --quiet (bench_godot_rl.py's too)."""
    ap.add_argument("--out", type=Path, help=f"results file (default {results.relative_to(REPO)})")
    ap.add_argument("--no-save", action="store_true", help="do not write the results file")
    busy = ap.add_mutually_exclusive_group()
    busy.add_argument("--loaded", dest="loaded", action="store_true", default=None, help="mark the run loaded")
    busy.add_argument("--quiet", dest="loaded", action="store_false", help="mark the run as on a quiet machine")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.0, help="duration of one measurement (default 1 s)")
    ap.add_argument("--frames", type=int, default=300_000, help="frames of the empty loop (default 300k)")
    ap.add_argument("--scaling-only", action="store_true",
                    help="only 1 engine x 16 vs 2 engines x 16 (trivial, cart-pole); saved only with --out")
    ap.add_argument("--step-goals", action="store_true",
                    help="only the empty loop and the trivial env's 1 x GodotEnv, 1 x and 16 x vector rows (issue 11's "
                         "step goals, ~25 s); saved only with --out")
    ap.add_argument("--fit", action="store_true",
                    help=f"only the trivial vector env with {FIT_AGENTS} agents in one engine: fits the step time "
                         "F + n*a (~25 s); saved only with --out")
    add_output_options(ap, RESULTS)
    args = ap.parse_args(argv)
    result = run(args)
    before = result["params"]["load_average_1min"]["before"]
    loaded = args.loaded if args.loaded is not None else before > LOADED_LOAD
    report(result)
    if loaded:
        print(f"LOADED machine (1-minute load average {before} before the run): absolute numbers mean little, "
              "ratios are distorted")
    if result["params"]["fit"]:
        print(f"step time fit: {result['params']['fit']}")
    out = args.out or (None if args.scaling_only or args.step_goals or args.fit else RESULTS)
    if not args.no_save and out is not None:  # bench/results_schema.py; goals here are ratio >= goal
        notes = [f"loaded: 1-minute load average {before} before, {result['params']['load_average_1min']['after']} "
                 "after the run (other jobs ran meanwhile)"] if loaded else []
        write_results("env", metrics_from_value_table(result["metrics"], numeric_goal_op=">="), path=out,
                      machine=machine(numpy=np.__version__, godot=result["machine"]["godot"]),
                      repeats=args.repeats, spread="min-max", params=result["params"], loaded=loaded, notes=notes)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
