"""Environment steps per second sampled through RLlib EnvRunners (GodotEnvRunner, random
actions so inference does not dominate), next to our vector env stepped directly with the same
agents in the same run. Writes bench/results/rllib.json (bench/results_schema.py).

    .venv/bin/python bench/bench_rllib.py [--repeats 5] [--agents 16] [--steps 600] [--no-save]

Ray starts its workers (the runners, and so their engines) at nice 15; the bench runs them at
``--worker-niceness`` (default 0, the direct run's), so that other jobs on a shared machine do not
slow one side only. Each repeat measures, in turn: the direct `GodotVectorEnv` (same scene, agents, CPU pinning),
one EnvRunner, two EnvRunners (sampling concurrently). An RLlib rate counts the wall time of
``sample()`` seen from the driver, so it includes sending the episodes back (object store). Also
recorded per sample batch: its pickled size (what crosses to the learner) and the runners'
start-up time (engine launch included). The driver freezes its start-up heap out of Python's
garbage collector once the runners are up, as `godot_aigym.rllib.train.built_algo` does for
training (the runners freeze theirs themselves): otherwise a full collection over ~300k objects
(300-600 ms here) lands in one sample out of a few.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python_host"))
sys.path.insert(0, str(REPO / "bench"))

from results_schema import goal, load_average, machine, metric, write_results  # noqa: E402

SCENE = "res://envs/cartpole/cartpole.tscn"
ENV = "godot_aigym/CartPole-v0"


def direct_rate(agents: int, steps: int) -> tuple[float, float]:
    """(agent-steps/s counting every step, the same counting only transitions: RLlib does not count
    the reset step that follows an episode's end under NEXT_STEP autoreset)."""
    import numpy as np

    from godot_aigym.env import GodotVectorEnv

    env = GodotVectorEnv(scene=SCENE, n_agents=agents)
    try:
        env.reset(seed=0)
        rng = np.random.default_rng(0)
        actions = rng.integers(0, 2, size=(steps, agents))
        resets = 0
        ended = np.zeros(agents, bool)
        t = time.perf_counter()
        for k in range(steps):
            _obs, _rew, term, trunc, _ = env.step(actions[k])
            resets += int(ended.sum())
            ended = term | trunc
        dt = time.perf_counter() - t
        return steps * agents / dt, (steps * agents - resets) / dt
    finally:
        env.close()


def runner_group(n_runners: int, agents: int, env_config: dict | None = None):
    from ray.rllib.env.env_runner_group import EnvRunnerGroup

    from godot_aigym.rllib.train import build_config

    config = build_config(ENV, env_runners=n_runners, agents=agents, seed=0, cpus_per_runner=0, env_config=env_config)
    t = time.perf_counter()
    group = EnvRunnerGroup(config=config, local_env_runner=False)
    group.foreach_env_runner(lambda r: r.num_envs, local_env_runner=False)  # engines up
    return group, time.perf_counter() - t


def rllib_rate(group, agents: int, steps: int) -> tuple[float, int]:
    t = time.perf_counter()
    batches = group.foreach_env_runner(lambda r: r.sample(num_timesteps=steps * agents, random_actions=True),
                                       local_env_runner=False)
    dt = time.perf_counter() - t
    total = sum(sum(len(e) for e in eps) for eps in batches)
    return total / dt, len(pickle.dumps(batches[0]))


def runner_side(group, agents: int, steps: int) -> tuple[float, int]:
    """(steps/s of sample() timed inside the runner, pickled bytes of what it returns: what
    crosses the object store), one runner."""
    def inside(r):
        t = time.perf_counter()
        eps = r.sample(num_timesteps=steps * agents, random_actions=True)
        dt = time.perf_counter() - t
        return r._godot_sampled, dt, len(pickle.dumps(eps))

    before = group.foreach_env_runner(lambda r: r._godot_sampled, local_env_runner=False)[0]
    after, dt, size = group.foreach_env_runner(inside, local_env_runner=False)[0]
    return (after - before) / dt, size


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--agents", type=int, default=16)
    p.add_argument("--steps", type=int, default=600, help="vector steps per measurement")
    p.add_argument("--runner-cpus", choices=["spread", "none"], default="spread",
                   help="engine CPUs of the runners: GodotEnvRunner's one CPU per engine, or no pinning")
    p.add_argument("--worker-niceness", type=int, default=0,
                   help="nice value of Ray's worker processes (Ray's default is 15; its runners' engines "
                        "inherit it). 0: the same priority as the direct run, so a loaded machine does not "
                        "favour the direct side")
    p.add_argument("--no-save", action="store_true")
    args = p.parse_args(argv)

    import contextlib
    import gc

    import ray

    from godot_aigym.rllib.local_ray import init_local, private_session

    load_before = load_average()
    session = contextlib.ExitStack()
    folder = session.enter_context(private_session())  # Ray's session files, removed at the end
    os.environ["RAY_worker_niceness"] = str(args.worker_niceness)  # read by the raylet it starts
    init_local(folder, num_cpus=2, log_to_driver=False)  # loopback only, no dashboard
    import godot_aigym.rllib  # noqa: F401  (registers the names before the runners start)

    try:
        groups = {}
        startup = {}
        for n in (1, 2):
            groups[n], startup[n] = runner_group(n, args.agents,
                                                 {"cpus": None} if args.runner_cpus == "none" else None)
        gc.freeze()  # as a training driver does (train.built_algo): no full collections over the start-up heap
        rates = {"direct": [], "direct_transitions": [], 1: [], 2: [], "inside": []}
        sizes, wire = [], []
        for n in (1, 2):  # warm-up: first episodes, first pickles
            rllib_rate(groups[n], args.agents, 50)
        for _ in range(args.repeats):
            every, transitions = direct_rate(args.agents, args.steps)
            rates["direct"].append(every)
            rates["direct_transitions"].append(transitions)
            for n in (1, 2):
                rate, size = rllib_rate(groups[n], args.agents, args.steps)
                rates[n].append(rate)
                sizes.append(size)
            rate, size = runner_side(groups[1], args.agents, args.steps)
            rates["inside"].append(rate)
            wire.append(size)
        for g in groups.values():
            g.stop()
    finally:
        gc.unfreeze()
        ray.shutdown()
        session.close()

    def med(v):
        return statistics.median(v)

    def spread(v):
        return [min(v), max(v)]

    direct = med(rates["direct"])
    one, two = med(rates[1]), med(rates[2])
    per_step_bytes = med(sizes) / (args.steps * args.agents)
    wire_per_step = med(wire) / (args.steps * args.agents)
    inside = med(rates["inside"])
    load_after = load_average()
    print(f"cart-pole, {args.agents} agents, random actions, steps/s (median of {args.repeats}):")
    transitions = med(rates["direct_transitions"])
    print(f"  vector env direct      {direct:12,.0f}   (counting only transitions, as RLlib: {transitions:,.0f})")
    print(f"  RLlib, 1 EnvRunner     {one:12,.0f}   {one / direct:.2f}x direct (goal >= 0.8x); "
          f"{one / transitions:.2f}x counted alike")
    print(f"  RLlib, 2 EnvRunners    {two:12,.0f}   {two / one:.2f}x one runner")
    print(f"  inside 1 runner        {inside:12,.0f}   {inside / direct:.2f}x direct (sample() timed in the runner)")
    print(f"  crossing to the driver: {med(wire) / 1e6:.2f} MB per {args.steps * args.agents} steps "
          f"({wire_per_step:.0f} B/step, arrays)")
    print(f"  as RLlib's episodes: {med(sizes) / 1e6:.2f} MB per {args.steps * args.agents} steps "
          f"({per_step_bytes:.0f} B/step)")
    print(f"  start-up: 1 runner {startup[1]:.1f} s, 2 runners {startup[2]:.1f} s; "
          f"load average {load_before} -> {load_after}")

    metrics = [
        metric("rllib_1_runner", f"RLlib sampling, 1 EnvRunner x {args.agents} agents", "steps/s", one, better="higher",
               ours_spread=spread(rates[1]), baseline_name=f"GodotVectorEnv direct, {args.agents} agents",
               baseline=direct, baseline_spread=spread(rates["direct"]),
               goal=goal(">=", 0.8, ">= 0.8x the direct vector env")),
        metric("rllib_2_runners", f"RLlib sampling, 2 EnvRunners x {args.agents} agents", "steps/s", two,
               better="higher", ours_spread=spread(rates[2]), baseline_name="1 EnvRunner", baseline=one,
               baseline_spread=spread(rates[1])),
        metric("rllib_1_runner_vs_transitions", "RLlib sampling, 1 EnvRunner, vs the direct env counted as RLlib "
               "counts (reset steps excluded)", "steps/s", one, better="higher", ours_spread=spread(rates[1]),
               baseline_name="GodotVectorEnv direct, transitions only", baseline=transitions,
               baseline_spread=spread(rates["direct_transitions"])),
        metric("runner_inside_1", "sample() timed inside the runner, 1 EnvRunner", "steps/s", inside,
               better="higher", ours_spread=spread(rates["inside"]), baseline_name="GodotVectorEnv direct",
               baseline=direct),
        metric("sample_batch_bytes_per_step", "pickled sample per env step crossing runner -> driver (arrays)", "B",
               wire_per_step, better="lower"),
        metric("episodes_bytes_per_step", "the same sample pickled as SingleAgentEpisodes (RLlib's form)", "B",
               per_step_bytes, better="lower"),
        metric("runner_startup_1", "EnvRunnerGroup start-up, 1 runner (actor + engine)", "s", startup[1],
               better="lower"),
        metric("runner_startup_2", "EnvRunnerGroup start-up, 2 runners", "s", startup[2], better="lower"),
    ]
    if not args.no_save:
        import gymnasium
        import ray as _ray

        path = write_results(
            "rllib", metrics, machine=machine(ray=_ray.__version__, gymnasium=gymnasium.__version__),
            repeats=args.repeats, spread="min-max", loaded=True,
            params={"scene": SCENE, "agents": args.agents, "steps_per_measurement": args.steps,
                    "action": "random (EnvRunner.sample(random_actions=True))",
                    "runner_cpus": args.runner_cpus, "ray_worker_niceness": args.worker_niceness},
            notes=["the machine (2 vCPUs) was shared with other jobs during the run "
                   f"(load average {load_before} before, {load_after} after)",
                   "RLlib rates are wall time of sample() seen from the driver, episodes returned included",
                   "2 runners on 2 vCPUs share the cores with the driver and the engines"],
            extra={"rates": {str(k): v for k, v in rates.items()}, "startup_s": {str(k): v for k, v in startup.items()},
                   "sample_batch_bytes": wire, "episodes_bytes": sizes})
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
