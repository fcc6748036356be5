"""PPO on the Godot cart-pole on a real two-node Ray cluster started here (ray.cluster_utils):
one EnvRunner per node (a custom resource each node has once), each driving its own engine
under its own node's raylet; an engine killed mid-training is survived (RLlib replaces the
runner); nothing is left once the cluster is down."""

from __future__ import annotations

import os
import signal

import pytest
import ray
from ray.cluster_utils import Cluster

from godot_aigym.rllib.train import THRESHOLD, build_config, train

from rllib_testutil import assert_nothing_left

KILL_AT = 3  # iteration after which one runner's engine is killed


@pytest.fixture
def cluster():
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": {"godot_slot": 1}})
    c.add_node(num_cpus=1, resources={"godot_slot": 1})
    c.wait_for_nodes()
    ray.init(address=c.address, log_to_driver=False)
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


@pytest.mark.timeout(1500)  # a safety net for a broken run only; no wall-clock assertion
def test_ppo_solves_the_cartpole_on_two_nodes_and_survives_an_engine_death(cluster):
    seen: list[dict] = []
    killed: dict = {}

    def watch(it, _result, algo):
        infos = algo.env_runner_group.foreach_env_runner(lambda r: r.godot_info(), local_env_runner=False)
        seen.extend(infos)
        if it == KILL_AT:
            victim = infos[0]
            os.kill(victim["engine_pids"][0], signal.SIGKILL)
            killed.update(victim)

    config = build_config(env_runners=2, agents=16, engines=1, seed=0, runner_resources={"godot_slot": 1})
    summary = train(config, threshold=THRESHOLD, max_iterations=600, on_iteration=watch)
    print("rllib cluster training:", {k: v for k, v in summary.items() if k != "history"})
    for row in summary["history"]:
        print(row)

    # placement: the two runners on the two nodes, each engine a child of its runner, under that node's raylet
    first = [i for i in seen[:2]]
    assert len({i["node_id"] for i in first}) == 2, first
    raylets = set()
    for info in first:
        (pid, chain), = info["engine_parents"].items()
        assert chain[0][1] == "godot" and chain[1][0] == info["pid"], chain
        raylet = next(p for p, name in chain if name == "raylet")
        raylets.add(raylet)
    assert len(raylets) == 2, first

    # the kill: that runner was replaced (a new process with a new engine), training went on
    assert killed, "no engine was killed"
    later = [i for i in seen if i["worker_index"] == killed["worker_index"] and i["pid"] != killed["pid"]]
    assert later, f"runner {killed['worker_index']} was never replaced after its engine died"
    assert summary["solved"], summary
    assert summary["greedy_mean"] >= THRESHOLD

    ray.shutdown()  # the driver first: the cluster refuses to remove the node it is connected to
    cluster.shutdown()
    runners = {i["pid"] for i in seen}
    engines = {pid for i in seen for pid in i["engine_pids"]}
    assert_nothing_left(runners, engines)
