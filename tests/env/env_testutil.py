"""Helpers of the environment tests (tests/env): scene paths, chunk and process probes."""

from __future__ import annotations

import os
import time

from godot_aigym.env.link import demo_project

DEMO = demo_project()
TRIVIAL = "res://envs/trivial/trivial.tscn"
CARTPOLE = "res://envs/cartpole/cartpole.tscn"
DIALS = "res://envs/dials/dials.tscn"


def our_chunks() -> set[str]:
    """/dev/shm chunks created by this process (their header's host_pid is us)."""
    import struct

    found = set()
    for name in os.listdir("/dev/shm"):
        if not name.startswith("aigym_"):
            continue
        try:
            with open(f"/dev/shm/{name}", "rb") as f:
                head = f.read(64)
        except OSError:
            continue
        if len(head) >= 60 and head[:8] == b"AIGYMSHM" and struct.unpack_from("<i", head, 56)[0] == os.getpid():
            found.add(name)
    return found


def engine_children() -> set[int]:
    """Live (non-zombie) child processes of this process running Godot."""
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        rest = stat[stat.rfind(")") + 2:].split()
        program = os.path.basename(cmd.split(b"\0", 1)[0]).lower()  # not the arguments: a Python child's
        if int(rest[1]) == os.getpid() and rest[0] not in "ZX" and b"godot" in program:  # may name godot_aigym
            pids.add(int(entry))
    return pids


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            if state in "ZX":
                return True
        except OSError:
            return True
        time.sleep(0.05)
    return False
