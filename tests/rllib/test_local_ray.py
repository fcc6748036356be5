"""Ray's settings of a local instance (`local_ray.SYSTEM_CONFIG`) reach the processes it starts."""

from __future__ import annotations

import subprocess
import sys

from godot_aigym.rllib.local_ray import SYSTEM_CONFIG

# In a process of its own: the tests' shared Ray instance is not one init_local starts.
PROBE = """
import ray
from ray.experimental import get_object_locations
from godot_aigym.rllib.local_ray import init_local, private_session

@ray.remote(num_cpus=0)
def result(n):
    return b"x" * n

with private_session() as folder:
    init_local(folder, num_cpus=1, log_to_driver=False)
    try:
        for n in {sizes}:
            ref = result.remote(n)
            ray.get(ref)  # the value fetched: a result in the object store has a known location by then
            # (after ray.wait alone its location could still be unreported: "inline" for 2 MiB in one CI run)
            print(n, "store" if get_object_locations([ref])[ref]["node_ids"] else "inline")
    finally:
        ray.shutdown()
"""


def test_results_up_to_the_configured_size_return_inline_larger_ones_through_the_object_store():
    limit = SYSTEM_CONFIG["max_direct_call_object_size"]
    sizes = [300_000, limit - 1024, 2 * limit]  # Ray's default limit (100 KiB) would send the first two through the store
    r = subprocess.run([sys.executable, "-c", PROBE.format(sizes=sizes)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(sizes[0]), "inline", str(sizes[1]), "inline", str(sizes[2]), "store"], r.stdout + r.stderr
