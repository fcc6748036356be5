"""Several engines' semaphores in one C call: `relay` posts every command and takes every answer
of one step (the host's step of a `GodotVectorEnv` with several engines), spinning only."""

from __future__ import annotations

from typing import Callable

from . import _futexsem as _fs
from .semaphore import WAIT_ANY_MAX, SharedMemorySemaphore, get_default_spin_us


def relay(commands: list[SharedMemorySemaphore] | tuple[SharedMemorySemaphore, ...],
          answers: list[SharedMemorySemaphore] | tuple[SharedMemorySemaphore, ...],
          yield_at_once: bool = False) -> Callable[[], int]:
    """A function of no arguments for one step of several engines in one C call: post every
    semaphore of ``commands`` (may be empty), then take every one of ``answers`` in order, each by
    spinning up to its own budget (``spin_us`` or the module-wide one, read now), never blocking.

    It returns -1 when every answer was taken; k (0 <= k < len(answers)) when answer k did not
    come within its spin or is corrupt (those before it taken): the caller waits for answers k, k+1,
    ... its usual way (``waiter``: it blocks, watches the peer, names what is wrong); or
    len(answers) + j when post j failed (those before it made, nothing taken): the caller posts
    from j its usual way (``poster``, which raises naming it). ``yield_at_once``: yield the CPU
    before the first look, for a waiter that shares its CPU with a peer that must answer (else
    the first BUSY_SPIN_NS of each spin are pure). The spin budget is read now, once: a later
    ``set_default_spin_us`` does not change it (make the env again). The function holds the semaphores' mapping
    exports, so the mappings stay while it spins: drop it before closing the chunks (they stay
    mapped until it is freed)."""
    live = [s._live() for s in (*commands, *answers)]  # ChunkClosed now if one is closed
    posts, waits = tuple(s._addr for s in commands), tuple(s._addr for s in answers)
    if not waits or len(waits) > WAIT_ANY_MAX:
        raise ValueError(f"relay() waits on 1 to {WAIT_ANY_MAX} semaphores, got {len(waits)}")
    spin_ns = max(int((get_default_spin_us() if s.spin_us is None else s.spin_us) * 1000) for s in answers)
    call, busy_ns = _fs.relay, 0 if yield_at_once else _fs.BUSY_SPIN_NS

    def relay_once() -> int:
        held = live  # noqa: F841 - the mappings stay while the C call spins without the GIL
        return call(posts, waits, spin_ns, busy_ns)
    relay_once.yield_at_once = yield_at_once  # type: ignore[attr-defined]  (for the env's tests)
    return relay_once
