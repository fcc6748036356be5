"""Helpers of the RLlib tests: leak probes keyed by the pids our EnvRunners report (other jobs on
the machine may run engines of their own meanwhile)."""

from __future__ import annotations

import glob
import os
import struct
import tempfile
import time


def chunk_hosts() -> dict[str, int]:
    """/dev/shm/aigym_* -> the pid of the host that created it."""
    found = {}
    for path in glob.glob("/dev/shm/aigym_*"):
        try:
            with open(path, "rb") as f:
                head = f.read(64)
        except OSError:
            continue
        if len(head) >= 60 and head[:8] == b"AIGYMSHM":
            found[os.path.basename(path)] = struct.unpack_from("<i", head, 56)[0]
    return found


def logs_of(pids: set[int]) -> list[str]:
    """Engine logs (godot-aigym-<host pid>-...) of these host pids."""
    return [p for p in glob.glob(os.path.join(tempfile.gettempdir(), "godot-aigym-*.log"))
            if os.path.basename(p).split("-")[2].isdigit() and int(os.path.basename(p).split("-")[2]) in pids]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


def wait_all_gone(pids: set[int], timeout: float = 60.0) -> set[int]:
    """Wait (safety timeout only) for the processes to exit; the ones still alive."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = {p for p in pids if alive(p)}
        if not left:
            return left
        time.sleep(0.1)
    return {p for p in pids if alive(p)}


def assert_nothing_left(runner_pids: set[int], engine_pids: set[int]) -> None:
    left = wait_all_gone(engine_pids | runner_pids)
    assert not left, f"processes left behind: {left}"
    chunks = {name for name, host in chunk_hosts().items() if host in runner_pids}
    assert not chunks, f"shared-memory chunks of our EnvRunners left behind: {chunks}"
    logs = logs_of(runner_pids)
    assert not logs, f"engine logs of our EnvRunners left behind: {logs}"
