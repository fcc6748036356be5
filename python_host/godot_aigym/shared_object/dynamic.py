"""SharedDynamicObject: a SharedObject whose value may change type and size.

Each of the two slots has an (offset, capacity) entry in the header.  A writer whose
value does not fit the unpublished slot relocates that slot to the end of a grown
segment (ftruncate; never shrunk, since other processes map the old size), then
writes and publishes as usual.  Readers find the published slot in the header and
remap when it lies beyond their mapping.  The published slot is never moved, so
readers are never disturbed by a reallocation.
"""

from __future__ import annotations

import os
from typing import Any

from . import layout
from .decoding import decode
from .encoding import encode, grown_capacity, write_plan
from .slot_format import Plan, Torn
from .object import SharedObject
from .segment import Segment


class DynamicCodec:
    """Generic encode/decode against the header's slot table, growing on demand."""

    fn_inside = True

    def __init__(self, seg: Segment, name: str, init_size: int) -> None:
        self.seg, self.name, self.init_size = seg, name, init_size

    def describe(self) -> str:
        return "any supported value"

    def prepare(self, value: Any) -> Plan:
        return encode(value, self.name)

    def write(self, slot: int, plan: Plan) -> None:
        seg = self.seg
        entry = layout.slot_entry_offset(slot)
        off, cap = layout.SLOT_ENTRY.unpack_from(seg.header, entry)
        if plan.size > cap:
            # Relocate the unpublished slot; geometric growth bounds the dead space.
            cap = layout.slot_stride(max(grown_capacity(plan, self.init_size), 2 * cap))
            off = layout.align(os.fstat(seg.fd).st_size, layout.PAGE)
            seg.grow(off + cap)
            layout.SLOT_ENTRY.pack_into(seg.header, entry, off, cap)
        elif off + cap > seg.size:
            seg.map_data()  # another writer grew the segment
        write_plan(seg.mv, off, plan)

    def read(self, slot: int, fn: Any) -> Any:
        seg = self.seg
        off, cap = layout.SLOT_ENTRY.unpack_from(seg.header, layout.slot_entry_offset(slot))
        if off + cap > seg.size:
            seg.map_data()
            if off + cap > seg.size:
                raise Torn
        return decode(seg.mv, off, off + cap, fn)

    def release(self) -> None:
        pass


class SharedDynamicObject(SharedObject):
    """A SharedObject that accepts any supported value on every ``assign``.

    Same API and guarantees as SharedObject; the segment grows when a value does not
    fit (readers follow transparently), at the cost of a generic decode on ``fetch``.
    """

    _kind = layout.KIND_DYNAMIC

    def _slot_capacity(self, data: Any, plan: Plan) -> int:
        return layout.slot_stride(grown_capacity(plan, self.init_size))

    def _new_codec(self, seg: Segment, tag: int, offs: tuple[int, int], cap: int) -> DynamicCodec:  # type: ignore[override]
        return DynamicCodec(seg, self.name, self.init_size)

    def _mount_codec(self, seg: Segment, tag: int) -> DynamicCodec:  # type: ignore[override]
        return DynamicCodec(seg, self.name, seg.creator()[2])
