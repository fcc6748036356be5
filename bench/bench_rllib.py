"""Environment steps per second sampled through RLlib EnvRunners (GodotEnvRunner, random
actions so inference does not dominate), next to our vector env stepped directly with the same
agents in the same run. Writes bench/results/rllib.json (bench/results_schema.py).

    .venv/bin/python bench/bench_rllib.py [--repeats 7] [--agents 16] [--long-steps 600] [--no-save]

The runners are built by `godot_aigym.rllib.train.build_config` with its defaults, as a user's
PPO gets them, and sampled as RLlib's algorithms sample, in steady state (warm-up calls first):
  * **PPO** (the goal): `synchronous_parallel_sample(max_env_steps=total_train_batch_size,
    _return_metrics=True)` then the driver's `MetricsLogger.aggregate` of the runners' metrics,
    as `PPO.training_step` does, at build_config's own sample size (``rollout_fragment_length``
    16 x 16 agents = 256 env steps per runner and call);
  * **long fragments**: the same call with ``--long-steps`` vector steps per runner and call
    (what ``build_config(fragment=600)`` would ask), synchronously, and asynchronously as
    APPO/IMPALA do (``foreach_env_runner_async``, 2 requests in flight per runner, so a runner
    samples its next fragment while the driver receives the previous one).
Every rate is env steps in the `SingleAgentEpisode`s the driver received (what the learner
gets) per second of the driver's wall time. ``sample()`` is also timed inside the runner.

The direct baseline is the same scene and agents in one `GodotVectorEnv` of this process, kept
open like a runner's, its engine pinned to the CPU runner 1 pins its engine to and given the same
spin budgets as that engine got (`placement.spin_budgets` decides them from the engines already
running when an engine starts, so the one started later would otherwise differ), stepped with
``action_space.sample()`` per step like a runner's random actions. RLlib counts transitions, not
the reset step NEXT_STEP autoreset inserts after an episode's end; the direct rate is given both
ways and ratios are taken counted alike. Each round measures everything once, in an order
reversed every other round; a ratio is taken within each round (direct and RLlib a few seconds
apart) and the median over rounds is reported with its min-max.

Ray's workers run at Ray's own niceness (15) unless ``--worker-niceness`` says otherwise; the
driver freezes its start-up heap out of Python's garbage collector once the runners are up, as
`godot_aigym.rllib.train.built_algo` does for training.
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
KINDS = ("ppo_1", "long_1", "async_1", "ppo_2", "long_2", "async_2")


def direct_env(agents: int, spin: tuple):
    """The baseline env: one engine with ``agents`` agents, pinned where runner 1 pins its
    engine, with the spin budgets ``spin`` (host, engine) that runner's engine got."""
    from godot_aigym.env import GodotVectorEnv
    from godot_aigym.rllib.env_runner import runner_cpus

    env = GodotVectorEnv(scene=SCENE, n_agents=agents, cpus=runner_cpus(1, 1)[0], spin_us=spin[0],
                         engine_spin_us=spin[1])
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


def runner_group(n_runners: int, agents: int, env_config: dict | None = None):
    """``n_runners`` GodotEnvRunners as build_config makes them (its default sample size)."""
    from ray.rllib.env.env_runner_group import EnvRunnerGroup

    from godot_aigym.rllib.train import build_config

    config = build_config(ENV, env_runners=n_runners, agents=agents, seed=0, cpus_per_runner=0,
                          env_config=env_config, restart_failed_env_runners=False)
    config.env_runners(max_requests_in_flight_per_env_runner=IN_FLIGHT)  # APPO's; PPO's calls are synchronous
    t = time.perf_counter()
    group = EnvRunnerGroup(config=config, local_env_runner=False)
    group.foreach_env_runner(lambda r: r.num_envs, local_env_runner=False)  # engines up
    return group, config, time.perf_counter() - t


def _steps(episodes) -> int:
    return sum(len(e) for e in episodes)


def ppo_rate(group, config, logger, min_steps: int) -> float:
    """PPO.training_step's sampling: synchronous_parallel_sample of one train batch, then the
    runners' metrics aggregated into the algorithm's logger; repeated until ``min_steps``."""
    from ray.rllib.execution.rollout_ops import synchronous_parallel_sample

    n, t = 0, time.perf_counter()
    while n < min_steps:
        episodes, metrics = synchronous_parallel_sample(
            worker_set=group, max_env_steps=config.total_train_batch_size, sample_timeout_s=config.sample_timeout_s,
            random_actions=True, _uses_new_env_runners=True, _return_metrics=True)
        logger.aggregate(metrics, key="env_runners")
        n += _steps(episodes)
    return n / (time.perf_counter() - t)


def sample_call(steps: int):
    """What a runner does for one long-fragment call: ``steps`` env steps of random actions, then
    its metrics (what RLlib's algorithms ask for with each sample)."""
    def sample(runner):
        return runner.sample(num_timesteps=steps, random_actions=True), runner.get_metrics()

    return sample


def long_rate(group, config, logger, steps: int, samples: int) -> float:
    """The same with ``steps`` env steps per runner and call (what synchronous_parallel_sample
    does for a config with that rollout_fragment_length)."""
    n, t = 0, time.perf_counter()
    for _ in range(samples):
        out = group.foreach_env_runner(sample_call(steps), local_env_runner=False, timeout_seconds=config.sample_timeout_s)
        logger.aggregate([m for _e, m in out], key="env_runners")
        n += sum(_steps(e) for e, _m in out)
    return n / (time.perf_counter() - t)


def async_rate(group, logger, steps: int, samples: int) -> float:
    """APPO/IMPALA's way, steady state: every runner keeps IN_FLIGHT requests queued. The clock
    starts once every runner delivered its first fragment and stops at the last of ``samples``
    more per runner; nothing is left in flight."""
    sample = sample_call(steps)
    runners = group.num_healthy_remote_workers()
    target = runners * (samples + 1)
    ready = submitted = n = 0
    t = None
    while ready < target:
        while group.num_in_flight_async_reqs() < runners * IN_FLIGHT and submitted < target:
            sent = group.foreach_env_runner_async(sample)
            submitted += sent
            if not sent:  # the group's max_requests_in_flight_per_env_runner is reached
                break
        if not group.num_in_flight_async_reqs():  # a request returned an error instead of a sample
            raise RuntimeError(f"asynchronous sampling: {target - ready} of {target} requests failed")
        for _id, (episodes, metrics) in group.fetch_ready_async_reqs(timeout_seconds=0.005):
            ready += 1
            logger.aggregate([metrics], key="env_runners")
            if t is not None:
                n += _steps(episodes)
            elif ready == runners:
                t = time.perf_counter()
    dt = time.perf_counter() - t
    while group.num_in_flight_async_reqs():  # a call goes to every runner: one may have got one more
        group.fetch_ready_async_reqs(timeout_seconds=None)
    return n / dt


def runner_side(group, steps: int, calls: int) -> tuple[float, int]:
    """(steps/s of sample() timed inside the runner over ``calls`` calls of ``steps`` env steps
    (None: the config's sample size), pickled bytes of one call's result: what crosses the
    object store), one runner."""
    def inside(r):
        before, took = r._godot_sampled, 0.0
        for _ in range(calls):
            t = time.perf_counter()
            eps = r.sample(num_timesteps=steps, random_actions=True)
            took += time.perf_counter() - t
        return (r._godot_sampled - before) / took, len(pickle.dumps(eps))

    return group.foreach_env_runner(inside, local_env_runner=False)[0]


def measure(args, groups, env) -> dict[str, list[float]]:
    """``args.repeats`` rounds of every measurement, the order reversed every other round."""
    from ray.rllib.utils.metrics.metrics_logger import MetricsLogger

    logger = MetricsLogger(root=True)  # the algorithm's
    long_steps = args.long_steps * args.agents
    rates: dict[str, list] = {k: [] for k in ("direct", "direct_transitions", *KINDS, "inside_ppo", "inside_long",
                                              "wire_ppo", "wire_long")}

    def direct():
        every, transitions = direct_rate(env, args.long_steps * 2)
        rates["direct"].append(every)
        rates["direct_transitions"].append(transitions)

    def inside():
        for kind, steps, calls in (("ppo", None, 2 * args.long_steps // 16), ("long", long_steps, 2)):
            rate, size = runner_side(groups[1][0], steps, calls)
            rates[f"inside_{kind}"].append(rate)
            rates[f"wire_{kind}"].append(size)

    steps = [direct, inside]
    for n in (1, 2):
        group, config = groups[n]
        steps.append(lambda n=n, g=group, c=config: rates[f"ppo_{n}"].append(ppo_rate(g, c, logger, 2 * long_steps)))
        steps.append(lambda n=n, g=group, c=config: rates[f"long_{n}"].append(long_rate(g, c, logger, long_steps, 2)))
        steps.append(lambda n=n, g=group: rates[f"async_{n}"].append(async_rate(g, logger, long_steps, 2)))
    for group, config in groups.values():  # warm-up: first episodes, first pickles, first async requests
        ppo_rate(group, config, logger, 1)
        long_rate(group, config, logger, long_steps, 1)
        async_rate(group, logger, long_steps, 1)
    direct_rate(env, 50)
    t0 = time.perf_counter()
    for r in range(args.repeats):
        for step in (steps if r % 2 == 0 else steps[::-1]):
            step()
    rates["rounds_s"] = time.perf_counter() - t0
    return rates


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--agents", type=int, default=16)
    p.add_argument("--long-steps", type=int, default=600, help="vector steps per call of the long-fragment lines")
    p.add_argument("--runner-cpus", choices=["spread", "none"], default="spread",
                   help="engine CPUs of the runners: GodotEnvRunner's one CPU per engine, or no pinning")
    p.add_argument("--worker-niceness", type=int, default=None,
                   help="nice value of Ray's worker processes and so of the runners' engines (default: Ray's, 15)")
    p.add_argument("--no-save", action="store_true")
    args = p.parse_args(argv)

    import contextlib
    import gc

    import ray

    from godot_aigym.rllib.local_ray import init_local, private_session

    load_before, began = load_average(), time.perf_counter()
    with contextlib.ExitStack() as session:
        folder = session.enter_context(private_session())  # Ray's session files, removed at the end
        if args.worker_niceness is not None:
            os.environ["RAY_worker_niceness"] = str(args.worker_niceness)  # read by the raylet it starts
        init_local(folder, num_cpus=2, log_to_driver=False)  # loopback only, no dashboard
        session.callback(ray.shutdown)
        import godot_aigym.rllib  # noqa: F401  (registers the names before the runners start)

        groups, startup = {}, {}
        for n in (1, 2):
            group, config, startup[n] = runner_group(n, args.agents, {"cpus": None} if args.runner_cpus == "none" else None)
            session.callback(group.stop)
            groups[n] = (group, config)
        spin = groups[1][0].foreach_env_runner(
            lambda r: (r.env.unwrapped.links[0].spin_us, r.env.unwrapped.links[0].engine_spin_us),
            local_env_runner=False)[0]
        env = direct_env(args.agents, spin)
        session.callback(env.close)
        gc.freeze()  # as a training driver does (train.built_algo): no full collections over the start-up heap
        session.callback(gc.unfreeze)
        rates = measure(args, groups, env)
        rates["fragment"] = groups[1][1].get_rollout_fragment_length(1)
        rates["spin"] = list(spin)
    rates["total_s"] = time.perf_counter() - began
    report(args, rates, startup, load_before)
    return 0


def report(args, rates: dict, startup: dict, load_before) -> None:
    def med(k):
        return statistics.median(rates[k])

    def spread(k):
        return [min(rates[k]), max(rates[k])]

    def ratios(k, base="direct_transitions"):  # within each round
        return [a / b for a, b in zip(rates[k], rates[base])]

    def ratio(k, base="direct_transitions"):
        r = ratios(k, base)
        return statistics.median(r), [min(r), max(r)]

    direct, alike = med("direct"), med("direct_transitions")
    load_after = load_average()
    ppo_steps, long_steps = rates["fragment"] * args.agents, args.long_steps * args.agents
    lines = {"ppo": f"PPO, build_config's sample ({ppo_steps} env steps/call)",
             "long": f"synchronous, {long_steps} env steps/call", "async": f"async ({IN_FLIGHT} in flight), {long_steps}/call"}
    print(f"cart-pole, {args.agents} agents per runner, random actions, env steps/s, median of {args.repeats} rounds "
          "[min-max]; ratios within each round:")
    print(f"  vector env direct               {direct:9,.0f}   counting only transitions, as RLlib counts: {alike:,.0f}")
    for n in (1, 2):
        for kind, label in lines.items():
            k = f"{kind}_{n}"
            r, (lo, hi) = ratio(k) if n == 1 else ratio(k, f"{kind}_1")
            vs = "direct counted alike" if n == 1 else "one runner"
            print(f"  {n} runner{'s' if n > 1 else ' '} {label:<44} {med(k):9,.0f}   {r:.2f}x {vs} [{lo:.2f}-{hi:.2f}]")
    for kind in ("ppo", "long"):
        r, (lo, hi) = ratio(f"inside_{kind}")
        print(f"  sample() inside 1 runner, {kind:<4} sample     {med(f'inside_{kind}'):9,.0f}   {r:.2f}x direct [{lo:.2f}-{hi:.2f}]")
    print(f"  goal 1 runner >= 0.8x direct: PPO {ratio('ppo_1')[0]:.2f}x; long fragments synchronous "
          f"{ratio('long_1')[0]:.2f}x, asynchronous {ratio('async_1')[0]:.2f}x")
    wire = {k: statistics.median(rates[f"wire_{k}"]) for k in ("ppo", "long")}
    print(f"  crossing to the driver: {wire['ppo'] / ppo_steps:.0f} B/step (PPO sample), "
          f"{wire['long'] / long_steps:.0f} B/step ({long_steps} steps); engine spin budgets (host, engine) "
          f"{tuple(rates['spin'])}")
    print(f"  took {rates['total_s']:.0f} s ({rates['rounds_s']:.0f} s of rounds); "
          f"start-up: 1 runner {startup[1]:.1f} s, 2 runners {startup[2]:.1f} s; "
          f"load average {load_before} -> {load_after}")
    if args.no_save:
        return
    base = dict(baseline_name=f"GodotVectorEnv direct, {args.agents} agents, transitions", baseline=alike,
                baseline_spread=spread("direct_transitions"))
    target = goal(">=", 0.8, ">= 0.8x the direct vector env (counted alike)")
    labels = {"ppo": f"PPO's sampling (synchronous_parallel_sample + metrics aggregate), build_config's "
                     f"{ppo_steps} env steps per call",
              "long": f"synchronous, {long_steps} env steps per call",
              "async": f"asynchronous (APPO: foreach_env_runner_async, {IN_FLIGHT} requests in flight), "
                       f"{long_steps} env steps per call"}
    def paired(k, b="direct_transitions"):
        r, lo_hi = ratio(k, b)
        return {"name": "ratio within each round (median over rounds, min-max)", "value": r, "spread": lo_hi}

    ids = {"ppo": "rllib_1_runner", "long": "rllib_1_runner_long", "async": "rllib_1_runner_async"}
    metrics = []
    for kind, label in labels.items():
        metrics.append(metric(ids[kind], f"RLlib sampling, 1 EnvRunner x {args.agents} agents, {label}", "steps/s",
                              med(f"{kind}_1"), better="higher", ours_spread=spread(f"{kind}_1"), goal=target,
                              also=[paired(f"{kind}_1")], **base))
        metrics.append(metric(ids[kind].replace("1_runner", "2_runners"), f"RLlib sampling, 2 EnvRunners x "
                              f"{args.agents} agents, {label}", "steps/s", med(f"{kind}_2"), better="higher",
                              ours_spread=spread(f"{kind}_2"), baseline_name="1 EnvRunner", baseline=med(f"{kind}_1"),
                              baseline_spread=spread(f"{kind}_1"), also=[paired(f"{kind}_2", f"{kind}_1")]))
    for kind in ("ppo", "long"):
        metrics.append(metric(f"runner_inside_{kind}", f"sample() timed inside the runner, 1 EnvRunner, "
                              f"{ppo_steps if kind == 'ppo' else long_steps} env steps per call", "steps/s",
                              med(f"inside_{kind}"), better="higher", ours_spread=spread(f"inside_{kind}"),
                              also=[paired(f"inside_{kind}")], **base))
    metrics += [
        metric("sample_batch_bytes_per_step", f"pickled sample per env step crossing runner -> driver "
               f"({long_steps}-step sample)", "B", wire["long"] / long_steps, better="lower"),
        metric("runner_startup_1", "EnvRunnerGroup start-up, 1 runner (actor + engine)", "s", startup[1],
               better="lower"),
        metric("runner_startup_2", "EnvRunnerGroup start-up, 2 runners", "s", startup[2], better="lower"),
    ]
    import gymnasium
    import ray

    path = write_results(
        "rllib", metrics, machine=machine(ray=ray.__version__, gymnasium=gymnasium.__version__),
        repeats=args.repeats, spread="min-max", loaded=bool(load_before and load_before > 1.0),
        params={"scene": SCENE, "agents": args.agents, "rollout_fragment_length": rates["fragment"],
                "long_fragment": args.long_steps, "requests_in_flight_async": IN_FLIGHT,
                "action": "random (EnvRunner.sample(random_actions=True); direct: action_space.sample())",
                "runner_cpus": args.runner_cpus, "ray_worker_niceness": args.worker_niceness,
                "spin_budgets_runner_1_and_direct": rates["spin"]},
        notes=[f"load average {load_before} before, {load_after} after",
               "RLlib rates: env steps in the episodes the driver received per second of its wall time",
               "ratios against the direct env counted as RLlib counts (no reset steps), taken within each round",
               "2 runners on 2 vCPUs share the cores with the driver and the engines"],
        extra={"rates": rates, "startup_s": {str(k): v for k, v in startup.items()}})
    print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
