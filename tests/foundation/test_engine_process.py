"""GodotProcess: launching, supervising and stopping real engines."""

from __future__ import annotations

import os
import signal
import threading

import pytest
from engine_testutil import wait_for_output

from godot_aigym.engine import GodotProcess, GodotProcessError, LaunchOptions, run_godot
from godot_aigym.runtime import GodotNotFoundError

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]
DEMO = REPO / "demo_project"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def test_wrong_project_and_scene_are_rejected_before_launch(tmp_path, godot):
    with pytest.raises(GodotProcessError, match=r"not a Godot project \(no project.godot\)"):
        GodotProcess(LaunchOptions(project=tmp_path), godot=godot)
    with pytest.raises(GodotProcessError, match=r"scene not found: res://nope.tscn"):
        GodotProcess(LaunchOptions(project=DEMO, scene="res://nope.tscn"), godot=godot)


def test_smoke_scene_runs_from_a_relative_project_path(godot, built_core, monkeypatch):
    monkeypatch.chdir(REPO)
    code, output = run_godot(LaunchOptions(project="demo_project", scene="res://smoke/smoke.tscn"), godot=godot)
    assert code == 0, output
    assert "AIGYM_EXTENSION godot-aigym" in output


def test_the_engine_may_be_given_as_a_path(godot, built_core, tmp_path):
    # EnvOptions.godot is documented as "a GodotRuntime or a path": a path was an AttributeError
    code, output = run_godot(LaunchOptions(project=DEMO, scene="res://smoke/smoke.tscn"), godot=str(godot.path))
    assert code == 0 and "AIGYM_EXTENSION godot-aigym" in output, output
    not_godot = tmp_path / "godot"
    not_godot.write_text("#!/bin/sh\nexit 0\n")
    not_godot.chmod(0o755)
    with pytest.raises(GodotNotFoundError, match=rf"the Godot you named .* {not_godot}: `--version` printed no version"):
        GodotProcess(LaunchOptions(project=DEMO, scene="res://smoke/smoke.tscn"), godot=not_godot)


def test_wait_timeout_kills_the_engine_and_leaves_no_log_file(godot, test_project):
    proc = GodotProcess(LaunchOptions(project=test_project, script="res://lib/idle.gd"), godot=godot)
    assert wait_for_output(proc, "IDLE"), proc.log_tail()  # running, whatever the machine's speed
    with pytest.raises(GodotProcessError, match=r"Godot did not exit within 0.2 s; killed it"):
        proc.wait(timeout=0.2)  # idle.gd never exits: any timeout expires
    assert not _alive(proc.pid)
    assert "IDLE" in proc.log()
    assert not proc.log_path.exists(), "a temporary log file must not outlive the process"
    proc.close()  # harmless a second time


def test_engine_started_from_a_worker_thread_outlives_the_thread(godot, test_project):
    """The parent-death signal is per thread: engines are forked from a long-lived thread."""
    box = {}

    def start():
        box["proc"] = GodotProcess(LaunchOptions(project=test_project, script="res://lib/idle.gd"), godot=godot)

    worker = threading.Thread(target=start)
    worker.start()
    worker.join()
    proc = box["proc"]
    try:
        # the worker thread has ended; an engine killed by its end never prints its line
        assert wait_for_output(proc, "IDLE"), "the engine died with the thread that started it:\n" + proc.log_tail()
        assert _alive(proc.pid)
    finally:
        proc.close(grace=0)
    assert not _alive(proc.pid)


def test_close_terminates_a_stopped_engine_without_waiting_for_sigkill(godot, test_project):
    """A stopped (SIGSTOP, debugger...) engine cannot act on SIGTERM: close() continues it, so
    it ends by SIGTERM instead of sitting out the SIGTERM wait until the SIGKILL."""
    proc = GodotProcess(LaunchOptions(project=test_project, script="res://lib/idle.gd"), godot=godot)
    assert wait_for_output(proc, "IDLE"), proc.log_tail()
    os.kill(proc.pid, signal.SIGSTOP)
    assert proc.close(grace=0) == -signal.SIGTERM


def test_an_engine_is_stopped_when_a_process_it_needs_exits(godot, test_project):
    """A rendering engine whose X server died hung in Xlib: its host waited out the step timeout
    (120 s) for an EngineTimeoutError. `LaunchOptions.needs` (set by rendering_launch_options to
    the X server) stops the engine as soon as one exits, with the reason in its log."""
    import subprocess
    import sys

    needed = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    proc = GodotProcess(LaunchOptions(project=test_project, script="res://lib/idle.gd",
                                      needs=((needed.pid, "its X server (display :99)"),)), godot=godot)
    try:
        assert wait_for_output(proc, "IDLE"), proc.log_tail()
        needed.stdin.close()
        assert needed.wait(timeout=60) == 0
        assert proc.wait(timeout=60) == -signal.SIGKILL  # the safety net only fires if nothing stops it
        assert f"its X server (display :99) (pid {needed.pid}) exited; the engine cannot run without it" in proc.log()
    finally:
        proc.close(grace=0)
    # a needed process that is already gone: the engine is stopped at once
    gone = GodotProcess(LaunchOptions(project=test_project, script="res://lib/idle.gd",
                                      needs=((needed.pid, "its X server"),)), godot=godot)
    assert gone.wait(timeout=60) == -signal.SIGKILL
    gone.close()
