"""Helpers of the RLlib tests: leak probes keyed by the pids our EnvRunners report (other jobs on
the machine may run engines of their own meanwhile)."""

from __future__ import annotations

import glob
import os
import socket
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


# --- Ray's own processes and sockets -------------------------------------------------------

def ray_processes(temp_dir: str) -> set[int]:
    """Live processes of the Ray instance whose session files are in ``temp_dir`` (raylet,
    gcs_server, agents and workers all name their session folder on their command line)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if temp_dir.encode() in cmd and alive(int(entry)):
            found.add(int(entry))
    return found


def _socket_inodes(pids: set[int]) -> set[str]:
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    return inodes


def _address(hex_addr: str) -> str:
    ip, port = hex_addr.split(":")
    raw = bytes.fromhex(ip)
    if len(raw) == 4:
        return f"{'.'.join(str(b) for b in raw[::-1])}:{int(port, 16)}"
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))  # 4 little-endian words
    return f"[{socket.inet_ntop(socket.AF_INET6, words)}]:{int(port, 16)}"


def _loopback(addr: str) -> bool:
    host = addr.rsplit(":", 1)[0].strip("[]")
    return host.startswith("127.") or host in ("::1",) or host.startswith("::ffff:127.")


def non_loopback_sockets(pids: set[int]) -> list[str]:
    """TCP/UDP sockets of these processes bound to or connected to anything but loopback
    (a listener on 0.0.0.0 or :: counts: it is reachable from the network)."""
    mine = _socket_inodes(pids)
    bad = []
    for table in ("tcp", "tcp6", "udp", "udp6"):
        try:
            with open(f"/proc/net/{table}") as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            local, remote, inode = _address(cols[1]), _address(cols[2]), cols[9]
            if inode not in mine:
                continue
            unconnected = remote.rsplit(":", 1)[1] == "0"
            if not _loopback(local) or (not unconnected and not _loopback(remote)):
                bad.append(f"{table} {local} -> {remote}")
    return bad
