"""The tests' fork server (tests/forked_python.py): a thread waiting for one child's exit never
stops another thread from starting or reaping a child, and exits are told apart by a child
number the server gives, never by pid (a pid comes back once reaped)."""

from __future__ import annotations

import os
import sys
import threading
import time

from forked_python import PythonForkServer

SAFETY_S = 60  # only fires when something is broken


def _in_frame(thread: threading.Thread, name: str) -> bool:
    frame = sys._current_frames().get(thread.ident)
    while frame is not None:
        if frame.f_code.co_name == name:
            return True
        frame = frame.f_back
    return False


def test_a_thread_waiting_for_a_child_does_not_stop_another_spawn():
    server = PythonForkServer(dict(os.environ), ())
    try:
        slow = server.spawn("import sys; sys.exit(int(sys.stdin.readline()))")
        waiter = threading.Thread(target=slow.wait, daemon=True)
        waiter.start()
        deadline = time.monotonic() + SAFETY_S
        while not _in_frame(waiter, "exit_code"):  # the waiter is blocked in the server's exit_code
            assert time.monotonic() < deadline, "the waiter never reached the server's exit_code"
            time.sleep(0.001)
        started: list = []
        spawner = threading.Thread(target=lambda: started.append(server.spawn("raise SystemExit(3)")), daemon=True)
        spawner.start()
        spawner.join(SAFETY_S)
        blocked = spawner.is_alive()
        slow.stdin.write("5\n")  # let the slow child go in any case (no hang either way)
        slow.stdin.flush()
        waiter.join(SAFETY_S)
        spawner.join(SAFETY_S)
        assert not blocked, "spawn() waited for another thread's wait on an unrelated child"
        assert started[0].wait(SAFETY_S) == 3
        assert slow.wait(SAFETY_S) == 5
        assert started[0]._number != slow._number
    finally:
        server.close()
