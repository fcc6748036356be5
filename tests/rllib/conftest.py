"""Every Ray instance of these tests binds to 127.0.0.1 and leaves nothing behind (ray_testutil).

Ray and RLlib are imported by the tests that use them, never at collection: pytest-xdist makes
every worker collect every module, and a worker that runs none of these tests would otherwise
pay their imports (~4 CPU-s) for nothing."""

from __future__ import annotations

import contextlib
import os

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # before Ray is imported anywhere: no calls out

import pytest  # noqa: E402

from godot_aigym.rllib.local_ray import init_local  # noqa: E402

from ray_testutil import assert_loopback_only, private_ray_dir  # noqa: E402


class SharedLocalRay:
    """One single-node loopback Ray instance for every module that builds runners in this process,
    started when the first asks for it (a Ray start is seconds of CPU); `stop()` before a test
    connects to a cluster of its own, the next module that asks starts it again."""

    def __init__(self):
        self._stack: contextlib.ExitStack | None = None
        self.folder: str | None = None

    def ensure(self) -> str:
        if self._stack is None:
            import ray

            stack = contextlib.ExitStack()
            self.folder = stack.enter_context(private_ray_dir())  # on exit: no Ray process left, folder removed
            stack.callback(ray.shutdown)
            self._stack = stack
            init_local(self.folder, num_cpus=1, log_to_driver=False)
            assert_loopback_only(self.folder)
        return self.folder

    def stop(self) -> None:
        stack, self._stack, self.folder = self._stack, None, None
        if stack is not None:
            stack.close()


@pytest.fixture(scope="session")
def shared_local_ray():
    shared = SharedLocalRay()
    try:
        yield shared
    finally:
        shared.stop()


@pytest.fixture(scope="module")
def local_ray(shared_local_ray):
    """A single-node Ray instance on loopback for the tests that build runners in this process
    (RLlib's metrics would otherwise start a default one on the interface address); shared by the
    modules of the session, down and checked at its end."""
    yield shared_local_ray.ensure()


def pytest_collection_modifyitems(items):
    """Tests that start a cluster of their own run before the ones sharing the local instance
    (which would otherwise be stopped for them and started again). First, because that is the
    longest test (~90 s): run under pytest-xdist, tests/rllib is one unit (tests/suite_parallel.py),
    and a worker takes its next unit once two of its tests are left; with the cluster test last,
    that unit would wait behind it."""
    items.sort(key=lambda item: "cluster" not in getattr(item, "fixturenames", ()))
