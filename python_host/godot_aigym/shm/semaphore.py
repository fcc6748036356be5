"""Process-shared semaphores inside a chunk, with a spin-then-block wait that watches the peer.

A semaphore is a validated futex word of our own (``gdextension/shm/aigym_shm_sem.h``, run
through the ``_futexsem`` C extension): garbage written into it by anyone is reported as
``CorruptedSemaphore`` naming it, never a process abort as with glibc's ``sem_t``.

Waiting is the hot path of every environment step. On a small VM a blocking wake-up across
vCPUs costs ~55 us, so ``wait`` first spins for a bounded time (``spin_us``, 0 disables),
then blocks on the futex in slices of at most 100 ms and checks between slices that the
peer process is still alive. The GIL is released while spinning and blocking.
"""

from __future__ import annotations

import ctypes
import os
import time
from typing import TYPE_CHECKING, Callable

from . import layout as L
from .engine_record import stuck_engine
from .errors import ChunkClosed, CorruptedSemaphore, EngineDiedError, EngineScriptError, SharedMemoryError, WaitTimeout
from ..liveness import Peer, describe_peer, peer_alive
from .validate import Entry

try:
    from . import _futexsem as _fs
except ImportError as exc:  # pragma: no cover - only without the compiled helper
    raise ImportError("godot_aigym.shm._futexsem (the compiled semaphore helper) is missing or stale: run "
                      "`pip install -e .` in the repository") from exc

if TYPE_CHECKING:
    from .chunk import SharedMemory

SLICE_NS = 100_000_000  # longest uninterrupted block: bounds how late a dead peer is noticed
# The spin itself runs in C (_futexsem.wait): after 1 us of pure spinning each iteration also
# calls sched_yield, so a peer on our own vCPU runs at once instead of after our whole budget.


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
        # the buffer export keeps the mapping alive while this object can touch the semaphore
        self._anchor: ctypes.Array | None = (ctypes.c_char * L.SEM_SLOT_SIZE).from_buffer(memory._mm, entry.offset)
        self._addr: int = ctypes.addressof(self._anchor)

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
        status = _fs.post(self._addr)
        if status != _fs.OK:
            self._fail("post", status)

    def wait(self, timeout: float | None = None) -> None:
        """Decrement, waiting if needed. ``None`` waits forever (but still watches the peer),
        ``0`` only polls, ``> 0`` waits that many seconds. Raises WaitTimeout when the time
        runs out, EngineDiedError when the peer process dies meanwhile and CorruptedSemaphore
        when the semaphore's bytes are garbage."""
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
        value = _fs.value(self._addr)
        if value < 0:
            self._fail("read", _fs.CORRUPT)
        return value

    # -- the wait ---------------------------------------------------------------------------
    def _acquire(self, timeout: float | None) -> bool:
        anchor = self._live()  # noqa: F841 - held in this frame: the mapping cannot vanish under the wait
        addr = self._addr
        status = _fs.trywait(addr)
        if status == _fs.OK:
            return True
        if status != _fs.AGAIN:
            self._fail("wait", status)
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
        spin_ns = int(spin_us * 1000)
        while True:
            t = now()
            slice_end = t + SLICE_NS if deadline is None or deadline - t > SLICE_NS else deadline
            status = _fs.wait(addr, spin_ns, slice_end)  # GIL released: spin, then block on the futex
            if status == _fs.OK:
                return True
            if status not in (_fs.TIMEDOUT, _fs.INTERRUPTED):
                self._fail("wait", status)
            spin_ns = 0  # spin only once per wait
            if status == _fs.INTERRUPTED:
                continue  # the interpreter ran the signal handlers on the way back here
            if deadline is not None and now() >= deadline:
                return _fs.trywait(addr) == _fs.OK
            if self._between_slices(addr):
                return True

    def _between_slices(self, addr: int) -> bool:
        """After a blocking slice: True if the peer posted just before exiting; raises if the chunk
        was closed, the peer died or the engine stopped on an error (engine_record.py); False:
        wait on."""
        if self._memory.closed:
            raise ChunkClosed(f"shared memory '{self._memory.handle}' was closed while waiting on "
                              f"semaphore '{self.name}'")
        peer = self._watched_peer()
        if peer is not None and not peer_alive(peer):
            if _fs.trywait(addr) == _fs.OK:  # it posted just before exiting
                return True
            raise EngineDiedError(f"{self._memory._peer_role()} process {describe_peer(peer)} died while "
                                  f"waiting on semaphore '{self.name}' of shared memory "
                                  f"'{self._memory.handle}'")
        stuck = stuck_engine(self._memory)
        if stuck is not None:
            if _fs.trywait(addr) == _fs.OK:
                return True
            more = f" ({stuck.error_count} errors since it last posted; this is the first)" if stuck.error_count > 1 else ""
            raise EngineScriptError(f"the engine stopped on an error: {stuck.text}{more}. It did not answer and now "
                                    f"waits on semaphore '{stuck.semaphore}', which nobody posts while this host "
                                    f"waits on '{self.name}' of shared memory '{self._memory.handle}'",
                                    stuck.text, stuck.error_count, stuck.semaphore)
        return False

    def post_and_wait(self, answer: SharedMemorySemaphore, timeout: float | None = None) -> None:
        """``self.post()`` then ``answer.wait(timeout)``, with the post and the first blocking
        slice in one C call: one command's round trip, the hot path of every environment step.
        Raises what post() and wait() raise."""
        anchor, answer_anchor = self._anchor, answer._anchor  # noqa: F841 - held: the mapping stays
        if anchor is None or answer_anchor is None or timeout is not None and (
                type(timeout) not in (float, int) or not timeout > 0):  # closed, polls, odd timeouts
            self.post()
            answer.wait(timeout)  # validates the timeout as ever
            return
        spin_us = _default_spin_us if answer.spin_us is None else answer.spin_us
        first = SLICE_NS if timeout is None or timeout * 1e9 > SLICE_NS else int(timeout * 1e9)
        status = _fs.post_wait(self._addr, answer._addr, int(spin_us * 1000), first)
        if status != _fs.OK:
            self._post_wait_failed(status, answer, timeout, first)

    def round_trip(self, answer: SharedMemorySemaphore, timeout: float | None = None) -> Callable[[], None]:
        """A function of no arguments doing ``self.post_and_wait(answer, timeout)``, with the
        checks and arguments worked out once: the step loop of an environment calls it per step
        (~0.35 us less than post_and_wait's own Python). A spin budget of ``answer``'s own is
        taken now; without one the module-wide budget is read at every call."""
        first = _first_slice_ns(timeout)
        if first is None:
            return lambda: self.post_and_wait(answer, timeout)
        post_wait, ok, addr, answer_addr = _fs.post_wait, _fs.OK, self._addr, answer._addr
        fixed_ns = None if answer.spin_us is None else int(answer.spin_us * 1000)

        def post_and_wait() -> None:
            anchor, answer_anchor = self._anchor, answer._anchor  # noqa: F841 - held: the mapping stays
            if anchor is None or answer_anchor is None:
                self.post_and_wait(answer, timeout)  # raises ChunkClosed
                return
            spin_ns = fixed_ns if fixed_ns is not None else int(_default_spin_us * 1000)
            status = post_wait(addr, answer_addr, spin_ns, first)
            if status != ok:
                self._post_wait_failed(status, answer, timeout, first)
        return post_and_wait

    def poster(self) -> Callable[[], None]:
        """A function of no arguments doing ``self.post()``, its checks worked out once
        (round_trip's post half): a vector env hands each engine its command with one per step
        (one Python call instead of post -> _live -> closed)."""
        post, ok, addr = _fs.post, _fs.OK, self._addr

        def post_once() -> None:
            anchor = self._anchor  # noqa: F841 - held: the mapping stays
            if anchor is None:
                self.post()  # raises ChunkClosed
                return
            status = post(addr)
            if status != ok:
                self._fail("post", status)
        return post_once

    def waiter(self, timeout: float | None = None, spin_us: float | None = None) -> Callable[[], None]:
        """A function of no arguments doing ``self.wait(timeout)``, with the checks and arguments
        worked out once (round_trip's wait half): a vector env waits for each of its engines with
        one per step (~2,200 host instructions less per engine than ``wait``). A spin budget of
        this semaphore's own is taken now; without one the module-wide budget is read at every call.
        ``spin_us`` overrides both for this function's first slice (0: block at once)."""
        first = _first_slice_ns(timeout)
        if first is None:
            return lambda: self.wait(timeout)
        wait, ok, addr, now = _fs.wait, _fs.OK, self._addr, time.monotonic_ns
        own = self.spin_us if spin_us is None else _check_spin(spin_us)
        fixed_ns = None if own is None else int(own * 1000)

        def wait_once() -> None:
            anchor = self._anchor  # noqa: F841 - held: the mapping stays
            if anchor is None:
                self.wait(timeout)  # raises ChunkClosed
                return
            spin_ns = fixed_ns if fixed_ns is not None else int(_default_spin_us * 1000)
            status = wait(addr, spin_ns, now() + first)
            if status != ok:  # the first slice ended, a signal, or an error: as post_and_wait's wait
                self._post_wait_failed(status, self, timeout, first)
        wait_once.spin_ns = fixed_ns  # type: ignore[attr-defined]  (None: the module-wide budget per call)
        return wait_once

    def _post_wait_failed(self, status: int, answer: SharedMemorySemaphore, timeout: float | None,
                          first: int) -> None:
        """post_and_wait after its C call did not return OK: raise, or wait on as wait() does."""
        if status >= _fs.POST_FAILED:
            self._fail("post", status - _fs.POST_FAILED)
        if status not in (_fs.TIMEDOUT, _fs.INTERRUPTED):
            answer._fail("wait", status)
        # the first slice ended (or a signal handler ran): the ordinary wait goes on, watching the peer
        if status == _fs.TIMEDOUT and answer._between_slices(answer._addr):
            return
        rest = None if timeout is None else timeout - (first / 1e9 if status == _fs.TIMEDOUT else 0.0)
        if rest is not None and rest <= 0:
            acquired = answer.try_wait()
        else:
            acquired = answer._acquire(rest)
        if not acquired:
            raise WaitTimeout(f"semaphore '{answer.name}' of shared memory '{answer._memory.handle}' was not "
                              f"posted within {timeout:g} s")

    def _watched_peer(self) -> Peer | None:
        return self.peer if self.peer is not None else self._memory._watched_peer()

    def _fail(self, operation: str, status: int) -> None:
        where = f"semaphore '{self.name}' of shared memory '{self._memory.handle}'"
        if status == _fs.CORRUPT:
            raise CorruptedSemaphore(f"{operation} on {where}: {_fs.CORRUPT_MESSAGE}; something other than "
                                     "godot-aigym wrote into the chunk", self.name)
        if status == _fs.OVERFLOW:
            raise SharedMemoryError(f"post on {where} failed: the count is at its maximum ({_fs.VALUE_MAX})")
        raise SharedMemoryError(f"{operation} on {where} failed: futex system call error (status {status})")



def _first_slice_ns(timeout: float | None) -> int | None:
    """The first wait slice (ns) of round_trip's and waiter's functions for ``timeout``; None for a
    timeout they leave to the checked call (0, negative, not a number: its errors as wait's)."""
    if timeout is not None and (type(timeout) not in (float, int) or not timeout > 0):
        return None
    return SLICE_NS if timeout is None or timeout * 1e9 > SLICE_NS else int(timeout * 1e9)

# -- several semaphores at once ---------------------------------------------------------------
WAIT_ANY_AVAILABLE: bool = bool(_fs.wait_any_available())
"""``wait_any`` works here: Linux >= 5.16 has ``futex_waitv`` and no seccomp filter refuses it."""
WAIT_ANY_MAX = 128  # semaphores one wait_any can take (the kernel's FUTEX_WAITV_MAX; _futexsem.c WAITV_MAX)


def wait_any(sems: list[SharedMemorySemaphore] | tuple[SharedMemorySemaphore, ...], timeout: float) -> bool:
    """Sleep until one of ``sems`` (1 to 128) may have a count, at most ``timeout`` seconds (> 0),
    without taking it: True when woken, a count was already there or a signal arrived (the
    caller takes a count with ``try_wait``, which may still find 0), False when the time ran out.

    One ``futex_waitv`` sleep (GIL released): each semaphore's post wakes the caller directly.
    It watches no peer and no chunk while it sleeps: call it in slices. Needs
    ``WAIT_ANY_AVAILABLE`` (else SharedMemoryError). Raises ChunkClosed if a chunk is closed,
    before or during the wait, and CorruptedSemaphore naming a semaphore with garbage bytes."""
    anchors = [s._live() for s in sems]  # noqa: F841 - held: the mappings stay while the call sleeps
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < 1e9:
        raise ValueError(f"timeout must be a number of seconds > 0 (and finite), got {timeout!r}")
    status = _fs.wait_any([s._addr for s in sems], time.monotonic_ns() + int(timeout * 1e9))
    for s in sems:
        s._live()  # closed by another thread meanwhile: ChunkClosed
    if status in (_fs.OK, _fs.INTERRUPTED):
        return True
    if status == _fs.TIMEDOUT:
        return False
    if status == _fs.CORRUPT:
        for s in sems:
            if _fs.value(s._addr) < 0:
                s._fail("wait", status)
    if status == _fs.WAITV_UNAVAILABLE:
        raise SharedMemoryError("waiting on several semaphores needs the futex_waitv system call (Linux >= "
                                "5.16), which this system lacks or refuses: check WAIT_ANY_AVAILABLE")
    names = ", ".join(f"'{s.name}'" for s in sems)
    raise SharedMemoryError(f"wait on semaphores {names} failed: futex system call error (status {status})")
