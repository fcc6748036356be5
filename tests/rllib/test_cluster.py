"""PPO on the Godot cart-pole on a real two-node Ray cluster started here (ray.cluster_utils),
loopback addresses only: one EnvRunner per node (a custom resource each node has once), each
driving its own engine under its own node's raylet; an engine killed mid-training is survived
(RLlib replaces the runner, which samples again); within a fixed number of iterations the greedy
return at one of the last checkpoints is well above the random policy's on the same episodes;
nothing is left once the cluster is down. Reaching the solved threshold is `python -m godot_aigym.rllib.train`'s job (docs/SCALING.md):
its time depends on the machine, this test's amount of work does not."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
import ray
from ray.cluster_utils import Cluster

from godot_aigym.rllib.local_ray import NODE_ARGS
from godot_aigym.rllib.train import build_config, greedy_returns, random_returns, train

from ray_testutil import assert_loopback_only, private_ray_dir
from rllib_testutil import assert_nothing_left, chunk_hosts, logs_of

KILL_AT = 3  # iteration after which one runner's engine is killed
ITERATIONS = 12  # ~6k environment steps
# The greedy policy is evaluated at these iterations and the best one must beat random: PPO's greedy
# return swings from one iteration to the next. Measured (4 seeds, this set-up incl. the kill; random
# 17.4, needed 54.8): at 8/10/12 iterations 147/133/148, 30/301/104, 129/292/105, 108/31/112, so the
# best is >= 112 for every seed, while any single checkpoint fell to 30 for some seed.
CHECKPOINTS = (8, 10, 12)
EPISODES = 20


@pytest.fixture
def cluster(shared_local_ray):
    shared_local_ray.stop()  # this process connects to the cluster instead (one Ray per driver)
    with private_ray_dir() as folder:
        node = {**NODE_ARGS, "num_cpus": 1, "resources": {"godot_slot": 1}}
        c = Cluster()
        try:
            c.add_node(**node, temp_dir=folder)  # the head
            c.add_node(**node)
            c.wait_for_nodes()
            ray.init(address=c.address, log_to_driver=False)
            assert_loopback_only(folder)
            yield c
        finally:
            ray.shutdown()  # the driver first: the cluster refuses to remove the node it is connected to
            c.shutdown()


def wait_for_replacement(algo, killed: dict) -> list[dict]:
    """The runners' infos once RLlib restored the killed engine's runner as a new process.

    Polls for that event instead of counting on it within the remaining iterations: on a loaded
    machine a new runner (actor, node preparation, engine start) can take longer than they do."""
    deadline = time.monotonic() + 600  # a safety net for a broken restart only
    while True:
        algo.restore_env_runners(algo.env_runner_group)
        infos = algo.env_runner_group.foreach_env_runner(lambda r: r.godot_info(), local_env_runner=False)
        if any(i["worker_index"] == killed["worker_index"] and i["pid"] != killed["pid"] for i in infos):
            return infos
        assert time.monotonic() < deadline, f"runner {killed['worker_index']} was not replaced: {infos}"
        time.sleep(0.2)


@pytest.mark.timeout(900)  # a safety net for a broken run only; no wall-clock assertion
def test_ppo_learns_the_cartpole_on_two_nodes_and_survives_an_engine_death(cluster):
    seen: list[dict] = []
    killed: dict = {}
    trained: dict[int, list[float]] = {}

    def watch(it, _result, algo):
        infos = algo.env_runner_group.foreach_env_runner(lambda r: r.godot_info(), local_env_runner=False)
        seen.extend(dict(i, iteration=it) for i in infos)
        if it == KILL_AT:
            victim = infos[0]
            os.kill(victim["engine_pids"][0], signal.SIGKILL)
            killed.update(victim)
        if it == KILL_AT + 1:  # the failed sample is behind us: wait for the replacement, however slow
            seen.extend(dict(i, iteration=it) for i in wait_for_replacement(algo, killed))
        if it in CHECKPOINTS:
            trained[it] = greedy_returns(algo.get_module(), config.env, episodes=EPISODES,
                                         env_config=config.env_config)

    config = build_config(env_runners=2, agents=16, engines=1, seed=0, runner_resources={"godot_slot": 1})
    baseline = random_returns(config.env, episodes=EPISODES, env_config=config.env_config)
    summary = train(config, threshold=float("inf"), max_iterations=ITERATIONS, on_iteration=watch)
    print("rllib cluster training:", {k: v for k, v in summary.items() if k != "history"},
          f"random {np.mean(baseline):.1f}, trained greedy", {it: np.mean(r) for it, r in trained.items()})
    for row in summary["history"]:
        print(row)

    # placement: the two runners on the two nodes, each engine a child of its runner, under that node's raylet
    first = seen[:2]
    assert len({i["node_id"] for i in first}) == 2, first
    raylets = set()
    for info in first:
        (pid, chain), = info["engine_parents"].items()
        assert chain[0][1] == "godot" and chain[1][0] == info["pid"], chain
        raylets.add(next(p for p, name in chain if name == "raylet"))
    assert len(raylets) == 2, first

    # the kill: that runner was replaced by a new process with a new engine, which sampled again
    assert killed, "no engine was killed"
    later = [i for i in seen if i["worker_index"] == killed["worker_index"] and i["pid"] != killed["pid"]]
    assert later, f"runner {killed['worker_index']} was never replaced after its engine died"
    assert later[0]["engine_pids"] and later[0]["engine_pids"] != killed["engine_pids"], later[0]
    assert later[-1]["sampled"] > 0, f"the replacement runner never sampled: {later[-1]}"
    assert summary["iterations"] == ITERATIONS and summary["history"][-1]["healthy_runners"] == 2, summary

    # learning: the greedy policy's return on the same seeded episodes, well above the random policy's
    assert sorted(trained) == list(CHECKPOINTS) and all(len(r) == EPISODES for r in trained.values())
    best = max(np.mean(r) for r in trained.values())
    assert best >= 2 * np.mean(baseline) + 20, ({it: np.mean(r) for it, r in trained.items()}, np.mean(baseline))

    ray.shutdown()
    cluster.shutdown()
    runners = {i["pid"] for i in seen}
    engines = {pid for i in seen for pid in i["engine_pids"]}
    assert_nothing_left(runners, engines)
    mine = {name for name, host in chunk_hosts().items() if host == os.getpid()}
    assert not mine and not logs_of({os.getpid()}), (mine, logs_of({os.getpid()}))  # the evaluations' engines
