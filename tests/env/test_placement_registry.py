"""The machine-wide record of which CPUs each host's engines run on (placement_registry): what a
host publishes, what the others read, and that a dead host's record is ignored and removed.
Records go to a private directory here, not /dev/shm (other test workers run engines)."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
from forked_python import PythonForkServer

from godot_aigym.env import placement, placement_registry as registry
from godot_aigym.owners import owner_tag

CHILD = """
import sys
from godot_aigym.env import placement_registry as registry
registry.directory = sys.argv[1]
registry.publish([{1}, None, {0, 2}])
print("published", flush=True)
sys.stdin.readline()
"""


@pytest.fixture(scope="module")
def hosts():
    """Other hosts: forks of a server that has imported the registry (what `python -c CHILD` runs)."""
    server = PythonForkServer(dict(os.environ), ("godot_aigym.env.placement_registry",))
    yield server
    server.close()


@pytest.fixture
def records(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "directory", str(tmp_path))
    monkeypatch.setattr(registry, "_written", None)
    yield tmp_path
    registry.remove_own()


def start_child(hosts: PythonForkServer, directory) -> subprocess.Popen:
    """Another host that published its record (waits for its line: no timing)."""
    proc = hosts.spawn(CHILD, (str(directory),))
    assert proc.stdout.readline().strip() == "published"
    return proc


def test_a_host_sees_another_hosts_engines_and_not_its_own(records, hosts):
    registry.publish([{0}])
    assert registry.others() == []  # our own record is not another host's
    child = start_child(hosts, records)
    try:
        assert registry.others() == [[{1}, None, {0, 2}]]
    finally:
        child.stdin.close()
        assert child.wait() == 0
    assert registry.others() == []  # it removed its record at exit
    assert os.listdir(records) == [f"aigym-place-{owner_tag()}"]


def test_the_record_of_a_killed_host_is_ignored_and_removed(records, hosts):
    child = start_child(hosts, records)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stdin.close()
    child.stdout.close()
    assert len(os.listdir(records)) == 1  # SIGKILL: nothing removed it
    assert registry.others() == []
    assert os.listdir(records) == []


def test_a_host_that_stops_its_last_engine_withdraws_its_record(records):
    registry.publish([{1}, {0}])
    path = records / f"aigym-place-{owner_tag()}"
    assert path.read_text() == "1\n0\n" and (path.stat().st_mode & 0o777) == 0o600
    registry.publish([None])
    assert path.read_text() == "\n"
    registry.publish([])
    assert os.listdir(records) == []


def test_odd_files_are_neither_read_nor_removed(records):
    (records / "aigym-place-notatag").write_text("1\n")
    (records / f"aigym-place-{os.getppid()}-1").write_text("garbage,x\n")  # a live pid, wrong start time: dead owner
    os.chmod(records / f"aigym-place-{os.getppid()}-1", 0o600)  # private: the sweep's to remove
    (records / "unrelated").write_text("1\n")
    os.symlink("/etc/hostname", records / "aigym-place-1-1")
    assert registry.others() == []
    assert sorted(os.listdir(records)) == ["aigym-place-1-1", "aigym-place-notatag", "unrelated"]


def test_engines_of_this_process_are_published_as_they_start_and_stop(records, monkeypatch):
    class Engine:
        def __init__(self, cpus):
            self.cpus, self.closed = cpus, False

    a, b = Engine({1}), Engine(None)
    monkeypatch.setattr(placement, "_running", type(placement._running)())
    placement.register(a)
    placement.register(b)
    path = records / f"aigym-place-{owner_tag()}"
    assert sorted(path.read_text().split("\n")) == ["", "", "1"]
    a.closed = True
    placement.unregister(a)
    assert path.read_text() == "\n"
    placement.unregister(b)
    assert not path.exists()


def _others_in_a_thread():
    """registry.others() run in a daemon thread; None if it blocked (the join timeout is only a
    safety net for the broken case, never reached when reading works)."""
    import threading
    out = []
    t = threading.Thread(target=lambda: out.append(registry.others()), daemon=True)
    t.start()
    t.join(30)
    return out[0] if out else None


def test_a_fifo_under_a_record_name_is_skipped_without_blocking(records):
    os.mkfifo(records / "aigym-place-1-1", 0o600)  # as a hostile local user could plant in /dev/shm
    assert _others_in_a_thread() == []
    assert "aigym-place-1-1" in os.listdir(records)  # not ours to remove either


def test_a_record_others_can_read_is_neither_read_nor_removed(records, hosts):
    child = start_child(hosts, records)
    try:
        (path,) = [records / n for n in os.listdir(records) if n.startswith("aigym-place-")]
        assert registry.others() == [[{1}, None, {0, 2}]]
        os.chmod(path, 0o640)
        assert _others_in_a_thread() == []
        os.chmod(path, 0o600)
        child.kill()
        child.wait()
        os.chmod(path, 0o604)  # a dead host's record, but not a private one: the sweep leaves it
        assert registry.others() == [] and path.exists()
    finally:
        child.kill()
        child.wait()
