"""A handle closed by one thread while another waits on it without the GIL (assign's writer
lock, wait_modified): the waiter gets ObjectClosedError, nothing crashes, and the lock is not
left taken.  (The mapping was released at once: the waiter touched unmapped memory, SIGSEGV.)
Each case runs in a forked child, so a crash fails the test instead of killing the runner."""

from __future__ import annotations

import multiprocessing as mp
import struct
import threading
import time

import numpy as np
import pytest

from godot_aigym.shared_object import ObjectClosedError, SharedObject
from godot_aigym.shared_object.layout import SYNC_OFFSET

FORK = mp.get_context("fork")
SAFETY_S = 30  # only reached when something is broken
FUTEX_WAITERS = 0x80000000  # glibc: set in a robust mutex's lock word while a thread sleeps on it


def _u32(obj: SharedObject, offset: int) -> int:
    return struct.unpack_from("<I", obj._seg.header, SYNC_OFFSET + offset)[0]


def _blocked(obj: SharedObject, what: str) -> bool:
    """The other thread sleeps in the kernel: on the writer mutex (its lock word at 64) or as a
    wait_modified waiter (the `waiters` count at 8)."""
    return bool(_u32(obj, 64) & FUTEX_WAITERS) if what == "assign" else _u32(obj, 8) > 0


def _close_while_waiting(name: str, what: str, value: str) -> None:
    data = np.zeros(16, np.uint8) if value == "array" else 0
    owner = SharedObject(name, data=data, lock_timeout=SAFETY_S)
    handle = SharedObject(name, lock_timeout=SAFETY_S)
    handle.assign(data)  # an array's first assign arms the one-call Writer
    outcome: list[BaseException | None] = []

    def waiter() -> None:
        try:
            handle.assign(data) if what == "assign" else handle.wait_modified(SAFETY_S)
            outcome.append(None)
        except BaseException as e:  # noqa: BLE001 - reported below
            outcome.append(e)

    if what == "assign":
        assert owner._lock(float(SAFETY_S), 0.0) >= 0  # held: the waiter blocks on it
    thread = threading.Thread(target=waiter)
    thread.start()
    deadline = time.monotonic() + SAFETY_S
    while not _blocked(owner, what):
        assert time.monotonic() < deadline and thread.is_alive(), "the waiter never blocked"
        time.sleep(0)
    handle.close()
    thread.join(SAFETY_S)
    assert not thread.is_alive() and isinstance(outcome[0], ObjectClosedError), outcome
    if what == "assign":
        owner._unlock()
    owner._lock_timeout = 5.0
    owner.assign(data)  # the closed handle's waiter left the writer lock free
    owner.unlink()
    owner.close()


@pytest.mark.parametrize("what", ["assign", "wait_modified"])
@pytest.mark.parametrize("value", ["array", "int"])
def test_closing_a_handle_another_thread_waits_on(name: str, what: str, value: str) -> None:
    child = FORK.Process(target=_close_while_waiting, args=(name, what, value))
    child.start()
    child.join(2 * SAFETY_S)
    if child.is_alive():
        child.kill()
        child.join()
    assert child.exitcode == 0, f"the child ended with {child.exitcode} (negative: killed by that signal)"


@pytest.mark.parametrize("finish", ["commit", "unlock"])
def test_a_handle_closed_while_it_holds_the_writer_lock_releases_it(name: str, finish: str) -> None:
    """What another thread's close() does to an assign between its lock and its commit (the
    copy runs without the GIL): the commit publishes nothing and raises ObjectClosedError, and
    the writer lock is free for the other handles (it stayed taken: their assigns timed out)."""
    owner = SharedObject(name, data=np.zeros(16, np.uint8), lock_timeout=5.0)
    handle = SharedObject(name)
    published = owner._load()
    p = handle._lock(5.0, 0.0)
    assert p >= 0
    handle.close()
    if finish == "commit":
        with pytest.raises(ObjectClosedError):
            handle._commit((p & 1) ^ 1)
    else:
        handle._unlock()  # the lock it took is released even on a closed handle
    assert owner._load() == published  # nothing published
    owner.assign(np.ones(16, np.uint8))  # the lock is free (else LockTimeoutError after 5 s)
    owner.close()


def test_a_handle_closed_during_the_general_paths_write_raises_object_closed(name: str) -> None:
    """Another thread's close() between the general path's lock and its write (modelled by a
    write that closes first): ObjectClosedError, not the codec's IndexError on its dropped
    views, and the writer lock is free."""
    owner = SharedObject(name, data=np.zeros(16, np.uint8), lock_timeout=5.0)
    handle = SharedObject(name)
    write = handle._write

    def close_then_write(slot: int, value: object) -> None:
        handle.close()
        write(slot, value)

    handle._write = close_then_write
    handle._writer_assign = None  # the general path
    with pytest.raises(ObjectClosedError):
        handle.assign(np.asfortranarray(np.ones(16, np.uint8)))
    owner.assign(np.ones(16, np.uint8))  # the lock is free
    owner.close()
