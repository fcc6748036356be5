"""Process-shared semaphores inside a chunk, with a spin-then-block wait that watches the peer.

Waiting is the hot path of every environment step. On a small VM a blocking wake-up across
vCPUs costs ~55 us, so ``wait`` first spins on ``sem_trywait`` for a bounded time
(``spin_us``, 0 disables), then blocks in ``sem_clockwait`` slices of at most 100 ms and
checks between slices that the peer process is still alive.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import os
import time
from typing import TYPE_CHECKING

from . import _libc
from . import layout as L
from .errors import ChunkClosed, EngineDiedError, SharedMemoryError, WaitTimeout
from ..liveness import Peer, describe_peer, peer_alive
from .validate import Entry

if TYPE_CHECKING:
    from .chunk import SharedMemory

SLICE_NS = 100_000_000  # longest uninterrupted block: bounds how late a dead peer is noticed
# After BUSY_SPIN_NS of pure spinning each spin iteration also calls sched_yield: a peer on our
# own vCPU then runs at once instead of after our whole spin budget (measured on 2 vCPUs:
# ~7 us instead of ~110 us per round trip). 1 us of pure spin first catches a peer on the
# other vCPU without a syscall (1.4 us round trip vs ~1.9 us when yielding from the start).
BUSY_SPIN_NS = 1_000


def _env_spin_us() -> float:
    raw = os.environ.get("AIGYM_SPIN_US", "50")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"AIGYM_SPIN_US must be a number of microseconds, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"AIGYM_SPIN_US must be >= 0, got {raw!r}")
    return value


_default_spin_us: float = _env_spin_us()


def set_default_spin_us(spin_us: float) -> None:
    """Module-wide spin budget (microseconds) for semaphores without their own; 0 disables.

    The initial value comes from the AIGYM_SPIN_US environment variable (default 50).
    """
    global _default_spin_us
    _default_spin_us = _check_spin(spin_us)


def get_default_spin_us() -> float:
    """The module-wide spin budget in microseconds."""
    return _default_spin_us


def _check_spin(spin_us: float) -> float:
    if isinstance(spin_us, bool) or not isinstance(spin_us, (int, float)) or not spin_us >= 0:
        raise ValueError(f"spin_us must be a number of microseconds >= 0, got {spin_us!r}")
    return float(spin_us)


class SharedMemorySemaphore:
    """A named process-shared semaphore in a chunk.

    ``SharedMemorySemaphore(name, init_val)`` creates it in ``memory`` (default: the
    SharedMemory most recently created in this process); ``SharedMemory.find_semaphore``
    returns an existing one. ``spin_us`` overrides the module-wide spin budget; ``peer``
    (a ``subprocess.Popen`` or pid) overrides whose death aborts a wait (default: the
    chunk's peer, see ``SharedMemory.set_peer``).
    """

    def __init__(self, name: str, init_val: int = 0, memory: SharedMemory | None = None, *,
                 spin_us: float | None = None, peer: Peer | None = None) -> None:
        from .chunk import latest_memory  # chunk imports this module

        if memory is None:
            memory = latest_memory()
            if memory is None:
                raise SharedMemoryError(f"cannot create semaphore '{name}': no SharedMemory is open in "
                                        "this process; create one first or pass memory=")
        entry = memory._create_semaphore(name, init_val)
        self._bind(memory, entry, spin_us, peer)
        memory._remember(self)

    @classmethod
    def _from_entry(cls, memory: SharedMemory, entry: Entry) -> SharedMemorySemaphore:
        self = cls.__new__(cls)
        self._bind(memory, entry, None, None)
        return self

    def _bind(self, memory: SharedMemory, entry: Entry, spin_us: float | None, peer: Peer | None) -> None:
        self._memory = memory
        self._entry = entry
        self.name: str = entry.name
        self.spin_us: float | None = None if spin_us is None else _check_spin(spin_us)
        self.peer: Peer | None = peer
        # the buffer export keeps the mapping alive while this object can touch the sem_t
        self._anchor: ctypes.Array | None = (ctypes.c_char * L.SEM_SLOT_SIZE).from_buffer(memory._mm, entry.offset)
        self._ptr = ctypes.c_void_p(ctypes.addressof(self._anchor))
        self._ts = _libc.Timespec()

    def _release(self) -> None:
        """Drop the mapping export (called by SharedMemory.close)."""
        self._anchor = None

    def __repr__(self) -> str:
        return f"<SharedMemorySemaphore '{self.name}' of '{self._memory.handle}'>"

    def _live(self) -> ctypes.Array:
        anchor = self._anchor
        if anchor is None or self._memory.closed:
            raise ChunkClosed(f"semaphore '{self.name}' cannot be used: shared memory "
                              f"'{self._memory.handle}' is closed")
        return anchor

    # -- operations ------------------------------------------------------------------------
    def post(self) -> None:
        """Increment the semaphore, waking one waiter."""
        self._live()
        if _libc.sem_post(self._ptr) != 0:
            code = _libc.errno()
            raise SharedMemoryError(f"post on semaphore '{self.name}' failed: {_libc.strerror(code)}")

    def wait(self, timeout: float | None = None) -> None:
        """Decrement, waiting if needed. ``None`` waits forever (but still watches the peer),
        ``0`` only polls, ``> 0`` waits that many seconds. Raises WaitTimeout when the time
        runs out and EngineDiedError when the peer process dies meanwhile."""
        if not self._acquire(timeout):
            raise WaitTimeout(f"semaphore '{self.name}' of shared memory '{self._memory.handle}' was not "
                              f"posted within {timeout:g} s")

    def timed_wait(self, seconds: float) -> bool:
        """Wait at most ``seconds``; True if decremented, False on timeout (the seed's semantics)."""
        if seconds is None:
            raise ValueError("timed_wait needs a number of seconds; use wait() to wait forever")
        return self._acquire(seconds)

    def try_wait(self) -> bool:
        """Decrement if possible without waiting."""
        return self._acquire(0)

    @property
    def value(self) -> int:
        """Current count (a snapshot; racy by nature)."""
        self._live()
        out = ctypes.c_int()
        _libc.sem_getvalue(self._ptr, ctypes.byref(out))
        return out.value

    # -- the wait ---------------------------------------------------------------------------
    def _acquire(self, timeout: float | None) -> bool:
        anchor = self._live()  # held in this frame: the mapping cannot vanish under the wait
        ptr = self._ptr
        trywait = _libc.sem_trywait
        if trywait(ptr) == 0:
            return True
        self._check_errno(_libc.errno())
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
                raise ValueError(f"timeout must be None or a number of seconds >= 0, got {timeout!r}")
            if timeout == 0:
                return False
        now = time.monotonic_ns
        start = now()
        # beyond ~31 years (or inf) is forever; avoids float -> int overflow
        deadline = None if timeout is None or timeout >= 1e9 else start + int(timeout * 1e9)

        spin_us = _default_spin_us if self.spin_us is None else self.spin_us
        if spin_us > 0:
            spin_end = start + int(spin_us * 1000)
            if deadline is not None and spin_end > deadline:
                spin_end = deadline
            busy_end = start + BUSY_SPIN_NS
            yield_cpu = os.sched_yield
            while True:
                if trywait(ptr) == 0:
                    return True
                t = now()
                if t >= spin_end:
                    break
                if t >= busy_end:
                    # the peer may share our vCPU: let it run instead of spinning against it
                    yield_cpu()

        ts = self._ts
        while True:
            t = now()
            if deadline is not None and t >= deadline:
                return trywait(ptr) == 0
            slice_end = t + SLICE_NS if deadline is None or deadline - t > SLICE_NS else deadline
            if _libc.sem_wait_until(ptr, slice_end, ts) == 0:
                return True
            code = _libc.errno()
            if code not in (_errno.ETIMEDOUT, _errno.EINTR):
                self._check_errno(code)
            if self._memory.closed:
                raise ChunkClosed(f"shared memory '{self._memory.handle}' was closed while waiting on "
                                  f"semaphore '{self.name}'")
            peer = self._watched_peer()
            if peer is not None and not peer_alive(peer):
                if trywait(ptr) == 0:  # it posted just before exiting
                    return True
                raise EngineDiedError(f"{self._memory._peer_role()} process {describe_peer(peer)} died while "
                                      f"waiting on semaphore '{self.name}' of shared memory "
                                      f"'{self._memory.handle}'")

    def _watched_peer(self) -> Peer | None:
        return self.peer if self.peer is not None else self._memory._watched_peer()

    def _check_errno(self, code: int) -> None:
        if code not in (_errno.EAGAIN, _errno.EINTR, _errno.ETIMEDOUT, 0):
            raise SharedMemoryError(f"wait on semaphore '{self.name}' failed: {_libc.strerror(code)}")
