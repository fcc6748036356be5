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

from . import codec, layout
from .object import SharedObject
from .segment import Segment, unlink_name


class DynamicCodec:
    """Generic encode/decode against the header's slot table, growing on demand."""

    fn_inside = True

    def __init__(self, seg: Segment, name: str, init_size: int) -> None:
        self.seg, self.name, self.init_size = seg, name, init_size

    def describe(self) -> str:
        return "any supported value"

    def prepare(self, value: Any) -> codec.Plan:
        return codec.encode(value, self.name)

    def write(self, slot: int, plan: codec.Plan) -> None:
        seg = self.seg
        entry = layout.slot_entry_offset(slot)
        off, cap = layout.SLOT_ENTRY.unpack_from(seg.header, entry)
        if plan.size > cap:
            # Relocate the unpublished slot; geometric growth bounds the dead space.
            cap = layout.slot_stride(max(plan.size + max(self.init_size, plan.size - plan.array_bytes), 2 * cap))
            off = layout.align(os.fstat(seg.fd).st_size, layout.PAGE)
            seg.grow(off + cap)
            layout.SLOT_ENTRY.pack_into(seg.header, entry, off, cap)
        elif off + cap > seg.size:
            seg.map_data()  # another writer grew the segment
        codec.write_plan(seg.mv, off, plan)

    def read(self, slot: int, fn: Any) -> Any:
        seg = self.seg
        off, cap = layout.SLOT_ENTRY.unpack_from(seg.header, layout.slot_entry_offset(slot))
        if off + cap > seg.size:
            seg.map_data()
            if off + cap > seg.size:
                raise codec.Torn
        return codec.decode(seg.mv, off, off + cap, fn)

    def release(self) -> None:
        pass


class SharedDynamicObject(SharedObject):
    """A SharedObject that accepts any supported value on every ``assign``.

    Same API and guarantees as SharedObject; the segment grows when a value does not
    fit (readers follow transparently), at the cost of a generic decode on ``fetch``.
    """

    _kind = layout.KIND_DYNAMIC

    def _create(self, data: Any, plan: codec.Plan) -> None:
        cap = layout.slot_stride(plan.size + max(self.init_size, plan.size - plan.array_bytes))
        offs, size = layout.fixed_slots(cap)
        seg = Segment.create(self.name, size, self._kind, codec.tag_of(data), self.init_size)
        try:
            layout.SLOT_TABLE.pack_into(seg.header, layout.SLOT_TABLE_OFFSET, offs[0], cap, offs[1], cap)
            codec.write_plan(seg.mv, offs[0], plan)
            codec.write_plan(seg.mv, offs[1], plan)
            self._bind(seg, DynamicCodec(seg, self.name, self.init_size))  # type: ignore[arg-type]
            self._sync.initialise()
            self._publish_first(1)
        except BaseException:
            self.close()
            unlink_name(self.name)
            raise

    def _mount_codec(self, seg: Segment, tag: int) -> DynamicCodec:  # type: ignore[override]
        return DynamicCodec(seg, self.name, seg.creator()[2])
