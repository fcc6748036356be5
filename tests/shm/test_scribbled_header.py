"""An attached side keeps what it validated at attach: a header scribbled later does not change
whose death it watches (as the engine: aigym_shm_mapping.host_pid)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from godot_aigym.shm import SharedMemory, WaitTimeout
from godot_aigym.shm import layout as L


def test_a_scribbled_host_pid_does_not_fake_the_hosts_death(mem):
    sem = mem.newSemaphore("s", 0)
    attached = SharedMemory.attach(mem.handle)
    try:
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()  # a pid that no longer runs
        offset = L.HEADER_OFFSETS["host_pid"]
        mem._mm[offset:offset + 4] = gone.pid.to_bytes(4, "little", signed=True)
        # the host (this process) is alive: the wait must run out, not report the host dead
        with pytest.raises(WaitTimeout):
            attached.find_semaphore(sem.name).wait(timeout=0.3)
    finally:
        attached.close()
