"""Every Ray instance of these tests binds to 127.0.0.1 and leaves nothing behind (ray_testutil).

Ray and RLlib are imported by the tests that use them, never at collection: pytest-xdist makes
every worker collect every module, and a worker that runs none of these tests would otherwise
pay their imports (~4 CPU-s) for nothing."""

from __future__ import annotations

import contextlib
import os

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # before Ray is imported anywhere: no calls out

import pytest  # noqa: E402

from godot_aigym.rllib.local_ray import NODE_ARGS, SYSTEM_CONFIG  # noqa: E402

from ray_testutil import assert_loopback_only, private_ray_dir  # noqa: E402

# A node of these tests: loopback, one CPU and one `godot_slot` (the cluster test's runners ask for
# one each: one per node), no log monitor (nothing is logged to the driver) and no autoscaler
# monitor (~3 CPU-s of polling that nothing here reads).
NODE = {**NODE_ARGS, "num_cpus": 1, "resources": {"godot_slot": 1}, "include_log_monitor": False, "no_monitor": True}


class SharedRay:
    """One loopback Ray instance for every test of this process that needs one, started when the
    first asks for it (a Ray start is ~7 CPU-s with its daemons): the head node of a
    `ray.cluster_utils.Cluster`, so the cluster test adds its second node to it (`add_node`) instead
    of starting a Ray of its own; checked when the session ends (no Ray process left, session
    folder removed)."""

    def __init__(self):
        self._stack: contextlib.ExitStack | None = None
        self.folder: str | None = None
        self.cluster = None

    def ensure(self) -> str:
        if self._stack is None:
            import ray
            from ray.cluster_utils import Cluster

            from godot_aigym.rllib.registration import reregister_all

            with contextlib.ExitStack() as stack:
                folder = stack.enter_context(private_ray_dir())  # on exit: no Ray process left, folder removed
                cluster = Cluster()
                stack.callback(cluster.shutdown)
                cluster.add_node(**NODE, temp_dir=folder, _system_config=SYSTEM_CONFIG)  # the head: Ray's settings as init_local's
                stack.callback(ray.shutdown)  # the driver first: the cluster refuses to remove the node it is connected to
                ray.init(address=cluster.address, log_to_driver=False)
                reregister_all()  # this process may have run an earlier Ray instance
                assert_loopback_only(folder)
                self._stack, self.folder, self.cluster = stack.pop_all(), folder, cluster
        return self.folder

    def add_node(self):
        """A second node of the instance (the same settings as the head); remove it with `remove_node`."""
        self.ensure()
        node = self.cluster.add_node(**NODE)
        self.cluster.wait_for_nodes()
        return node

    def remove_node(self, node) -> None:
        """Every process of ``node`` killed and waited for (Cluster.remove_node asserts none is left)."""
        if node in self.cluster.worker_nodes:
            self.cluster.remove_node(node)

    def stop(self) -> None:
        stack, self._stack, self.folder, self.cluster = self._stack, None, None, None
        if stack is not None:
            stack.close()


@pytest.fixture(scope="session")
def shared_ray():
    shared = SharedRay()
    try:
        yield shared
    finally:
        shared.stop()


@pytest.fixture(scope="module")
def local_ray(shared_ray):
    """The process's Ray instance (one node on loopback) for the tests that build runners in this
    process (RLlib's metrics would otherwise start a default one on the interface address); shared
    by the modules of the session, down and checked at its end."""
    yield shared_ray.ensure()


def pytest_collection_modifyitems(items):
    """The cluster test first: it is the longest (~70 s) and, run under pytest-xdist, tests/rllib is
    one unit (tests/suite_parallel.py) and a worker takes its next unit once two of its tests are
    left; with the cluster test last, that unit would wait behind it."""
    items.sort(key=lambda item: "cluster" not in getattr(item, "fixturenames", ()))
