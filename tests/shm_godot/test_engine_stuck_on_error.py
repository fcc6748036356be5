"""An engine that stops on a script error while the host waits: the host's wait (the idiomatic
API's wait and post_and_wait, what GodotEnv and GodotVectorEnv use) raises EngineScriptError
naming the error, its script and line, instead of waiting for ever; errors the engine answers
change nothing. The game: tests/project/shm/test_stuck_on_error.gd."""

from __future__ import annotations

import pytest

from godot_aigym import SharedMemory
from godot_aigym.engine import GodotProcess, LaunchOptions
from godot_aigym.shm import EngineScriptError
from godot_aigym.shm import layout as L

SCRIPT = "res://shm/test_stuck_on_error.gd"


@pytest.mark.parametrize("wait", ["wait", "post_and_wait", "round_trip"])
def test_the_hosts_wait_raises_the_error_the_engine_stopped_on(godot, test_project, wait):
    with SharedMemory() as mem:
        go, back = mem.newSemaphore("to_engine", 0), mem.newSemaphore("to_host", 0)
        opts = LaunchOptions(project=test_project, script=SCRIPT, handle=mem.handle)
        with GodotProcess(opts, godot=godot) as proc:
            mem.set_peer(proc.popen)
            go.post()
            back.wait()  # round 1: an error, answered
            go.post()
            back.wait()  # round 2: an error logged after the last answer, then a slow answer
            with pytest.raises(EngineScriptError) as err:
                if wait == "wait":
                    go.post()
                    back.wait()
                elif wait == "post_and_wait":
                    go.post_and_wait(back)
                else:
                    go.round_trip(back)()
            assert proc.popen.poll() is None, "the engine lives: stopped on an error, not dead"
            mem.request_shutdown()
            assert proc.wait(timeout=60) == 0
    text = err.value.text
    assert "'queue_free'" in text and "null" in text
    assert text.endswith("(res://shm/test_stuck_on_error.gd:29, _broken_step)")
    assert err.value.semaphore == "to_engine" and err.value.error_count == 1
    assert "waits on semaphore 'to_engine'" in str(err.value) and "'to_host'" in str(err.value)


def test_a_header_scribbled_after_the_attach_does_not_move_the_record(godot, test_project):
    """The engine finds its record where the directory it attached to ends: a host that scribbles
    the header's capacity later (garbage in the chunk) gets the error as usual; the engine wrote
    out of its mapping and crashed before (the record's place was read from the live header)."""
    with SharedMemory() as mem:
        go, back = mem.newSemaphore("to_engine", 0), mem.newSemaphore("to_host", 0)
        opts = LaunchOptions(project=test_project, script=SCRIPT, handle=mem.handle)
        with GodotProcess(opts, godot=godot) as proc:
            mem.set_peer(proc.popen)
            for _ in range(2):  # rounds 1 and 2: the engine attached long ago
                go.post()
                back.wait()
            at = L.HEADER_OFFSETS["capacity"]
            capacity = L.U32.unpack_from(mem._mm, at)[0]
            L.U32.pack_into(mem._mm, at, 0xFFFFFFFF)
            try:
                with pytest.raises(EngineScriptError) as err:
                    go.post()
                    back.wait()
                assert proc.popen.poll() is None, "the engine lives"
            finally:
                L.U32.pack_into(mem._mm, at, capacity)
            mem.request_shutdown()
            assert proc.wait(timeout=60) == 0
    assert err.value.text.endswith("(res://shm/test_stuck_on_error.gd:29, _broken_step)")
