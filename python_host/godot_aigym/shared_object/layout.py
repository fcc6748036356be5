"""Byte layout of a shared object: header page, sync block, slot table, slots.

    offset  size  field
    0       4     magic b"GASO"
    4       2     layout version
    6       1     kind: 0 fixed (SharedObject), 1 dynamic (SharedDynamicObject)
    7       1     top-level type tag (fixed objects; informational for dynamic)
    8       4     creator pid
    12      4     reserved
    16      8     creator process start time (clock ticks since boot, 0 if unknown)
    24      8     random creation token
    32      8     init_size given at creation
    64      16    slot 0: offset (from the start of the segment), capacity (bytes)
    80      16    slot 1: offset, capacity
    128     128   sync block (see _sync.c): pub, waiters, mtime[2], robust mutex
    4096    ...   data slots, each aligned to 64 bytes (4096 when larger than a page; a fixed
                  object's slots of a huge page or more at huge-page-aligned offsets, see
                  huge_pages.py: the file has a hole before each)

Header fields up to offset 64 are written once by the creator before the first
publish; the slot table is rewritten only by SharedDynamicObject writers, only for
the unpublished slot, under the writer lock.
"""

from __future__ import annotations

import struct

MAGIC = b"GASO"
LAYOUT_VERSION = 1
KIND_FIXED = 0
KIND_DYNAMIC = 1

HEADER_SIZE = 4096
SYNC_OFFSET = 128
SYNC_SIZE = 128

IDENT = struct.Struct("<4sHBBII")  # magic, version, kind, top tag, pid, reserved
IDENT_OFFSET = 0
CREATOR = struct.Struct("<QQQ")  # start ticks, token, init_size
CREATOR_OFFSET = 16
SLOT_TABLE = struct.Struct("<QQQQ")  # off0, cap0, off1, cap1
SLOT_TABLE_OFFSET = 64
SLOT_ENTRY = struct.Struct("<QQ")  # (offset, capacity) of one slot

ALIGN = 64
PAGE = 4096


def align(n: int, to: int = ALIGN) -> int:
    """Round n up to a multiple of `to` (a power of two)."""
    return (n + to - 1) & ~(to - 1)


def slot_stride(capacity: int) -> int:
    """Bytes reserved per slot: cache-line aligned, page aligned once past a page."""
    return align(capacity, PAGE if capacity > PAGE else ALIGN)


def fixed_slots(capacity: int, huge_page: int = 0) -> tuple[tuple[int, int], int]:
    """Offsets of the two slots of a fixed object and the total segment size. Slots of at least
    `huge_page` bytes (a power of two, 0: none) start at multiples of it, so that their whole
    huge pages can be collapsed (huge_pages.py); readers take the offsets from the slot table."""
    stride = slot_stride(max(capacity, 1))
    if huge_page and capacity >= huge_page:
        first = align(HEADER_SIZE, huge_page)
        second = first + align(capacity, huge_page)
        return (first, second), second + stride
    return (HEADER_SIZE, HEADER_SIZE + stride), HEADER_SIZE + 2 * stride


def slot_entry_offset(slot: int) -> int:
    """Header offset of slot `slot`'s (offset, capacity) entry."""
    return SLOT_TABLE_OFFSET + SLOT_ENTRY.size * slot
