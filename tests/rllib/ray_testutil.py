"""Ray instances of the RLlib tests: loopback addresses only, no dashboard, no usage stats, session
files in a private short folder (Unix socket paths must stay under 107 bytes) that is removed
once Ray is down, and no Ray process left behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

import ray

from godot_aigym.rllib.local_ray import LOOPBACK, loopback_only

from rllib_testutil import non_loopback_sockets, ray_processes, wait_all_gone


@contextlib.contextmanager
def private_ray_dir():
    """A fresh /tmp/rk* folder as Ray's temp dir (also RAY_TMPDIR: Ray writes its
    `ray_current_cluster` file there); on exit: no process of it alive, folder removed."""
    loopback_only()
    folder = tempfile.mkdtemp(prefix="rk", dir="/tmp")
    os.mkdir(os.path.join(folder, "ray"))  # RAY_TMPDIR/ray: where Ray keeps its address file
    before = os.environ.get("RAY_TMPDIR")
    os.environ["RAY_TMPDIR"] = folder
    try:
        yield folder
    finally:
        if before is None:
            os.environ.pop("RAY_TMPDIR", None)
        else:
            os.environ["RAY_TMPDIR"] = before
        left = wait_all_gone(ray_processes(folder))
        shutil.rmtree(folder, ignore_errors=True)
        assert not left, f"Ray processes left behind: {left}"
        assert not os.path.exists(folder)


def assert_loopback_only(folder: str) -> None:
    """Ray's node table and every socket of its processes (and ours) use 127.0.0.0/8 only."""
    addresses = {n["NodeManagerAddress"] for n in ray.nodes()}
    assert addresses == {LOOPBACK}, addresses
    pids = ray_processes(folder) | {os.getpid()}
    assert len(pids) > 1, "no Ray process found by its session folder"
    bad = non_loopback_sockets(pids)
    assert not bad, f"Ray sockets on non-loopback addresses: {bad}"
