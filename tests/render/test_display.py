"""The host's private X server: started, used by a rendering engine, and gone afterwards.

Gone means: no Xvfb process, no record or cookie file, no display lock or socket, whether the
host closes it, exits, is sent SIGTERM, or is killed with SIGKILL (then the server dies with it
and the next host's sweep removes the record).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from godot_aigym.display import DisplayError, VirtualDisplay, records_dir, sweep_stale_displays
from godot_aigym.display.xvfb import _socket_is_stale
from godot_aigym.liveness import pid_alive
from godot_aigym.runtime import rendering

SAFETY_TIMEOUT = 60.0  # only reached when something is broken


def wait_pid_gone(pid: int) -> None:
    deadline = time.monotonic() + SAFETY_TIMEOUT
    while pid_alive(pid):
        assert time.monotonic() < deadline, f"pid {pid} still alive after {SAFETY_TIMEOUT} s"
        time.sleep(0.01)


def assert_server_gone(display_number: int, server_pid: int, record: Path) -> None:
    wait_pid_gone(server_pid)
    assert not record.exists(), f"record left behind: {record}"
    assert not record.with_suffix(".xauth").exists(), "cookie file left behind"
    assert not Path(f"/tmp/.X{display_number}-lock").exists(), "display lock left behind"
    assert not Path(f"/tmp/.X11-unix/X{display_number}").exists(), "display socket left behind"


def test_server_runs_privately_and_close_removes_everything(display):
    vd, support = display
    with VirtualDisplay(support.xvfb) as own:
        assert own.alive() and own.display_number >= 0 and own.display != vd.display
        rec = json.loads(own.record_path.read_text())
        assert rec["host_pid"] == os.getpid() and rec["server_pid"] == own.pid and rec["display"] == own.display_number
        assert (own.xauthority.stat().st_mode & 0o777) == 0o600
        assert (records_dir().stat().st_mode & 0o777) == 0o700
        cmdline = Path(f"/proc/{own.pid}/cmdline").read_bytes().split(b"\0")
        assert b"-nolisten" in cmdline and b"tcp" in cmdline and b"-auth" in cmdline
        number, pid, record = own.display_number, own.pid, own.record_path
    assert_server_gone(number, pid, record)
    own.close()  # harmless twice


HOST = textwrap.dedent("""
    import os, sys, signal
    from godot_aigym.display import VirtualDisplay, rendering_launch_options
    from godot_aigym.engine import GodotProcess, LaunchOptions
    from godot_aigym.runtime import resolve_godot
    from godot_aigym.runtime.rendering import ensure_rendering
    godot = resolve_godot(provision=False)
    support = ensure_rendering(godot)
    vd = VirtualDisplay(support.xvfb)
    options = rendering_launch_options(LaunchOptions(project=sys.argv[1], script="res://lib/idle.gd"), vd, support)
    engine = GodotProcess(options, godot=godot)
    print("READY", vd.display_number, vd.pid, engine.pid, vd.record_path, flush=True)
    sys.stdin.read()  # until the test kills us
""")


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_killed_host_leaves_no_server_engine_or_record(display, test_project, how):
    host = subprocess.Popen([sys.executable, "-c", HOST, str(test_project)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        line = host.stdout.readline().split()
        assert line and line[0] == "READY", f"host did not start: {line}"
        number, server, engine, record = int(line[1]), int(line[2]), int(line[3]), Path(line[4])
        assert pid_alive(server) and pid_alive(engine) and record.exists()
        host.send_signal(getattr(signal, how))
        host.wait(timeout=SAFETY_TIMEOUT)
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
        host.stdin.close()
        host.stdout.close()
    wait_pid_gone(engine)  # parent-death signal
    wait_pid_gone(server)  # parent-death signal (SIGTERM: it removes its own lock and socket)
    if how == "SIGKILL":  # no handler ran: the record stays until the next host sweeps it
        assert record.exists()
        assert number in sweep_stale_displays()
    assert_server_gone(number, server, record)


def test_close_removes_the_records_folder_once_empty(display, tmp_path, monkeypatch):
    """The per-user records folder goes with the last server that had files in it."""
    _, support = display
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # a records folder of this test's own
    first, second = VirtualDisplay(support.xvfb), VirtualDisplay(support.xvfb)
    folder = records_dir()
    assert folder.parent == tmp_path
    first.close()
    assert sorted(p.name for p in folder.iterdir()) == sorted([second.record_path.name, second.xauthority.name])
    second.close()
    assert not folder.exists(), "empty records folder left behind"
    folder.mkdir(mode=0o700)  # as an earlier version or a crash left it: the next sweep removes it
    assert sweep_stale_displays() == [] and not folder.exists()


def test_server_killed_with_sigkill_with_its_host_leaves_nothing_after_the_sweep(display, test_project, tmp_path,
                                                                                  monkeypatch):
    """No parent-death signal helps a server that is SIGKILLed too: its socket (Xvfb started with
    -displayfd writes no lock here), record, cookie and folder stay until the next host's sweep."""
    shm_before = set(os.listdir("/dev/shm"))
    host = subprocess.Popen([sys.executable, "-c", HOST, str(test_project)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        line = host.stdout.readline().split()
        assert line and line[0] == "READY", f"host did not start: {line}"
        number, server, engine, record = int(line[1]), int(line[2]), int(line[3]), Path(line[4])
        assert record.parent.parent == tmp_path
        for pid in (host.pid, server, engine):
            os.kill(pid, signal.SIGKILL)
        host.wait(timeout=SAFETY_TIMEOUT)
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
        host.stdin.close()
        host.stdout.close()
    wait_pid_gone(server)
    wait_pid_gone(engine)
    # what the sweep is for: the record, and the socket (-displayfd: no lock file, so another host's
    # Xvfb may take the free display number meanwhile and own that socket: then it is not ours)
    socket = Path(f"/tmp/.X11-unix/X{number}")
    assert record.exists()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert sweep_stale_displays() == [number]
    assert not record.exists() and not record.with_suffix(".xauth").exists()
    assert not Path(f"/tmp/.X{number}-lock").exists(), "display lock left behind"
    assert not socket.exists() or not _socket_is_stale(socket), "display socket left behind"
    assert not record.parent.exists(), "records folder left behind"
    # what is left in the host's TMPDIR is its engine's log (swept by the next host's first log)
    assert all(p.name.startswith(f"godot-aigym-{host.pid}-") and p.suffix == ".log" for p in tmp_path.iterdir())
    # and the X server's shared-memory helpers (xshmfence) left nothing named in /dev/shm
    assert not [n for n in set(os.listdir("/dev/shm")) - shm_before if "shmfd" in n or "fence" in n]


def test_sweep_stops_a_server_whose_host_died(display):
    """A server that outlived its host (no parent-death signal reached it) is stopped by pid."""
    vd, support = display
    own = VirtualDisplay(support.xvfb)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    rec = json.loads(own.record_path.read_text())
    rec["host_pid"], rec["host_start_time"] = dead.pid, 1  # as if written by a host now dead
    own.record_path.write_text(json.dumps(rec))
    number, pid, record = own.display_number, own.pid, own.record_path
    assert number in sweep_stale_displays()
    assert_server_gone(number, pid, record)
    assert vd.alive(), "the sweep must not touch a live host's server"
    own.close()


def test_missing_or_failing_x_server_is_a_clear_error(tmp_path):
    before = set(records_dir().iterdir())
    with pytest.raises(DisplayError, match=r"cannot start the X server .*apt-get install -y xvfb"):
        VirtualDisplay(str(tmp_path / "no-such-Xvfb"))
    failing = tmp_path / "Xvfb"
    failing.write_text("#!/bin/sh\necho 'no screens found' >&2\nexit 1\n")
    failing.chmod(0o755)
    with pytest.raises(DisplayError, match=r"the X server exited at start \(code 1\): no screens found"):
        VirtualDisplay(str(failing))
    assert set(records_dir().iterdir()) == before, "a failed start left files behind"


def test_no_xvfb_and_not_root_names_the_package(monkeypatch):
    monkeypatch.setattr(rendering.shutil, "which", lambda name: None)
    monkeypatch.setattr(rendering.os, "geteuid", lambda: 1000)
    with pytest.raises(rendering.RenderingUnavailableError, match=r"sudo apt-get install -y xvfb"):
        rendering.ensure_xvfb()


def x11_handshake(display_number: int, cookie: bytes | None) -> int:
    """The X server's answer to a connection set-up: 1 accepted, 0 refused (X11 protocol, 8.1)."""
    import socket
    import struct

    name = b"MIT-MAGIC-COOKIE-1" if cookie else b""
    data = cookie or b""
    pad = lambda b: b + b"\0" * (-len(b) % 4)  # noqa: E731
    setup = struct.pack("<cxHHHHxx", b"l", 11, 0, len(name), len(data)) + pad(name) + pad(data)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(SAFETY_TIMEOUT)
        s.connect(f"/tmp/.X11-unix/X{display_number}")
        s.sendall(setup)
        return s.recv(1)[0]


def cookie_of(vd: VirtualDisplay) -> bytes:
    raw = vd.xauthority.read_bytes()  # family, address, number, name, data: each length-prefixed
    fields, at = [], 2
    for _ in range(4):
        n = int.from_bytes(raw[at:at + 2], "big")
        fields.append(raw[at + 2:at + 2 + n])
        at += 2 + n
    return fields[3]


def test_only_clients_with_the_cookie_get_in(display):
    vd, _ = display
    assert x11_handshake(vd.display_number, cookie_of(vd)) == 1
    assert x11_handshake(vd.display_number, None) == 0
    assert x11_handshake(vd.display_number, bytes(16)) == 0


def test_server_started_from_a_worker_thread_outlives_the_thread(display):
    """The parent-death signal fires when the forking thread ends: the server must not die with it."""
    import threading

    _, support = display
    started: list[VirtualDisplay] = []
    worker = threading.Thread(target=lambda: started.append(VirtualDisplay(support.xvfb)))
    worker.start()
    worker.join()
    own = started[0]
    try:
        # a full round trip to the server after the thread is gone (the signal would have come first)
        assert x11_handshake(own.display_number, cookie_of(own)) == 1
        assert own.alive()
    finally:
        own.close()
