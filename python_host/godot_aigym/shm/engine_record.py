"""The host's reading of the chunk's engine record: has the engine stopped on an error?

The engine (gdextension/shm/engine_errors.h) writes there the first error it logged since its
last post, then ``stuck_sem``, the offset of the semaphore it now waits on for ever; it clears
``stuck_sem`` before it takes that semaphore. A host blocked in a wait reads, between slices,
the word, the semaphore's count, the text and the word again: the same semaphore of this chunk
with a count of 0 means the engine cannot go on without a post, and the host, waiting itself,
will not make one -- a deadlock whose cause is the recorded error. No timing is involved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from . import layout as L

if TYPE_CHECKING:
    from .chunk import SharedMemory

_STUCK, _COUNT, _SIZE, _TEXT = (L.ENGINE_RECORD_OFFSETS[k] for k in ("stuck_sem", "error_count", "text_size", "text"))


class StuckEngine(NamedTuple):
    semaphore: str  # the semaphore the engine waits on
    error_count: int  # errors it logged since its last post
    text: str  # the first of them


def stuck_engine(memory: SharedMemory) -> StuckEngine | None:
    """The engine's unanswered error if it is stuck on an unposted semaphore of ``memory``,
    else None. The record is data written by another process: anything that is not exactly one
    of our semaphores' offsets is ignored, the text is bounded and decoded leniently."""
    mm = memory._mm
    if mm is None or memory._capacity <= 0:
        return None
    base = L.engine_record_offset_for(memory._capacity)
    stuck = L.U64.unpack_from(mm, base + _STUCK)[0]
    if stuck == 0:
        return None
    entry = next((e for e in memory._entries.values() if e.kind == L.KIND_SEMAPHORE and e.offset == stuck), None)
    if entry is None or L.U32.unpack_from(mm, stuck)[0] != 0:  # a post is pending: the engine will go on
        return None
    count = L.U32.unpack_from(mm, base + _COUNT)[0]
    size = min(L.U32.unpack_from(mm, base + _SIZE)[0], L.ENGINE_TEXT_SIZE - 1)
    text = bytes(mm[base + _TEXT:base + _TEXT + size]).decode("utf-8", "replace")
    if L.U64.unpack_from(mm, base + _STUCK)[0] != stuck:  # it moved on (or rewrote) meanwhile
        return None
    return StuckEngine(entry.name, count, text)
