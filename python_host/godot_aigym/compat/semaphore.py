"""GodotAIGym's ``SharedMemorySemaphore(name, init_val)`` on top of ``godot_aigym.shm``.

The original's semaphores were named POSIX objects of their own, so a script could create
them before its ``SharedMemoryTensor``. Ours live inside a chunk (the one the game attaches
to by ``--handle``), so a semaphore created before any chunk is *pending*: it remembers its
initial value and the posts made meanwhile, and is created in the next ``SharedMemoryTensor``
of this process. ``timed_wait`` takes milliseconds, as in the original.
"""

from __future__ import annotations

import operator
import time
import weakref
from typing import TYPE_CHECKING, Any

from ..shm import SharedMemoryError
from ..shm import layout as L
from ..shm.errors import InvalidName

if TYPE_CHECKING:
    from ..shm import SharedMemorySemaphore as _IdiomaticSemaphore
    from .tensors import SharedMemoryTensor

# Before the engine attached, a wait blocks in slices this long and looks for the engine
# process between them, so an engine that dies before attaching cannot hang the host.
DISCOVERY_SLICE_S = 0.1

_latest_chunk: weakref.ref[SharedMemoryTensor] | None = None
_pending: list[weakref.ref[SharedMemorySemaphore]] = []


def current_chunk() -> SharedMemoryTensor | None:
    """The SharedMemoryTensor most recently created in this process, if still open."""
    chunk = _latest_chunk() if _latest_chunk is not None else None
    return chunk if chunk is not None and not chunk.memory.closed else None


def adopt_pending(chunk: SharedMemoryTensor) -> None:
    """Make ``chunk`` the current one and create every pending semaphore in it."""
    global _latest_chunk
    _latest_chunk = weakref.ref(chunk)
    waiting = [s for s in (ref() for ref in _pending) if s is not None]
    _pending.clear()
    for sem in waiting:
        sem._bind(chunk)


def _check_init(name: str, init_val: Any) -> int:
    try:
        if isinstance(init_val, bool):
            raise TypeError
        value = operator.index(init_val)
    except TypeError:
        raise TypeError(f"init_val of semaphore {name!r} must be an integer, got {type(init_val).__name__}") from None
    if value < 0:
        raise ValueError(f"init_val of semaphore {name!r} must be >= 0, got {value}")
    return value


def milliseconds_to_seconds(name: str, msec: Any) -> float:
    """The original's ``timed_wait(int msec)`` argument, checked, in seconds."""
    if isinstance(msec, bool) or not isinstance(msec, (int, float)) or not msec >= 0:
        raise ValueError(f"timed_wait on semaphore {name!r} takes a number of milliseconds >= 0 "
                         f"(as in GodotAIGym), got {msec!r}")
    return msec / 1000.0


class SharedMemorySemaphore:
    """``SharedMemorySemaphore(name, init_val)``: ``post()``, ``wait()``, ``timed_wait(msec)``.

    Created in the most recent ``SharedMemoryTensor`` of this process, or pending until one
    exists. ``timed_wait`` returns True if it decremented, False on timeout (the original
    returned None; scripts ignoring the result behave the same).
    """

    def __init__(self, name: str, init_val: int = 0) -> None:
        if not isinstance(name, str) or not name.isascii() or not L.name_valid(name.encode()):
            raise InvalidName(f"semaphore name {name!r}: {L.STATUS_MESSAGES[L.ERR_INVALID_NAME]}")
        self.name = name
        self._count = _check_init(name, init_val)  # initial value + posts while pending
        self._sem: _IdiomaticSemaphore | None = None
        self._chunk: SharedMemoryTensor | None = None
        chunk = current_chunk()
        if chunk is not None:
            self._bind(chunk)
        else:
            _pending.append(weakref.ref(self))

    def _bind(self, chunk: SharedMemoryTensor) -> None:
        self._sem = chunk.memory.newSemaphore(self.name, self._count)
        self._chunk = chunk
        self._count = 0

    @property
    def pending(self) -> bool:
        """True while no SharedMemoryTensor exists to hold the semaphore."""
        return self._sem is None

    def __repr__(self) -> str:
        where = "pending" if self._chunk is None else f"in '{self._chunk.handle}'"
        return f"<compat SharedMemorySemaphore '{self.name}' {where}>"

    # -- operations ------------------------------------------------------------------------
    def post(self) -> None:
        """Increment, waking one waiter (counted until the semaphore exists, if pending)."""
        if self._sem is None:
            self._count += 1
            return
        assert self._chunk is not None
        self._chunk._discover_engine()  # the first post follows the engine launch
        self._sem.post()

    def wait(self) -> None:
        """Decrement, waiting as long as it takes (as the original), but raise
        EngineDiedError if the engine process dies, even before it attached."""
        if self._take_pending("wait()"):
            return
        assert self._sem is not None and self._chunk is not None
        while not self._chunk._engine_known():
            if self._sem.timed_wait(DISCOVERY_SLICE_S):
                return
            self._chunk._discover_engine()
        self._sem.wait(None)  # watches the engine's liveness

    def timed_wait(self, msec: int) -> bool:
        """Wait at most ``msec`` MILLISECONDS (as the original); True if decremented."""
        seconds = milliseconds_to_seconds(self.name, msec)
        if self._take_pending(f"timed_wait({msec!r})"):
            return True
        assert self._sem is not None and self._chunk is not None
        deadline = time.monotonic() + seconds
        while not self._chunk._engine_known():
            left = deadline - time.monotonic()
            if self._sem.timed_wait(max(0.0, min(DISCOVERY_SLICE_S, left))):
                return True
            if left <= DISCOVERY_SLICE_S:
                return False
            self._chunk._discover_engine()
        return self._sem.timed_wait(max(0.0, deadline - time.monotonic()))

    def _take_pending(self, call: str) -> bool:
        """For a pending semaphore: consume a pending post, or raise (nothing could post it)."""
        if self._sem is not None:
            return False
        if self._count > 0:
            self._count -= 1
            return True
        raise SharedMemoryError(
            f"{call} on semaphore '{self.name}': it is not in any shared memory yet, so nothing can post "
            "it; create the SharedMemoryTensor(handle) (and start the game) before waiting")

    @property
    def idiomatic(self) -> _IdiomaticSemaphore:
        """The underlying ``godot_aigym.shm.SharedMemorySemaphore`` (timeouts in seconds)."""
        if self._sem is None:
            raise SharedMemoryError(f"semaphore '{self.name}' is pending: no SharedMemoryTensor exists yet")
        return self._sem
