"""Helpers of the engine-launcher tests: waiting for events, never for a fixed time."""

from __future__ import annotations

import os
import time

SAFETY_S = 120.0  # only reached when something is broken


def wait_for_output(proc, text: str, timeout: float = SAFETY_S) -> bool:
    """Wait until the engine printed `text`; False if it exited (or the safety timeout hit) first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in proc.log():
            return True
        if not proc.alive():
            return text in proc.log()
        time.sleep(0.01)
    return False


def pid_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def wait_gone(pid: int, timeout: float = SAFETY_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid_gone(pid):
            return True
        time.sleep(0.01)
    return False


def cpus_allowed(pid: int) -> str:
    """Cpus_allowed_list of a process, as /proc prints it (e.g. "0-1", "1")."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Cpus_allowed_list:"):
                return line.split(":", 1)[1].strip()
    raise AssertionError(f"no Cpus_allowed_list in /proc/{pid}/status")


def cpu_list_text(cpus) -> str:
    """{0, 1} -> "0-1", {1} -> "1" (the kernel's notation for our small sets)."""
    s = sorted(cpus)
    ranges, start = [], s[0]
    for a, b in zip(s, s[1:] + [None]):
        if b != a + 1:
            ranges.append(f"{start}" if start == a else f"{start}-{a}")
            start = b
    return ",".join(ranges)


def children_of(pid: int) -> list[int]:
    """Direct children of `pid` (all its threads)."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found += [int(x) for x in f.read().split()]
        except FileNotFoundError:
            continue
    return found
