"""A Ray instance on this machine that only uses loopback addresses (no dashboard, no usage stats).

Ray 2.60 resolves ``127.0.0.1`` given as a node address to the machine's interface address
(`ray._private.services.resolve_ip_for_localhost`) unless its "clusters enabled" constant is off,
which is what it does itself on macOS and Windows. `loopback_only()` turns it off for this
process, so the node table, the GCS, the raylets and every worker listen on and talk to
127.0.0.1 only. Not for a real multi-host cluster (``--address``): there the nodes' own
addresses are what you want.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import time
from typing import Any, Iterator

from ..owners import owner_tag, parse_owner_tag, sweep

LOOPBACK = "127.0.0.1"
OWNER_FILE = "owner"  # in a private session folder: "<pid>-<start time>" of the process that made it

# What a node started here gets: loopback, and nothing that serves or calls out.
NODE_ARGS: dict[str, Any] = {"node_ip_address": LOOPBACK, "include_dashboard": False}

# Ray's settings for an instance started here (the head's `_system_config`; on a cluster, what
# docs/SCALING.md says to give `ray start`). A task's result of up to this many bytes returns
# inline in the reply instead of through the object store (Ray's default 100 KiB): a 9,600-step
# cart-pole sample (~206 kB) came back ~1.9 ms sooner per call (31.6 -> 29.7 ms, the raylet's
# put/fetch/release gone); a plain actor's round trip, 2 vCPUs: 0.2 MB 2.2 -> 1.1 ms, 1 MB
# 2.6 -> 1.9, but 4 MB 3.9 -> 7.2 (copied through gRPC): hence 1 MiB (docs/SCALING_PERFORMANCE.md).
SYSTEM_CONFIG: dict[str, Any] = {"max_direct_call_object_size": 1 << 20}


def loopback_only() -> None:
    """Make Ray in this process resolve "this node" to 127.0.0.1; no usage-stats reports."""
    from ray._private import ray_constants

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False


def init_local(temp_dir: str | None = None, **kwargs: Any) -> Any:
    """``ray.init`` of a new single-node instance bound to 127.0.0.1 (``temp_dir``: its session
    files, else Ray's default ``/tmp/ray``) with `SYSTEM_CONFIG` (a ``_system_config`` given
    here is applied over it)."""
    import ray

    from .registration import reregister_all

    loopback_only()
    kwargs["_system_config"] = {**SYSTEM_CONFIG, **(kwargs.get("_system_config") or {})}
    context = ray.init(_node_ip_address=LOOPBACK, include_dashboard=False, _temp_dir=temp_dir, **kwargs)
    reregister_all()  # this process may have run an earlier Ray instance (registration.reregister_all)
    return context


@contextlib.contextmanager
def private_session(timeout: float = 60.0) -> Iterator[str]:
    """A fresh ``/tmp/rk*`` folder for a local Ray instance's session files (also ``RAY_TMPDIR``),
    removed once every process of that instance has exited (waited for up to ``timeout``): Ray
    would otherwise keep its logs in ``/tmp/ray`` for good. Start Ray with ``init_local(folder)``
    inside, and shut it down before leaving."""
    sweep_stale_sessions()  # folders of drivers that were killed before they could remove theirs
    folder = tempfile.mkdtemp(prefix="rk", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    with open(os.path.join(folder, OWNER_FILE), "w") as f:
        f.write(owner_tag())
    os.mkdir(os.path.join(folder, "ray"))
    before = os.environ.get("RAY_TMPDIR")
    os.environ["RAY_TMPDIR"] = folder
    try:
        yield folder
    finally:
        if before is None:
            os.environ.pop("RAY_TMPDIR", None)
        else:
            os.environ["RAY_TMPDIR"] = before
        deadline = time.monotonic() + timeout
        while _session_processes(folder) and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(folder, ignore_errors=True)


def sweep_stale_sessions() -> list[str]:
    """Remove ``/tmp/rk*`` session folders of this user whose creator (``OWNER_FILE``) is dead
    and that no live process names on its command line (Ray's agents outlive a killed driver
    by up to a minute)."""
    def inspect(name: str):
        path = os.path.join("/tmp", name)
        st = os.stat(path, follow_symlinks=False)
        if not name.startswith("rk") or not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            return None
        with open(os.path.join(path, OWNER_FILE)) as f:
            owner = parse_owner_tag(f.read(64).strip())
        return (owner, path) if owner is not None else None

    def remove(name: str, path: str) -> bool:
        if _session_processes(path):
            return False
        shutil.rmtree(path, ignore_errors=True)
        return True

    return sweep(os.listdir("/tmp"), inspect, remove)


def _session_processes(folder: str) -> list[int]:
    """Live processes naming ``folder`` on their command line (Ray's raylet, GCS, workers...)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if folder.encode() in f.read():
                    with open(f"/proc/{entry}/stat") as s:
                        if s.read().rsplit(")", 1)[1].split()[0] not in "ZX":
                            found.append(int(entry))
        except OSError:
            continue
    return found
