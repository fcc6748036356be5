#!/usr/bin/env python3
"""(An A/B tool, not one of `make bench`'s benchmarks: it has no goal and writes no results file.)
A/B of placement and spin variants for 2 engines x 16 agents (3 and 4: ``three*``, ``four*``)
against 1 engine x 16, in short paired windows (the tool behind docs/measurements/environments.md, "Two engines on 2 CPUs").

On a guest with ~20% steal time, one-second measurements of 1 x 16 swing 0.6M-1.3M agent-steps/s
from one second to the next, so a ratio of two such windows says little. Here every variant's
window (default 0.12 s) is paired with a window of 1 x 16 measured right before or right after it
(the order alternates, and the variants' order reverses every repeat); the note is the median and
interquartile range of the paired ratios.

The variants are alternatives the env does not offer as options (per-engine spin budgets, the
order of posts and waits, the host's own CPU mask, the step without the relay); the tool sets
them through ``placement.spin_budgets`` (wrapped while an env starts) and the env's internals
(`_posts`, `_receives`, `_relay_step`, `links`). The env's own policy is the row ``policy``.

    .venv/bin/python bench/ab_two_engines.py [--scene trivial|cartpole|both] [--repeats 12]
        [--seconds 0.12] [variant ...]       (default variants: policy e1_host_block host_cpu0 one_cpu)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python_host"))

from godot_aigym.env import GodotVectorEnv, placement  # noqa: E402
from godot_aigym.shm.relay import relay  # noqa: E402
from ab_step import window  # noqa: E402  (bench/ is the script's folder: the same timing window)
from godot_aigym.env.link import demo_project, prepare_project  # noqa: E402
from godot_aigym.runtime import resolve_godot  # noqa: E402

SCENES = {"trivial": "res://envs/trivial/trivial.tscn", "cartpole": "res://envs/cartpole/cartpole.tscn"}
SPIN = placement.PINNED_SPIN_US


@contextlib.contextmanager
def per_engine_budgets(budgets):
    """(host spin_us, engine --spin-us) for engine 0, 1, ... of the env started inside."""
    if not budgets:
        yield
        return
    queue, original = list(budgets), placement.spin_budgets

    def wrapped(*args, **kw):
        return queue.pop(0) if queue else original(*args, **kw)
    placement.spin_budgets = wrapped
    try:
        yield
    finally:
        placement.spin_budgets = original


def first_answer_gather(env):
    """The env's gather, but taking the engines' answers in the order they come (polled with
    a sched_yield between rounds) instead of engine 0 first; engine errors are not reported."""
    links = list(env.links)

    def gather():
        pending = [link._sem_obs for link in links]
        while pending:
            for sem in pending:
                if sem.try_wait():
                    pending.remove(sem)
                    break
            else:
                os.sched_yield()
        return env._gatherer.fresh(True)
    return gather


def relay_spinning_first(env):
    """The env's relay (every post and every answer's spin in one C call) with 1 us of pure spin
    before the host yields, instead of yielding at once (placement.host_yields_at_once)."""
    answers = [link.answer_semaphore for link in env.links]
    env._relay_step = relay([link.command_semaphore for link in env.links], answers, False)
    env._relay_wait = relay([], answers, False)


def no_relay(env):
    """The env as before the relay: each engine posted by its poster, each answer waited for by its receiver."""
    env._relay_step = env._relay_wait = None


class Variant:
    def __init__(self, name, about, n_engines=2, last_first=True, budgets=None, host_cpu_index=None,
                 post_order=None, wait_order=None, one_cpu=False, first_answer=False, unpinned=False,
                 hook=None):
        self.name, self.about, self.n_engines = name, about, n_engines
        self.first_answer, self.unpinned, self.hook = first_answer, unpinned, hook
        self.budgets, self.host_cpu_index = budgets, host_cpu_index
        self.post_order, self.wait_order, self.one_cpu = post_order, wait_order, one_cpu
        self.env = None
        self.rates: list[float] = []

    def open(self, project, godot, scene, allowed):
        last, first = allowed[-1], allowed[0]  # "auto": engine 0 on the last CPU, engine 1 on the first
        cpus = [[last]] if self.n_engines == 1 else [[last], [last if self.one_cpu else first]]  # k % 2 beyond
        if self.unpinned:
            cpus = None
        with per_engine_budgets(self.budgets):
            self.env = GodotVectorEnv(project, SCENES[scene], n_agents=16, n_engines=self.n_engines, seed=0,
                                      max_episode_steps=0, cpus=cpus, godot=godot)
        self.env.reset(seed=0)
        if self.hook:
            self.hook(self.env)
        if self.post_order or self.wait_order:  # orders of the posters and receivers
            no_relay(self.env)
        if self.post_order:
            self.env._posts = [self.env.links[k].post_command for k in self.post_order]
        if self.wait_order:  # the gatherer keeps its engine order: only the waits are reordered
            self.env.links = [self.env.links[k] for k in self.wait_order]
            self.env._receives = [self.env._receives[k] for k in self.wait_order]
        if self.first_answer:
            no_relay(self.env)
            self.env._gather_steps = first_answer_gather(self.env)
        self.host_cpus = None if self.host_cpu_index is None else {allowed[self.host_cpu_index]}
        actions = np.zeros((self.env.num_envs, 2), np.float32)
        env = self.env
        if env.env_spec.discrete:  # cart-pole: a cheap balancing rule keeps episodes going
            state = {"a": np.zeros(env.num_envs, np.int64)}

            def step():
                obs, *_ = env.step(state["a"])
                state["a"] = (obs[:, 2] > 0).astype(np.int64)
            self.step = step
        else:
            self.step = lambda: env.step(actions)

    def measure(self, seconds: float, warm: int = 300) -> float:
        allowed = os.sched_getaffinity(0)
        if self.host_cpus:
            os.sched_setaffinity(0, self.host_cpus)
        try:
            step = self.step
            for _ in range(warm):
                step()
            us_per_step = window(step, seconds)
        finally:
            os.sched_setaffinity(0, allowed)
        rate = 16 * self.n_engines * 1e6 / us_per_step
        self.rates.append(rate)
        return rate

    def close(self):
        if self.env is not None:
            self.env.close()
            self.env = None


def variants() -> dict[str, Variant]:
    return {v.name: v for v in (
        Variant("policy", "the env's own spin policy (every side spins and yields; 2 on 2 CPUs: the relay, "
                "yielding at once)"),
        Variant("relay_spin_first", "the relay, 1 us of pure spin before the host yields", hook=relay_spinning_first),
        Variant("no_relay", "each engine posted and waited for by its own call (before the relay)", hook=no_relay),
        Variant("e1_host_block", "engine 1 (the host's CPU) and the host's wait on it block",
                budgets=[(SPIN, SPIN), (0.0, 0)]),
        Variant("e1_block", "engine 1 blocks, the host spins", budgets=[(SPIN, SPIN), (SPIN, 0)]),
        Variant("e1_host_block_wait10", "as e1_host_block, waiting for engine 1 first",
                budgets=[(SPIN, SPIN), (0.0, 0)], wait_order=[1, 0]),
        Variant("host_cpu0", "policy, the host pinned to engine 1's CPU", host_cpu_index=0),
        Variant("host_cpu0_e1_block", "the host pinned to engine 1's CPU, engine 1 blocks",
                budgets=[(SPIN, SPIN), (SPIN, 0)], host_cpu_index=0),
        Variant("post10", "policy, engine 1 posted first", post_order=[1, 0]),
        Variant("wait10", "policy, engine 1 waited for first", wait_order=[1, 0]),
        Variant("first_answer", "policy, each engine's answer taken as it comes (polled), not engine 0 first",
                first_answer=True),
        Variant("host_block_e1_first", "the host blocks on engine 1 (its CPU's) first, then spins on engine 0; "
                "engines spin", budgets=[(SPIN, SPIN), (0.0, SPIN)], wait_order=[1, 0]),
        Variant("host_block", "the host blocks on both engines' answers (no spin); engines spin",
                budgets=[(0.0, SPIN), (0.0, SPIN)]),
        Variant("unpinned", "no pinning at all (the kernel places engines and host), spin policy of unpinned "
                "engines", unpinned=True),
        Variant("one_cpu", "both engines on the last CPU, the host pinned to the first", one_cpu=True,
                host_cpu_index=0),
        Variant("three", "3 engines (2 on the last CPU, 1 on the first) x 16, the policy", n_engines=3),
        Variant("three_no_relay", "3 engines x 16, a poster and a receiver per engine", n_engines=3, hook=no_relay),
        Variant("four", "4 engines (2 per CPU) x 16, the policy", n_engines=4),
        Variant("four_no_relay", "4 engines x 16, a poster and a receiver per engine", n_engines=4, hook=no_relay),
    )}


def run_scene(scene, names, args, project, godot) -> list[str]:
    allowed = sorted(os.sched_getaffinity(0))
    base = Variant("1x16", "one engine x 16", n_engines=1)
    table = variants()
    chosen = [table[n] for n in names]
    lines = []
    try:
        for v in [base] + chosen:
            v.open(project, godot, scene, allowed)
        pairs = {v.name: [] for v in chosen}
        for rep in range(args.repeats):
            for v in (chosen if rep % 2 == 0 else chosen[::-1]):
                if rep % 4 < 2:
                    b, x = base.measure(args.seconds), v.measure(args.seconds)
                else:
                    x, b = v.measure(args.seconds), base.measure(args.seconds)
                pairs[v.name].append(x / b)
    finally:
        for v in [base] + chosen:
            v.close()
    lines.append(f"{scene}: 1 x 16 median {statistics.median(base.rates) / 1e3:.0f}k agent-steps/s "
                 f"(min-max {min(base.rates) / 1e3:.0f}k-{max(base.rates) / 1e3:.0f}k)")
    for v in chosen:
        q = sorted(pairs[v.name])
        lines.append(f"  {v.name:22s} {v.n_engines}x16 vs 1x16 paired median {statistics.median(q):.2f}x "
                     f"(IQR {q[len(q) // 4]:.2f}-{q[3 * len(q) // 4]:.2f}, n={len(q)})  {v.about}")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scene", choices=("trivial", "cartpole", "both"), default="both")
    ap.add_argument("--repeats", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=0.12, help="one window (default 0.12 s)")
    ap.add_argument("variants", nargs="*", help=f"any of {', '.join(variants())}; "
                    "default: policy e1_host_block host_cpu0 one_cpu")
    args = ap.parse_args(argv)
    names = args.variants or ["policy", "e1_host_block", "host_cpu0", "one_cpu"]
    unknown = [n for n in names if n not in variants()]
    if unknown:
        ap.error(f"unknown variants {unknown}: choose from {', '.join(variants())}")
    if len(os.sched_getaffinity(0)) < 2:
        print("needs at least 2 usable CPUs")
        return 1
    godot = resolve_godot()
    project = demo_project()
    prepare_project(project, godot)
    for scene in (("trivial", "cartpole") if args.scene == "both" else (args.scene,)):
        print("\n".join(run_scene(scene, names, args, project, godot)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
