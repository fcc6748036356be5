"""Block until the first of several engines answers, in the caller's thread: Linux `futex_waitv`
(kernel >= 5.16) on their answer semaphores at once. `GodotAsyncVectorEnv.recv` waits so when no
engine is with its waiter thread: the engine's post then wakes the caller directly, instead of
waking a waiter thread that wakes the caller (and the caller having woken that waiter to hand it
the engine), one wake-up per answer instead of three.

The semaphore (gdextension/shm/aigym_shm_sem.h: u32 count, the futex word, then u32 waiters) only
calls FUTEX_WAKE when its waiter count is not 0, so we count ourselves in on every semaphore
(compare-and-swap, as the engine's side does) before sleeping and out after; the kernel re-checks
every count is still 0 before sleeping, so a post in between is not lost. Where the system call
is missing (older kernels, other systems) `AVAILABLE` is False and the waiter threads do it all.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import time

from ..shm import _futexsem as _fs

_SYS_FUTEX_WAITV = {"x86_64": 449, "aarch64": 449}.get(platform.machine())
_FUTEX_32 = 2  # a 32-bit futex word, shared between processes (no FUTEX_PRIVATE_FLAG)
_WAITERS = 4  # byte offset of the semaphore's waiter count


class _Waiter(ctypes.Structure):  # struct futex_waitv
    _fields_ = [("val", ctypes.c_uint64), ("uaddr", ctypes.c_uint64), ("flags", ctypes.c_uint32),
                ("reserved", ctypes.c_uint32)]


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _probe() -> bool:
    """futex_waitv exists: with no futexes it fails with EINVAL (ENOSYS where it is missing)."""
    if _SYS_FUTEX_WAITV is None:
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False
    libc.syscall.restype = ctypes.c_long
    ctypes.set_errno(0)
    return libc.syscall(_SYS_FUTEX_WAITV, None, 0, 0, None, 0) == -1 and ctypes.get_errno() == errno.EINVAL


AVAILABLE = _probe()
_syscall = ctypes.CDLL(None, use_errno=True).syscall if AVAILABLE else None
if _syscall is not None:
    _syscall.restype = ctypes.c_long


def _count_in(addr: int, delta: int) -> None:
    """Atomically add `delta` to the waiter count of the semaphore at `addr`."""
    word = ctypes.c_int32.from_address(addr + _WAITERS)
    while True:
        seen = word.value
        if _fs.cas_i32(addr + _WAITERS, seen, seen + delta) == seen:
            return


def wait_any(addrs: list[int], timeout: float) -> bool:
    """Sleep until one of the semaphores at `addrs` (their addresses) may have a count, at most
    `timeout` seconds: True when woken or a count was already there (the caller takes it with a
    trywait, which may still find 0), False when the time ran out. Needs AVAILABLE."""
    waiters = (_Waiter * len(addrs))()
    for w, addr in zip(waiters, addrs):
        w.uaddr, w.flags = addr, _FUTEX_32  # val 0: sleep while every count is 0
    for addr in addrs:
        _count_in(addr, 1)
    try:
        deadline = time.monotonic_ns() + int(timeout * 1e9)
        ts = _Timespec(deadline // 1_000_000_000, deadline % 1_000_000_000)
        rc = _syscall(_SYS_FUTEX_WAITV, waiters, len(addrs), 0, ctypes.byref(ts), time.CLOCK_MONOTONIC)
        return rc >= 0 or ctypes.get_errno() in (errno.EAGAIN, errno.EINTR)
    finally:
        for addr in addrs:
            _count_in(addr, -1)
