"""The report of bench/bench_rllib.py: the lines it prints and bench/results/rllib.json."""

from __future__ import annotations

import statistics

from results_schema import goal, load_average, machine, metric, write_results

def report(args, rates: dict, startup: dict, load_before, setup: dict) -> None:
    """Print the lines; unless ``--no-save``, write the results file. ``setup``: the bench's
    scene, asynchronous requests in flight and PPOConfig()'s env steps per call."""
    scene, in_flight, default_steps = setup["scene"], setup["in_flight"], setup["default_steps"]
    def med(k):
        return statistics.median(rates[k])

    def spread(k):
        return [min(rates[k]), max(rates[k])]

    def ratio(k):
        """(median, [min, max], [p25, p75]) of the ratios: per pair for a one-runner line (its
        direct window counted alike), within a round against the one-runner line for two runners."""
        if k in rates["pairs"]:
            r = [a / b for a, b in rates["pairs"][k]]
        else:
            r = [a / b for a, b in zip(rates[k], rates[k.replace("_2", "_1")])]
        q = statistics.quantiles(r, n=4) if len(r) > 1 else r * 3
        return statistics.median(r), [min(r), max(r)], [q[0], q[-1]]

    direct, alike = med("direct"), med("direct_transitions")
    load_after = load_average()
    ppo_steps, long_steps = rates["fragment"] * args.agents, args.long_steps * args.agents
    lines = {"ppo": f"info: build_config's sample ({ppo_steps} env steps/call)",
             "default": f"GOAL: PPOConfig()'s batch ({default_steps} env steps/call)",
             "long": f"synchronous, {long_steps} env steps/call", "async": f"async ({in_flight} in flight), {long_steps}/call"}
    print(f"cart-pole, {args.agents} agents per runner, random actions, env steps/s, medians of {args.repeats} rounds "
          "[min-max]; one runner: ratio per pair with a direct window beside it (median [min-max] IQR):")
    print(f"  vector env direct               {direct:9,.0f}   counting only transitions, as RLlib counts: {alike:,.0f}")
    for n in (1, 2):
        for kind, label in lines.items():
            k = f"{kind}_{n}"
            if k not in rates or not rates[k]:
                continue
            r, (lo, hi), (q1, q3) = ratio(k)
            vs = "direct counted alike" if n == 1 else "one runner"
            print(f"  {n} runner{'s' if n > 1 else ' '} {label:<44} {med(k):9,.0f}   {r:.2f}x {vs} [{lo:.2f}-{hi:.2f}]"
                  f" IQR {q1:.2f}-{q3:.2f}")
    for kind in ("ppo", "long"):
        r, (lo, hi), (q1, q3) = ratio(f"inside_{kind}")
        print(f"  sample() inside 1 runner, {kind:<4} sample     {med(f'inside_{kind}'):9,.0f}   {r:.2f}x direct "
              f"[{lo:.2f}-{hi:.2f}] IQR {q1:.2f}-{q3:.2f}")
    print(f"  goal 1 runner >= 0.8x direct, judged on PPOConfig()'s batch: {ratio('default_1')[0]:.2f}x; beside it "
          f"long fragments synchronous {ratio('long_1')[0]:.2f}x, asynchronous {ratio('async_1')[0]:.2f}x; "
          f"information (Ray's and RLlib's fixed cost per call): build_config's {ppo_steps}-step calls {ratio('ppo_1')[0]:.2f}x")
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
    labels = {"ppo": f"information, Ray's and RLlib's fixed cost per call: PPO's sampling "
                     f"(synchronous_parallel_sample + metrics aggregate) at build_config's small training batch, "
                     f"{ppo_steps} env steps per call",
              "default": f"the goal's line: synchronous, PPOConfig()'s train batch: {default_steps} env steps per "
                         "call (rollout_fragment_length 'auto')",
              "long": f"synchronous, {long_steps} env steps per call",
              "async": f"asynchronous (APPO: foreach_env_runner_async, {in_flight} requests in flight), "
                       f"{long_steps} env steps per call"}

    def paired(k):
        r, lo_hi, iqr = ratio(k)
        name = ("ratio per pair with an adjacent direct window (median, min-max; IQR in the note)" if k in rates["pairs"]
                else "ratio to 1 EnvRunner within each round (median, min-max)")
        return r, {"name": name, "value": r, "spread": lo_hi}, f"IQR of the ratios {iqr[0]:.3f}-{iqr[1]:.3f}"

    ids = {"ppo": "rllib_1_runner", "default": "rllib_1_runner_ppo_default", "long": "rllib_1_runner_long",
           "async": "rllib_1_runner_async"}
    metrics = []
    for kind, label in labels.items():
        r, also, note = paired(f"{kind}_1")
        metrics.append(metric(ids[kind], f"RLlib sampling, 1 EnvRunner x {args.agents} agents, {label}", "steps/s",
                              med(f"{kind}_1"), better="higher", ours_spread=spread(f"{kind}_1"),
                              goal=None if kind == "ppo" else target,  # the 256-step line: information only
                              also=[also], note=note, **base))
        if rates.get(f"{kind}_2"):
            r, also, note = paired(f"{kind}_2")
            metrics.append(metric(ids[kind].replace("1_runner", "2_runners"), f"RLlib sampling, 2 EnvRunners x "
                                  f"{args.agents} agents, {label}", "steps/s", med(f"{kind}_2"), better="higher",
                                  ours_spread=spread(f"{kind}_2"), baseline_name="1 EnvRunner", baseline=med(f"{kind}_1"),
                                  baseline_spread=spread(f"{kind}_1"), also=[also]))
    for kind in ("ppo", "long"):
        r, also, note = paired(f"inside_{kind}")
        metrics.append(metric(f"runner_inside_{kind}", f"sample() timed inside the runner, 1 EnvRunner, "
                              f"{ppo_steps if kind == 'ppo' else long_steps} env steps per call", "steps/s",
                              med(f"inside_{kind}"), better="higher", ours_spread=spread(f"inside_{kind}"),
                              also=[also], note=note, **base))
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
        params={"scene": scene, "agents": args.agents, "rollout_fragment_length": rates["fragment"],
                "long_fragment": args.long_steps, "ppo_config_default_steps": default_steps,
                "requests_in_flight_async": in_flight,
                "action": "random (EnvRunner.sample(random_actions=True); direct: action_space.sample())",
                "runner_cpus": args.runner_cpus, "ray_worker_niceness": args.worker_niceness,
                "spin_budgets_runner_1_and_direct": rates["spin"]},
        notes=[f"load average {load_before} before, {load_after} after",
               "RLlib rates: env steps in the episodes the driver received per second of its wall time",
               "one-runner ratios: per pair (the line and a direct window of the same env steps right beside it, "
               "their order alternating), against the direct env counted as RLlib counts (no reset steps); "
               "the median over pairs is each metric's also (and the printed ratio); the schema's ratio "
               "and goal_met are median rate / median direct rate",
               "2 runners on 2 vCPUs share the cores with the driver and the engines"],
        extra={"rates": rates, "startup_s": {str(k): v for k, v in startup.items()}})
    print(f"wrote {path}")
