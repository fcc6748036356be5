"""The one way godot-aigym starts an engine process (runs, imports, smoke runs).

Every child gets, between fork and exec, in the child itself:
- the parent-death signal (SIGKILL by default, or ``death_signal``, when the forking thread,
  hence this process, dies), with a check that the parent did not already die before the
  signal was armed;
- its CPU affinity: ``cpus`` when given, else the mask of the thread that asked (as if it had
  forked the child itself). Setting the mask in the child (not on the calling thread around the
  fork) gives each engine exactly its own mask whichever thread forks it.

Children are forked from the main thread or from one daemon thread that lives as long as the
process: the parent-death signal fires when the *thread* that forked the child ends, so an
engine started from a short-lived worker thread would otherwise die with that thread.
"""

from __future__ import annotations

import ctypes
import operator
import os
import queue
import signal
import subprocess
import threading
from collections.abc import Iterable

from .errors import InvalidCpusError

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)  # loaded here: the child only calls into it
_prctl = _libc.prctl


def usable_cpus() -> list[int]:
    """The CPUs this process may run on, sorted: the main thread's affinity mask (and the
    calling thread's, should it differ: a thread pinned itself)."""
    return sorted(os.sched_getaffinity(os.getpid()) | os.sched_getaffinity(0))


def check_cpus(cpus: int | Iterable[int] | None) -> frozenset[int] | None:
    """Validate a CPU set before anything is created: None, one CPU number or an iterable of them.

    Raises InvalidCpusError naming ``cpus`` and the CPUs that exist here.
    """
    if cpus is None:
        return None
    usable = usable_cpus()
    items = [cpus] if hasattr(cpus, "__index__") else cpus
    try:
        items = list(items)
    except TypeError:
        raise InvalidCpusError(f"cpus must be a CPU number or a list of them, got {cpus!r}; "
                               f"the CPUs this process can use are {usable}") from None
    if not items or any(isinstance(c, bool) or not hasattr(c, "__index__") for c in items):
        raise InvalidCpusError(f"cpus must be a CPU number or a non-empty list of them, got {cpus!r}; "
                               f"the CPUs this process can use are {usable}")
    wanted = frozenset(operator.index(c) for c in items)
    missing = sorted(wanted - set(usable))
    if missing:
        raise InvalidCpusError(f"cpus={sorted(wanted)}: CPU {', '.join(map(str, missing))} does not exist or is "
                               f"not available to this process; the CPUs this process can use are {usable}")
    return wanted


def _child_setup(parent_pid: int, cpus: frozenset[int] | set[int], death_signal: int):
    def setup() -> None:  # runs in the child between fork and exec
        _prctl(PR_SET_PDEATHSIG, death_signal, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before the signal was armed
            os._exit(1)
        os.sched_setaffinity(0, cpus)  # the engine and all its threads inherit it
    return setup


class _Spawner:
    """Forks children from one daemon thread when called off the main thread (see module doc)."""

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def popen(self, args, kwargs) -> subprocess.Popen:
        if threading.current_thread() is threading.main_thread():
            return subprocess.Popen(args, **kwargs)
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="godot-aigym-spawner", daemon=True)
                self._thread.start()
        done: queue.SimpleQueue = queue.SimpleQueue()
        self._requests.put((args, kwargs, done))
        ok, value = done.get()
        if not ok:
            raise value
        return value

    def _serve(self) -> None:
        while True:
            args, kwargs, done = self._requests.get()
            try:
                done.put((True, subprocess.Popen(args, **kwargs)))
            except BaseException as e:  # handed back to the requesting thread
                done.put((False, e))


_spawner = _Spawner()


def spawn(command: list[str], *, cpus: int | Iterable[int] | None = None,
          death_signal: int = signal.SIGKILL, **popen_kwargs) -> subprocess.Popen:
    """Start ``command`` as a child that dies with us, running on ``cpus`` (None: the calling
    thread's CPUs, not those of the thread that happens to fork). ``death_signal`` is what it
    receives when we die (SIGKILL; SIGTERM for a child that must clean up after itself).

    Other keyword arguments go to ``subprocess.Popen`` (not ``preexec_fn``: that is ours).
    """
    if "preexec_fn" in popen_kwargs:
        raise TypeError("spawn() sets preexec_fn itself")
    mask = check_cpus(cpus) or os.sched_getaffinity(0)
    popen_kwargs.setdefault("stdin", subprocess.DEVNULL)
    popen_kwargs["preexec_fn"] = _child_setup(os.getpid(), mask, int(death_signal))
    return _spawner.popen(command, popen_kwargs)
