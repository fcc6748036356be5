"""ctypes bindings to glibc's process-shared semaphores.

``CDLL(None)`` calls release the GIL, so a blocked wait never stalls other Python threads.
Semaphores are addressed by raw pointers into the chunk's mapping; the caller keeps the
mapping alive (a buffer export) for as long as it uses a pointer.
"""

from __future__ import annotations

import ctypes
import os
import sys

if not sys.platform.startswith("linux"):  # pragma: no cover - the engine side is Linux-only too
    raise ImportError("godot_aigym.shm needs Linux (POSIX shared memory and glibc semaphores)")

libc = ctypes.CDLL(None, use_errno=True)

CLOCK_MONOTONIC = 1  # time.CLOCK_MONOTONIC; time.monotonic_ns() reads the same clock on Linux


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


sem_init = libc.sem_init
sem_init.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint]
sem_init.restype = ctypes.c_int

sem_post = libc.sem_post
sem_post.argtypes = [ctypes.c_void_p]
sem_post.restype = ctypes.c_int

sem_trywait = libc.sem_trywait
sem_trywait.argtypes = [ctypes.c_void_p]
sem_trywait.restype = ctypes.c_int

sem_getvalue = libc.sem_getvalue
sem_getvalue.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
sem_getvalue.restype = ctypes.c_int

# sem_clockwait (glibc >= 2.30) takes a CLOCK_MONOTONIC deadline, immune to wall-clock jumps;
# older glibc falls back to sem_timedwait on CLOCK_REALTIME.
try:
    _sem_clockwait = libc.sem_clockwait
    _sem_clockwait.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(Timespec)]
    _sem_clockwait.restype = ctypes.c_int
except AttributeError:  # pragma: no cover - glibc < 2.30
    _sem_clockwait = None
    _sem_timedwait = libc.sem_timedwait
    _sem_timedwait.argtypes = [ctypes.c_void_p, ctypes.POINTER(Timespec)]
    _sem_timedwait.restype = ctypes.c_int

SEM_VALUE_MAX = 2**31 - 1


def sem_wait_until(ptr: int, deadline_monotonic_ns: int, ts: Timespec) -> int:
    """Block on the semaphore at ``ptr`` until ``deadline_monotonic_ns``; 0 or -1 (errno set)."""
    if _sem_clockwait is not None:
        ts.tv_sec, ts.tv_nsec = divmod(deadline_monotonic_ns, 1_000_000_000)
        return _sem_clockwait(ptr, CLOCK_MONOTONIC, ctypes.byref(ts))
    import time  # pragma: no cover - fallback path

    real = time.clock_gettime_ns(time.CLOCK_REALTIME) + deadline_monotonic_ns - time.monotonic_ns()
    ts.tv_sec, ts.tv_nsec = divmod(real, 1_000_000_000)
    return _sem_timedwait(ptr, ctypes.byref(ts))


def errno() -> int:
    return ctypes.get_errno()


def strerror(code: int) -> str:
    return os.strerror(code)
