"""Environment steps per second sampled through RLlib EnvRunners (GodotEnvRunner, random
actions so inference does not dominate), next to our vector env stepped directly with the same
agents in the same run. Writes bench/results/rllib.json (bench/results_schema.py).

    .venv/bin/python bench/bench_rllib.py [--repeats 7] [--agents 16] [--steps 600] [--no-save]

Each EnvRunner samples ``--steps`` vector steps per call (``rollout_fragment_length``, the knob
an RLlib user sets: Ray's cost per call is fixed, a few ms) and is sampled as RLlib's algorithms
sample, in steady state (the first calls are warm-up):
  * synchronously, as PPO does: ``synchronous_parallel_sample(random_actions=True,
    _return_metrics=True)``, the driver waits for every runner, then receives its episodes;
  * asynchronously, as APPO/IMPALA do: ``foreach_env_runner_async`` with
    ``max_requests_in_flight_per_env_runner=2``, so a runner samples its next fragment while the
    driver receives (unpickles, builds the episodes of) the previous one.
Either way the rate is env steps in the `SingleAgentEpisode`s the driver received (what the
learner gets) per second of wall time in the driver.

The direct baseline is the same scene and agents in one `GodotVectorEnv` of this process, kept
open like a runner's, its engine pinned to the same CPU as a runner's, stepped with
``action_space.sample()`` per step like a runner's random actions. RLlib counts transitions,
not the reset step NEXT_STEP autoreset inserts after an episode's end; the direct rate is given
both ways and the ratio is taken counted alike. Measurements alternate their order every repeat.

Ray starts its workers (the runners, and so their engines) at nice 15; the bench runs them at
``--worker-niceness`` (default 0, the direct run's), so that other jobs on a shared machine do not
slow one side only. The driver freezes its start-up heap out of Python's garbage collector once
the runners are up, as `godot_aigym.rllib.train.built_algo` does for training.
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
IN_FLIGHT = 2  # asynchronous sampling: requests queued per runner


def direct_env(agents: int):
    """The baseline env: one engine with ``agents`` agents, pinned where runner 1 pins its engine."""
    from godot_aigym.env import GodotVectorEnv
    from godot_aigym.rllib.env_runner import runner_cpus

    env = GodotVectorEnv(scene=SCENE, n_agents=agents, cpus=runner_cpus(1, 1)[0])
    env.reset(seed=0)
    env.action_space.seed(0)
    return env


def direct_rate(env, steps: int) -> tuple[float, float]:
    """(agent-steps/s counting every step, the same counting only transitions)."""
    import numpy as np

    space, n = env.action_space, env.num_envs
    resets, ended = 0, np.zeros(n, bool)
    t = time.perf_counter()
    for _ in range(steps):
        _obs, _rew, term, trunc, _ = env.step(space.sample())
        resets += int(np.count_nonzero(ended))
        ended = term | trunc
    dt = time.perf_counter() - t
    return steps * n / dt, (steps * n - resets) / dt


def runner_group(n_runners: int, agents: int, steps: int, env_config: dict | None = None):
    from ray.rllib.env.env_runner_group import EnvRunnerGroup

    from godot_aigym.rllib.train import build_config

    config = build_config(ENV, env_runners=n_runners, agents=agents, seed=0, cpus_per_runner=0,
                          fragment=steps, env_config=env_config, restart_failed_env_runners=False)
    config.env_runners(max_requests_in_flight_per_env_runner=IN_FLIGHT)
    t = time.perf_counter()
    group = EnvRunnerGroup(config=config, local_env_runner=False)
    group.foreach_env_runner(lambda r: r.num_envs, local_env_runner=False)  # engines up
    return group, time.perf_counter() - t


def _steps(episodes) -> int:
    return sum(len(e) for e in episodes)


def sync_rate(group, samples: int) -> float:
    """PPO's way: every runner samples one fragment, the driver waits for all and receives them."""
    from ray.rllib.execution.rollout_ops import synchronous_parallel_sample

    n, t = 0, time.perf_counter()
    for _ in range(samples):
        episodes, _metrics = synchronous_parallel_sample(worker_set=group, random_actions=True, concat=True,
                                                         _uses_new_env_runners=True, _return_metrics=True)
        n += _steps(episodes)
    return n / (time.perf_counter() - t)


def _sample(runner):
    return runner.sample(random_actions=True), runner.get_metrics()


def async_rate(group, samples: int) -> float:
    """APPO/IMPALA's way, steady state: every runner keeps IN_FLIGHT requests queued. The clock
    starts once every runner delivered its first fragment and stops at the last of ``samples``
    more per runner; nothing is left in flight."""
    runners = group.num_healthy_remote_workers()
    target = runners * (samples + 1)
    ready = submitted = n = 0
    t = None
    while ready < target:
        while group.num_in_flight_async_reqs() < runners * IN_FLIGHT and submitted < target:
            submitted += group.foreach_env_runner_async(_sample)
        if not group.num_in_flight_async_reqs():  # a request returned an error instead of a sample
            raise RuntimeError(f"asynchronous sampling: {target - ready} of {target} requests failed")
        for _id, (episodes, _metrics) in group.fetch_ready_async_reqs(timeout_seconds=0.005):
            ready += 1
            if t is not None:
                n += _steps(episodes)
            elif ready == runners:
                t = time.perf_counter()
    dt = time.perf_counter() - t
    while group.num_in_flight_async_reqs():  # a call goes to every runner: one may have got one more
        group.fetch_ready_async_reqs(timeout_seconds=None)
    return n / dt


def runner_side(group) -> tuple[float, int]:
    """(steps/s of sample() timed inside the runner, pickled bytes of what it returns: what
    crosses the object store), one runner."""
    def inside(r):
        before = r._godot_sampled
        t = time.perf_counter()
        eps = r.sample(random_actions=True)
        dt = time.perf_counter() - t
        return (r._godot_sampled - before) / dt, len(pickle.dumps(eps))

    return group.foreach_env_runner(inside, local_env_runner=False)[0]


def measure(args, groups, env) -> dict[str, list[float]]:
    """``args.repeats`` rounds of every measurement, the order reversed every other round."""
    rates: dict[str, list[float]] = {k: [] for k in ("direct", "direct_transitions", "sync_1", "async_1", "sync_2",
                                                     "async_2", "inside")}
    wire: list[int] = []

    def direct():
        every, transitions = direct_rate(env, args.steps * args.samples)
        rates["direct"].append(every)
        rates["direct_transitions"].append(transitions)

    def inside():
        rate, size = runner_side(groups[1])
        rates["inside"].append(rate)
        wire.append(size)

    steps = [direct, inside]
    for n in (1, 2):
        steps.append(lambda n=n: rates[f"sync_{n}"].append(sync_rate(groups[n], args.samples)))
        steps.append(lambda n=n: rates[f"async_{n}"].append(async_rate(groups[n], args.samples)))
    for n in (1, 2):  # warm-up: first episodes, first pickles, first async requests
        sync_rate(groups[n], 1)
        async_rate(groups[n], 1)
    direct_rate(env, 50)
    for r in range(args.repeats):
        for step in (steps if r % 2 == 0 else steps[::-1]):
            step()
    rates["wire_bytes"] = wire
    return rates


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--agents", type=int, default=16)
    p.add_argument("--steps", type=int, default=600, help="vector steps per sample() call (rollout_fragment_length)")
    p.add_argument("--samples", type=int, default=2, help="sample() calls per runner and measurement")
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
    with contextlib.ExitStack() as session:
        folder = session.enter_context(private_session())  # Ray's session files, removed at the end
        os.environ["RAY_worker_niceness"] = str(args.worker_niceness)  # read by the raylet it starts
        init_local(folder, num_cpus=2, log_to_driver=False)  # loopback only, no dashboard
        session.callback(ray.shutdown)
        import godot_aigym.rllib  # noqa: F401  (registers the names before the runners start)

        groups, startup = {}, {}
        for n in (1, 2):
            groups[n], startup[n] = runner_group(n, args.agents, args.steps,
                                                 {"cpus": None} if args.runner_cpus == "none" else None)
            session.callback(groups[n].stop)
        env = direct_env(args.agents)
        session.callback(env.close)
        gc.freeze()  # as a training driver does (train.built_algo): no full collections over the start-up heap
        session.callback(gc.unfreeze)
        rates = measure(args, groups, env)
    report(args, rates, startup, load_before)
    return 0


def report(args, rates: dict, startup: dict, load_before) -> None:
    def med(k):
        return statistics.median(rates[k])

    def spread(k):
        return [min(rates[k]), max(rates[k])]

    direct, alike = med("direct"), med("direct_transitions")
    load_after = load_average()
    per_call = args.steps * args.agents
    wire_per_step = statistics.median(rates["wire_bytes"]) / per_call
    print(f"cart-pole, {args.agents} agents per runner, random actions, {args.steps} vector steps per sample() "
          f"call, env steps/s (median of {args.repeats}):")
    print(f"  vector env direct          {direct:10,.0f}   counting only transitions, as RLlib counts: {alike:,.0f}")
    for n in (1, 2):
        for how, label in (("sync", "synchronous (PPO)"), ("async", f"async, {IN_FLIGHT} in flight (APPO)")):
            rate = med(f"{how}_{n}")
            vs = (f"{rate / alike:.2f}x direct counted alike ({rate / direct:.2f}x all steps)" if n == 1
                  else f"{rate / med(f'{how}_1'):.2f}x one runner")
            print(f"  RLlib, {n} EnvRunner{'s' if n > 1 else ' '} {label:<28} {rate:10,.0f}   {vs}")
    inside = med("inside")
    print(f"  sample() timed inside 1 runner         {inside:10,.0f}   {inside / alike:.2f}x direct counted alike")
    print(f"  goal: 1 runner >= 0.8x direct (counted alike): synchronous {med('sync_1') / alike:.2f}x, "
          f"asynchronous {med('async_1') / alike:.2f}x")
    print(f"  crossing to the driver: {statistics.median(rates['wire_bytes']) / 1e6:.2f} MB per {per_call} steps "
          f"({wire_per_step:.0f} B/step)")
    print(f"  start-up: 1 runner {startup[1]:.1f} s, 2 runners {startup[2]:.1f} s; "
          f"load average {load_before} -> {load_after}")
    if args.no_save:
        return
    base = dict(baseline_name=f"GodotVectorEnv direct, {args.agents} agents, transitions", baseline=alike,
                baseline_spread=spread("direct_transitions"))
    target = goal(">=", 0.8, ">= 0.8x the direct vector env (counted alike)")
    metrics = [
        metric("rllib_1_runner", f"RLlib sampling, 1 EnvRunner x {args.agents} agents, synchronous (PPO: "
               "synchronous_parallel_sample)", "steps/s", med("sync_1"), better="higher",
               ours_spread=spread("sync_1"), goal=target, **base),
        metric("rllib_1_runner_async", f"RLlib sampling, 1 EnvRunner x {args.agents} agents, asynchronous "
               f"(APPO: foreach_env_runner_async, {IN_FLIGHT} requests in flight)", "steps/s", med("async_1"),
               better="higher", ours_spread=spread("async_1"), goal=target, **base),
        metric("rllib_1_runner_vs_all_steps", "RLlib sampling, 1 EnvRunner, synchronous, vs the direct env "
               "counting its reset steps too", "steps/s", med("sync_1"), better="higher",
               ours_spread=spread("sync_1"), baseline_name="GodotVectorEnv direct, every step", baseline=direct,
               baseline_spread=spread("direct")),
        metric("rllib_2_runners", f"RLlib sampling, 2 EnvRunners x {args.agents} agents, synchronous", "steps/s",
               med("sync_2"), better="higher", ours_spread=spread("sync_2"), baseline_name="1 EnvRunner",
               baseline=med("sync_1"), baseline_spread=spread("sync_1")),
        metric("rllib_2_runners_async", f"RLlib sampling, 2 EnvRunners x {args.agents} agents, asynchronous",
               "steps/s", med("async_2"), better="higher", ours_spread=spread("async_2"),
               baseline_name="1 EnvRunner, asynchronous", baseline=med("async_1"), baseline_spread=spread("async_1")),
        metric("runner_inside_1", "sample() timed inside the runner, 1 EnvRunner", "steps/s", inside,
               better="higher", ours_spread=spread("inside"), **base),
        metric("sample_batch_bytes_per_step", "pickled sample per env step crossing runner -> driver (arrays)", "B",
               wire_per_step, better="lower"),
        metric("runner_startup_1", "EnvRunnerGroup start-up, 1 runner (actor + engine)", "s", startup[1],
               better="lower"),
        metric("runner_startup_2", "EnvRunnerGroup start-up, 2 runners", "s", startup[2], better="lower"),
    ]
    import gymnasium
    import ray

    path = write_results(
        "rllib", metrics, machine=machine(ray=ray.__version__, gymnasium=gymnasium.__version__),
        repeats=args.repeats, spread="min-max", loaded=True,
        params={"scene": SCENE, "agents": args.agents, "rollout_fragment_length": args.steps,
                "samples_per_measurement": args.samples, "requests_in_flight_async": IN_FLIGHT,
                "action": "random (EnvRunner.sample(random_actions=True); direct: action_space.sample())",
                "runner_cpus": args.runner_cpus, "ray_worker_niceness": args.worker_niceness},
        notes=["the machine (2 vCPUs) was shared with other jobs during the run "
               f"(load average {load_before} before, {load_after} after)",
               "RLlib rates: env steps in the episodes the driver received per second of its wall time",
               "ratios against the direct env counted as RLlib counts (no reset steps)",
               "2 runners on 2 vCPUs share the cores with the driver and the engines"],
        extra={"rates": rates, "startup_s": {str(k): v for k, v in startup.items()}})
    print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
