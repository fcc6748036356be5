"""Every Ray instance of these tests binds to 127.0.0.1 and leaves nothing behind (ray_testutil)."""

from __future__ import annotations

import os

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # before Ray is imported anywhere: no calls out

import pytest  # noqa: E402
import ray  # noqa: E402

from godot_aigym.rllib.local_ray import init_local  # noqa: E402

from ray_testutil import assert_loopback_only, private_ray_dir  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    """A single-node Ray instance on loopback for the tests that build runners in this process
    (RLlib's metrics would otherwise start a default one on the interface address)."""
    with private_ray_dir() as folder:
        init_local(folder, num_cpus=1, log_to_driver=False)
        try:
            assert_loopback_only(folder)
            yield folder
        finally:
            ray.shutdown()
