"""A hostile same-user writer of a live chunk, for tests/shm_godot/test_live_corruption.py.

`HostileWriter` scribbles seeded random bytes over one place of a chunk at a time: a field of
a directory entry (name, kind/dtype, count, offset, nbytes), the header, a semaphore's words,
the engine record or a tensor's data. It scribbles either at once (between steps) or from its
own thread as soon as the caller is about to block in a step (`during`), and every scribble is
applied exactly once: the caller waits for it (an event, never a sleep) before the next one.
`check_engine_ended` reads what a real engine left when it ended.
"""

from __future__ import annotations

import os
import queue
import signal
import threading
from dataclasses import dataclass

import numpy as np

from godot_aigym.shm import layout as L

# an engine that crashed prints one of these (Godot's crash handler, glibc, sanitizers)
CRASH_MARKS = ("Program crashed", "handle_crash", "Segmentation fault", "Bus error", "Aborted",
               "AddressSanitizer", "futex facility", "terminate called")
CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGILL, signal.SIGFPE}

# (kind, weight): where a scribble lands; fields of an entry are their own kinds
ENTRY_FIELDS = {"entry.name": (0, 64), "entry.kind_dtype": (64, 72), "entry.count": (72, 80),
                "entry.offset": (80, 88), "entry.nbytes": (88, 96)}
KINDS = (("header", 2), ("entry.name", 2), ("entry.kind_dtype", 2), ("entry.count", 3), ("entry.offset", 3),
         ("entry.nbytes", 3), ("semaphore", 2), ("record", 2), ("data", 4))


@dataclass(frozen=True)
class Scribble:
    kind: str
    where: str  # the entry's name, or the region
    start: int
    data: bytes

    def __str__(self) -> str:
        return f"{self.kind} of {self.where} at {self.start}: {self.data.hex()}"


class HostileWriter:
    """Seeded scribbles over the chunk `mem` (a SharedMemory this process created)."""

    def __init__(self, mem, seed: int) -> None:
        self.mem = mem
        self.rng = np.random.default_rng(seed)
        self.kinds = [k for k, _ in KINDS]
        weights = np.array([w for _, w in KINDS], float)
        self.weights = weights / weights.sum()
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    # -- choosing ------------------------------------------------------------------------------
    def next(self, rng: np.random.Generator | None = None) -> Scribble:
        """The next scribble, drawn from ``rng`` (default: the writer's own seeded stream): a kind,
        a place of that kind, 1..16 random bytes."""
        rng = self.rng if rng is None else rng
        entries = sorted(self.mem._entries.values(), key=lambda e: e.index)
        kind = self.kinds[rng.choice(len(self.kinds), p=self.weights)]
        if kind == "header":
            where, lo, hi = "header", 0, L.HEADER_SIZE
        elif kind == "record":
            lo = L.engine_record_offset_for(self.mem.capacity)
            where, hi = "engine record", lo + 64  # the words and the start of the text
        elif kind.startswith("entry."):
            e = entries[rng.integers(len(entries))]
            a, b = ENTRY_FIELDS[kind]
            where, lo, hi = e.name, L.entry_offset(e.index) + a, L.entry_offset(e.index) + b
        else:
            want = L.KIND_SEMAPHORE if kind == "semaphore" else L.KIND_TENSOR
            pool = [e for e in entries if e.kind == want]
            e = pool[rng.integers(len(pool))]
            where, lo, hi = e.name, e.offset, e.offset + (L.SEM_SIZE if kind == "semaphore" else min(e.nbytes, 256))
        n = int(rng.integers(1, min(16, hi - lo) + 1))
        start = int(rng.integers(lo, hi - n + 1))
        return Scribble(kind, where, start, rng.bytes(n))

    def apply(self, s: Scribble) -> None:
        mm = self.mem._mm
        if mm is not None:
            mm[s.start:s.start + len(s.data)] = s.data

    # -- during a step: from a thread --------------------------------------------------------------
    def during(self, s: Scribble) -> None:
        """Hand `s` to the writer thread, which applies it at once, racing the caller's next
        call (the step it is about to make and wait in). Call `settle()` after that call."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="hostile-writer", daemon=True)
            self._thread.start()
        self._done.clear()
        self._tasks.put(s)

    def settle(self, timeout: float = 60) -> None:
        """Wait until the scribble handed to `during` was applied (an event, set by the thread)."""
        assert self._done.wait(timeout), "the writer thread did not apply its scribble"

    def _run(self) -> None:
        while True:
            s = self._tasks.get()
            if s is None:
                return
            try:
                self.apply(s)
            finally:
                self._done.set()

    def stop(self) -> None:
        if self._thread is not None:
            self._tasks.put(None)
            self._thread.join(timeout=60)
            self._thread = None


def check_engine_ended(popen, log: str, what: str, killed_ok: bool = False) -> int:
    """The engine `popen` (already ended and reaped) exited by itself, or was stopped by its
    host (SIGTERM/SIGKILL) only when `killed_ok`; never by a crash signal; no crash in its log."""
    code = popen.returncode
    assert code is not None, f"{what}: the engine is still running"
    assert not (code < 0 and -code in CRASH_SIGNALS), f"{what}: the engine died by signal {-code}\n{log[-3000:]}"
    if code < 0:
        assert killed_ok, f"{what}: the engine did not exit by itself (signal {-code})\n{log[-3000:]}"
    for mark in CRASH_MARKS:
        assert mark not in log, f"{what}: the engine's log shows a crash ({mark!r})\n{log[-3000:]}"
    return code


def leftovers(handles, log_paths) -> list[str]:
    """What the runs left behind: chunks still in /dev/shm under `handles`, log files in `log_paths`."""
    left = [f"/dev/shm/{h}" for h in handles if os.path.exists(f"/dev/shm/{h}")]
    return left + [str(p) for p in log_paths if p is not None and os.path.exists(p)]
