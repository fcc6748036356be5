"""Crash cycles: hosts or engines killed with SIGKILL at random points leave nothing behind.

Each cycle starts a real host process (`crash_host.py`) that creates chunks, runs a GodotEnv
on the demo project, or runs the first import of a fresh copy of a tiny project, and kills it
with SIGKILL at a random moment of that phase (seeded RNG). After each batch, and a fresh
host's sweep (the documented clean-up of a killed host's leftovers at the next start), there
must be 0 `/dev/shm` chunks and placement records of those hosts, 0 engine processes and 0
engine log files. Other
cycles kill an engine instead (during its start-up or while stepping): its host must raise one of
our errors and clean up by itself, with no sweep.

Hosts are forked by a fork server that has only imported the package (crash_host.py says why:
imports were most of a cycle's CPU). Every host and engine carries a tag in its environment, so
the test finds exactly its own processes among those of anyone else using the machine. Waits are for events (a marker line,
a pid's exit); the random delays only choose where the kill lands, nothing is timed.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from godot_aigym.engine.logs import log_dir

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEMO = REPO / "demo_project"
TRIVIAL = "res://envs/trivial/trivial.tscn"
TINY = REPO / "tests" / "foundation" / "tiny_project"
SEED = 20261129
BATCHES = 4
CYCLES_PER_BATCH = 13          # 52 cycles
PARALLEL_HOSTS = 2             # cycles run side by side (each with its own seeded RNG)
KILL_WINDOW_S = {"chunk": 0.05, "compat": 0.05, "env": 1.0, "vector": 1.0, "render": 1.5, "import": 0.5, "engine": 0.6}
CHILD_MARK = {"env": b"--handle", "vector": b"--handle", "render": b"--handle", "import": b"--import",
              "engine": b"--handle"}
REACH = "res://envs/reach/reach.tscn"  # a rendering scene: the host starts its own Xvfb
SAFETY_S = 60.0                # only reached when something is broken
TAG = "GODOT_AIGYM_CRASH_TEST"

SHM_MAGIC = b"AIGYMSHM"
HOST_PID_AT = 56


def tagged_processes(tag: str) -> set[int]:
    """Live (non-zombie) processes whose environment carries our tag: engines, imports, X servers
    (a forked host's own /proc environ is the fork server's; hosts are reaped when killed)."""
    needle = f"{TAG}={tag}".encode()
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    continue
        except OSError:
            continue
        found.add(int(entry))
    return found


def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + SAFETY_S
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} (waited {SAFETY_S:g} s)")
        time.sleep(0.01)


def chunks_of(host_pids: set[int], handle_prefix: str) -> list[str]:
    """/dev/shm chunks named with our prefix (magic or not), whose header names a killed host, or
    chunks a killed host was still building (".aigym-new.<pid>.<start time>.<random>")."""
    left = []
    for name in os.listdir("/dev/shm"):
        parts = name.split(".")
        if name.startswith(".aigym-new.") and len(parts) > 2 and parts[2].isdigit() and int(parts[2]) in host_pids:
            left.append(name)
            continue
        if name.startswith(handle_prefix):  # also the compatibility API's names without aigym_
            left.append(name)
            continue
        if not name.startswith("aigym_"):
            continue
        try:
            with open(f"/dev/shm/{name}", "rb") as f:
                head = f.read(64)
        except OSError:
            continue
        if len(head) >= 64 and head[:8] == SHM_MAGIC and struct.unpack_from("<i", head, HOST_PID_AT)[0] in host_pids:
            left.append(name)
    return left


def placement_records_of(host_pids: set[int]) -> list[str]:
    """/dev/shm placement records (env/placement_registry.py: aigym-place-<pid>-<start time>, or
    one being written, with a leading '.') of the killed hosts."""
    return [n for n in os.listdir("/dev/shm") if n.lstrip(".").startswith("aigym-place-")
            and n.lstrip(".").split("-")[2].isdigit() and int(n.lstrip(".").split("-")[2]) in host_pids]


def logs_of(host_pids: set[int]) -> list[str]:
    return [n for n in os.listdir(log_dir())
            if n.startswith("godot-aigym-") and n.split("-")[2:3] and n.split("-")[2].isdigit()
            and int(n.split("-")[2]) in host_pids]


def child_with(host: "Host", mark: bytes) -> bool:
    """Whether `host` has a child whose command line holds `mark` (e.g. the --import run); that
    child must carry the test's tag (else the checks for live processes would see nothing)."""
    return bool(children_with(host, mark))


def children_with(host: "Host", mark: bytes) -> list[int]:
    """The pids of `host`'s children whose command line holds `mark` (see child_with)."""
    found = []
    try:
        tids = os.listdir(f"/proc/{host.pid}/task")
    except FileNotFoundError:  # exited and reaped
        return found
    for tid in tids:
        try:
            with open(f"/proc/{host.pid}/task/{tid}/children") as f:
                kids = f.read().split()
        except OSError:
            continue
        for kid in kids:
            try:
                with open(f"/proc/{kid}/cmdline", "rb") as f:
                    if mark not in f.read().split(b"\0"):
                        continue
                with open(f"/proc/{kid}/environ", "rb") as f:
                    tagged = f"{TAG}={host.server.tag}".encode() in f.read().split(b"\0")
            except OSError:
                continue
            assert tagged, f"the host's child {kid} ({mark.decode()}) does not carry the test's tag"
            found.append(int(kid))
    return found


class Host:
    """A host forked by the fork server: its pid, its stdout, a pidfd to see it exit."""

    def __init__(self, server: "HostServer", pid: int, pidfd: int, stdout):
        self.server, self.pid, self.pidfd, self.stdout = server, pid, pidfd, stdout  # the server's pidfd: valid once reaped

    def exited(self) -> bool:
        return bool(select.select([self.pidfd], [], [], 0)[0])

    def kill(self) -> None:
        """SIGKILL and reaped (as Popen.kill() and wait())."""
        self.server.request({"kill": self.pid})
        os.close(self.pidfd)
        self.stdout.close()


class HostServer:
    """crash_host.py's fork server, started without the tag (its hosts get it): start(args) -> Host."""

    def __init__(self, tag: str):
        self.tag = tag
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen([sys.executable, str(HERE / "crash_host.py"), "serve", str(theirs.fileno())],
                                     pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                                     env={k: v for k, v in os.environ.items() if k != TAG})
        theirs.close()
        self.lock = threading.Lock()  # one request and its answer at a time

    def request(self, message: dict, fds: tuple[int, ...] = ()) -> tuple[bytes, list[int]]:
        """The answer and the fds that came with it."""
        with self.lock:
            socket.send_fds(self.sock, [json.dumps(message).encode()], list(fds))
            answer, got, _, _ = socket.recv_fds(self.sock, 64, 1)
        assert answer, f"the fork server died (exit {self.proc.wait()})"
        return answer, got

    def start(self, args: list[str]) -> Host:
        r, w = os.pipe()
        try:
            answer, (pidfd,) = self.request({"start": args, "tag": [TAG, self.tag]}, (w,))
        finally:
            os.close(w)  # the host holds the only write end: EOF when it dies
        return Host(self, int(answer), pidfd, os.fdopen(r))

    def close(self) -> None:
        self.sock.close()
        try:
            self.proc.wait(timeout=SAFETY_S)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def hosts():
    server = HostServer(uuid.uuid4().hex)
    yield server
    server.close()


def run_cycle(hosts: HostServer, rng: random.Random, mode: str, tmp: Path, handle_prefix: str, k: int) -> tuple[int, bool]:
    """One host killed at a random point; returns its pid and whether its engine child was running."""
    if mode in ("chunk", "compat"):
        args = [mode, f"{handle_prefix}{k}_"]
    elif mode in ("env", "vector"):
        args = [mode, str(DEMO), TRIVIAL]
    elif mode == "render":  # shader cache in the test's own data folder: kills tear only its files
        args = [mode, str(DEMO), REACH, str(tmp / "data")]
    else:
        project = tmp / f"tiny{k}"
        shutil.copytree(TINY, project)  # a fresh project: the import is real
        args = ["import", str(project)]
    host = hosts.start(args)
    try:
        assert host.stdout.readline().strip() == "GO", f"the {mode} host did not start"
        if mode in CHILD_MARK and rng.random() < 0.7:  # mostly while the engine/import runs
            wait_until(lambda: child_with(host, CHILD_MARK[mode]) or host.exited(),
                       f"the {mode} host never started its engine")
        time.sleep(rng.uniform(0.0, KILL_WINDOW_S[mode]))  # where the kill lands, not a wait
        caught = mode in CHILD_MARK and child_with(host, CHILD_MARK[mode])
        if host.exited():
            pytest.fail(f"the {mode} host exited by itself before it was killed")
    finally:
        host.kill()
    return host.pid, caught


SWEEP = ("from godot_aigym import sweep_stale_chunks, sweep_stale_logs; sweep_stale_chunks(); sweep_stale_logs(); "
         "from godot_aigym.display import sweep_stale_displays; sweep_stale_displays(); "
         "from godot_aigym.env import placement_registry; placement_registry.others()")  # a placing host's read


def display_records_of(host_pids: set[int]) -> list[str]:
    """X server records (xvfb-<host pid>-<random>.json / .xauth) of the killed hosts."""
    from godot_aigym.display import records_dir

    return [n for n in os.listdir(records_dir()) if n.startswith("xvfb-") and n.split("-")[1].isdigit()
            and int(n.split("-")[1]) in host_pids]


@pytest.mark.timeout(600)
def test_hosts_killed_at_random_points_leave_nothing_behind(tmp_path, demo_imported, hosts):
    tag = hosts.tag
    handle_prefix = f"aigym_crash{os.getpid()}x"
    modes = ["chunk", "env", "import"]
    all_hosts: set[int] = set()
    caught = 0

    def cycle(k: int) -> tuple[int, bool]:
        rng = random.Random(f"{SEED}-{k}")  # each cycle its own seeded choices, whichever thread runs it
        return run_cycle(hosts, rng, rng.choice(modes), tmp_path, handle_prefix, k)

    # Two hosts at a time (their start-up is most of a cycle's cost): each cycle is on its own
    # (own host, chunk names, project copy), and the checks below cover every host of the batch.
    with ThreadPoolExecutor(max_workers=PARALLEL_HOSTS) as pool:
        for batch in range(BATCHES):
            for pid, with_child in pool.map(cycle, range(batch * CYCLES_PER_BATCH, (batch + 1) * CYCLES_PER_BATCH)):
                all_hosts.add(pid)
                caught += with_child
            # engines and imports die with their host (parent-death signal): wait for the exits
            wait_until(lambda: not tagged_processes(tag), f"processes of killed hosts still running: "
                                                          f"{tagged_processes(tag)}")
            # the next host's start-up sweep removes what a SIGKILLed host could not
            subprocess.run([sys.executable, "-c", SWEEP], check=True, timeout=SAFETY_S)
            assert chunks_of(all_hosts, handle_prefix) == [], f"batch {batch}: chunks left"
            assert logs_of(all_hosts) == [], f"batch {batch}: engine log files left"
            assert placement_records_of(all_hosts) == [], f"batch {batch}: placement records left"
    assert caught >= 10, f"only {caught} kills landed while an engine or import was running"


@pytest.fixture(scope="module")
def demo_imported(godot):
    from godot_aigym.engine import ensure_imported

    ensure_imported(DEMO, godot)  # the env hosts must not all race to import the demo project
    return DEMO


@pytest.mark.timeout(600)
def test_vector_rendering_and_compat_hosts_killed_at_random_points_leave_nothing_behind(tmp_path, demo_imported,
                                                                                       hosts):
    """The other kinds of host: a vector env with 2 engines, a rendering env with its private
    Xvfb (records and server), the compatibility API's fixed-name chunks."""
    tag = hosts.tag
    handle_prefix = f"environment_crash{os.getpid()}x"  # no aigym_ prefix, as the original's handles
    killed: set[int] = set()
    caught = 0
    for k in range(12):
        rng = random.Random(f"{SEED}-more-{k}")
        pid, with_child = run_cycle(hosts, rng, ("vector", "render", "compat")[k % 3], tmp_path, handle_prefix, k)
        killed.add(pid)
        caught += with_child
    wait_until(lambda: not tagged_processes(tag), f"processes (engines, Xvfb) of killed hosts still running: "
                                                  f"{tagged_processes(tag)}")
    subprocess.run([sys.executable, "-c", SWEEP], check=True, timeout=SAFETY_S)
    assert chunks_of(killed, handle_prefix) == [], "chunks left"
    assert logs_of(killed) == [], "engine log files left"
    assert placement_records_of(killed) == [], "placement records left"
    assert display_records_of(killed) == [], "X server records left"
    assert caught >= 3, f"only {caught} kills landed while an engine was running"


@pytest.mark.timeout(600)
def test_engines_killed_at_random_points_leave_nothing_behind(demo_imported, hosts):
    """An engine (of a GodotEnv, or one of a GodotVectorEnv's two) is SIGKILLed at a random point
    of its start-up or stepping, its host untouched: the host raises one of our errors and, still
    alive (no exit-time clean-up, no sweep), has no chunk, engine or log left."""
    raised: dict[str, int] = {}
    for k in range(12):
        rng = random.Random(f"{SEED}-engine-{k}")
        host = hosts.start(["engine", str(DEMO), TRIVIAL, str(1 + k % 2)])
        try:
            assert host.stdout.readline().strip() == "GO", "the engine host did not start"
            wait_until(lambda: children_with(host, b"--handle") or host.exited(), "the host never started its engine")
            time.sleep(rng.uniform(0.0, KILL_WINDOW_S["engine"]))  # where the kill lands, not a wait
            engines = children_with(host, b"--handle")
            assert engines, "the host ended before an engine was killed"
            os.kill(rng.choice(engines), signal.SIGKILL)
            assert select.select([host.stdout], [], [], SAFETY_S)[0], "the host did not notice its engine's death"
            line = host.stdout.readline().strip()
            assert line.startswith("RAISED godot_aigym."), f"cycle {k}: the host's answer to a killed engine: {line!r}"
            assert not host.exited(), f"cycle {k}: the host ended by itself"
            wait_until(lambda: not children_with(host, b"--handle"), "the host's other engine still runs")
            assert chunks_of({host.pid}, "aigym_never_") == [], f"cycle {k}: the host's chunks outlived the error"
            assert logs_of({host.pid}) == [], f"cycle {k}: the host's engine logs outlived the error"
            assert placement_records_of({host.pid}) == [], f"cycle {k}: the host's placement record outlived the error"
        finally:
            host.kill()
        raised[line] = raised.get(line, 0) + 1
    wait_until(lambda: not tagged_processes(hosts.tag), f"engines still running: {tagged_processes(hosts.tag)}")
    assert sum(raised.values()) == 12, raised  # (EngineDiedError stepping, GodotEnvError at start-up)
