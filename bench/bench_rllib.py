"""Environment steps per second sampled through RLlib EnvRunners (GodotEnvRunner, random
actions so inference does not dominate), next to our vector env stepped directly with the same
agents in the same run. Writes bench/results/rllib.json (bench/results_schema.py).

    .venv/bin/python bench/bench_rllib.py [--repeats 9] [--agents 16] [--long-steps 600] [--no-save]

The runners are built by `godot_aigym.rllib.train.build_config` with its defaults, as a user's
PPO gets them, and sampled as RLlib's algorithms sample, in steady state (warm-up calls first):
  * **PPOConfig()'s batch** (the line the goal is judged on: issue #14's example is a plain
    `PPOConfig().environment("godot_aigym/CartPole-v0", ...)`): one call at the size a plain
    `PPOConfig()` asks of one runner (``train_batch_size`` 4,000, ``rollout_fragment_length``
    "auto": one call per iteration), the runner's metrics with it, aggregated by the driver;
  * **PPO at build_config's sample** (information: Ray's and RLlib's fixed cost per call, no
    goal): `synchronous_parallel_sample(max_env_steps=total_train_batch_size,
    _return_metrics=True)` then the driver's `MetricsLogger.aggregate` of the runners' metrics,
    as `PPO.training_step` does, at build_config's small training batch (``rollout_fragment_length``
    16 x 16 agents = 256 env steps per runner and call: one call per iteration);
  * **long fragments**: ``--long-steps`` vector steps per runner and call (what
    ``build_config(fragment=600)`` would ask), synchronously, and asynchronously as APPO/IMPALA
    do (``foreach_env_runner_async``, 2 requests in flight per runner).
Every rate is env steps in the `SingleAgentEpisode`s the driver received (what the learner
gets) per second of the driver's wall time. ``sample()`` is also timed inside the runner.

The direct baseline is the same scene and agents in one `GodotVectorEnv` of this process, kept
open like a runner's, its engine pinned where runner 1 pins its engine and given the spin
budgets that engine got (`placement.spin_budgets` decides them from the engines already running),
stepped with ``action_space.sample()`` like a runner's random actions, counted as RLlib counts
(transitions: not the reset step NEXT_STEP autoreset inserts after an episode's end). Every
one-runner line is measured in pairs: the line, and right beside it a direct window of the same
env steps (their order alternating), one ratio per pair; the median over pairs is reported with
its min-max and interquartile range, so the machine's drift between windows (30-50% on this
guest) mostly cancels. Two-runner lines are compared with the same round's one-runner line.

Ray is started as the train CLI starts it (`local_ray.init_local`: loopback, its `SYSTEM_CONFIG`,
e.g. results up to 1 MiB inline), nothing tuned for the bench alone.
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

from bench_rllib_report import report  # noqa: E402
from results_schema import load_average  # noqa: E402

SCENE = "res://envs/cartpole/cartpole.tscn"
ENV = "godot_aigym/CartPole-v0"
IN_FLIGHT = 2  # asynchronous sampling: requests queued per runner
KINDS = ("ppo_1", "default_1", "long_1", "async_1", "ppo_2", "long_2", "async_2")


def direct_env(agents: int, spin: tuple):
    """One engine of ``agents`` agents, placed and spin-budgeted (``spin``) as runner 1's."""
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


def measure(args, groups, env, default_steps: int) -> dict[str, list[float]]:
    """``args.repeats`` rounds. Every one-runner line is measured in a PAIR with a direct window
    of the same env steps right beside it (the direct window first in even rounds, second in odd
    ones), and its ratio is taken per pair: the machine's speed (this guest's steal moves a
    window's rate by 30-50%) is then nearly the same for both halves of a ratio. The lines'
    order reverses every round; two-runner lines are compared with the same round's one-runner line."""
    from ray.rllib.utils.metrics.metrics_logger import MetricsLogger

    logger = MetricsLogger(root=True)  # the algorithm's
    long_steps, ppo_steps = args.long_steps * args.agents, groups[1][1].get_rollout_fragment_length(1) * args.agents
    rates: dict[str, list] = {k: [] for k in ("direct", "direct_transitions", *KINDS, "inside_ppo", "inside_long",
                                              "wire_ppo", "wire_long")}
    pairs: dict[str, list] = {}  # line -> [(its rate, the direct transitions rate of its pair), ...]

    def inside(kind, steps, calls):
        def run():
            rate, size = runner_side(groups[1][0], steps, calls)
            rates[f"wire_{kind}"].append(size)
            return rate
        return run

    g1, c1 = groups[1]
    paired = {  # line -> (measure it, env steps it measures)
        "ppo_1": (lambda: ppo_rate(g1, c1, logger, 2 * long_steps), 2 * long_steps),
        "default_1": (lambda: long_rate(g1, c1, logger, default_steps, 2), 2 * default_steps),
        "long_1": (lambda: long_rate(g1, c1, logger, long_steps, 2), 2 * long_steps),
        "async_1": (lambda: async_rate(g1, logger, long_steps, 2), 2 * long_steps),
        "inside_ppo": (inside("ppo", None, 2 * long_steps // ppo_steps), 2 * long_steps),
        "inside_long": (inside("long", long_steps, 2), 2 * long_steps),
    }
    g2, c2 = groups[2]
    alone = {"ppo_2": lambda: ppo_rate(g2, c2, logger, 2 * long_steps),
             "long_2": lambda: long_rate(g2, c2, logger, long_steps, 2),
             "async_2": lambda: async_rate(g2, logger, long_steps, 2)}

    def direct(steps: int) -> float:
        every, transitions = direct_rate(env, max(steps // args.agents, 1))
        rates["direct"].append(every)
        rates["direct_transitions"].append(transitions)
        return transitions

    for group, config in groups.values():  # warm-up: first episodes, first pickles, first async requests
        ppo_rate(group, config, logger, 1)
        long_rate(group, config, logger, long_steps, 1)
        async_rate(group, logger, long_steps, 1)
    direct_rate(env, 50)
    t0 = time.perf_counter()
    for r in range(args.repeats):
        lines = [*paired, *alone]
        for line in (lines if r % 2 == 0 else lines[::-1]):
            if line in alone:
                rates[line].append(alone[line]())
                continue
            run, steps = paired[line]
            if r % 2 == 0:
                base = direct(steps)
                rate = run()
            else:
                rate = run()
                base = direct(steps)
            rates[line].append(rate)
            pairs.setdefault(line, []).append((rate, base))
    rates["rounds_s"] = time.perf_counter() - t0
    rates["pairs"] = pairs
    return rates


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=9)
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
    from ray.rllib.algorithms.ppo import PPOConfig

    from godot_aigym.rllib.local_ray import init_local, private_session

    # what PPOConfig() samples per call from one runner: its train batch, rollout_fragment_length "auto"
    default_steps = PPOConfig().total_train_batch_size
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
        rates = measure(args, groups, env, default_steps)
        rates["fragment"] = groups[1][1].get_rollout_fragment_length(1)
        rates["spin"] = list(spin)
    rates["total_s"] = time.perf_counter() - began
    report(args, rates, startup, load_before, {"scene": SCENE, "in_flight": IN_FLIGHT, "default_steps": default_steps})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
