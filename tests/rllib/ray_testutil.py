"""Ray instances of the RLlib tests: loopback addresses only, no dashboard, no usage stats, session
files in a private short folder (Unix socket paths must stay under 107 bytes) that is removed
once Ray is down, and no Ray process left behind."""

from __future__ import annotations

import contextlib
import os

from godot_aigym.rllib.local_ray import LOOPBACK, loopback_only, private_session

from rllib_testutil import non_loopback_sockets, ray_processes


@contextlib.contextmanager
def private_ray_dir():
    """`local_ray.private_session` (a fresh /tmp/rk* folder as Ray's temp dir, also RAY_TMPDIR),
    checked on exit: no process of it alive, folder removed."""
    loopback_only()
    with private_session() as folder:
        yield folder
    left = ray_processes(folder)
    assert not left, f"Ray processes left behind: {left}"
    assert not os.path.exists(folder)


def assert_loopback_only(folder: str) -> None:
    """Ray's node table and every socket of its processes (and ours) use 127.0.0.0/8 only."""
    import ray

    addresses = {n["NodeManagerAddress"] for n in ray.nodes()}
    assert addresses == {LOOPBACK}, addresses
    pids = ray_processes(folder) | {os.getpid()}
    assert len(pids) > 1, "no Ray process found by its session folder"
    bad = non_loopback_sockets(pids)
    assert not bad, f"Ray sockets on non-loopback addresses: {bad}"
