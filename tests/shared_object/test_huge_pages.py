"""Large fixed objects on huge pages (huge_pages.py): slots at huge-page-aligned offsets, every
handle's mapping at a huge-page-aligned address, the creator's collapse visible in smaps where
the kernel collapses tmpfs pages at all, any mix of huge and small mappings reading the same
bytes, and the mapping gone once the last view of it is."""

from __future__ import annotations

import gc
import re

import numpy as np

from godot_aigym.shared_object import SharedObject, huge_pages, layout

HUGE = huge_pages.HUGE_PAGE


def _segment_smaps(address: int) -> dict[str, int]:
    """The smaps fields (kB) of this process's mapping that starts at `address`."""
    fields: dict[str, int] = {}
    inside = False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = re.match(r"^([0-9a-f]+)-[0-9a-f]+ ", line)
            if head:
                inside = int(head.group(1), 16) == address
            elif inside and line.split()[-1] == "kB":
                fields[line.split(":")[0]] = int(line.split()[1])
    return fields


def _kernel_collapses_tmpfs() -> bool:
    """Whether MADV_COLLAPSE works on a tmpfs page here (an independent probe: shared anonymous
    memory is tmpfs too)."""
    probe = huge_pages.map_shared(-1, 2 * HUGE)
    probe[:] = 1
    try:
        return huge_pages.collapse(probe, 0, 2 * HUGE) == 2 * HUGE
    finally:
        del probe
        gc.collect()


def test_large_slots_are_huge_page_aligned_and_collapsed(make_name) -> None:
    assert HUGE > 0, "this kernel reports no PMD huge page size (/sys/kernel/mm/transparent_hugepage)"
    frame = np.random.default_rng(7).integers(0, 256, (900, 1600, 3), dtype=np.uint8)
    collapses = _kernel_collapses_tmpfs()  # just before: huge pages were to be had
    obj = SharedObject(make_name(), data=frame, create=True)
    try:
        off0, cap, off1, _ = layout.SLOT_TABLE.unpack_from(obj._seg.header, layout.SLOT_TABLE_OFFSET)
        assert off0 % HUGE == 0 and off1 % HUGE == 0 and off1 - off0 >= cap >= frame.nbytes
        mapping = obj._seg.mm
        address = mapping.ctypes.data
        assert address % HUGE == 0
        mapped = _segment_smaps(address).get("ShmemPmdMapped", 0) * 1024
        whole_pages = 2 * (frame.nbytes // HUGE) * HUGE  # each slot's whole huge pages
        assert mapped == obj._seg.huge_bytes  # what the creator counted is on huge pages
        assert obj._seg.huge_bytes % HUGE == 0 and obj._seg.huge_bytes <= whole_pages
        # where the kernel collapses tmpfs pages, the slots are on them (a page may be refused on
        # a fragmented machine: counted page by page, so not all of them are demanded)
        assert obj._seg.huge_bytes > 0 or not collapses
        obj.assign(frame[::-1].copy())
        np.testing.assert_array_equal(obj.fetch(), frame[::-1])
    finally:
        obj.unlink()
        obj.close()


def test_huge_and_small_page_handles_share_the_value(make_name) -> None:
    """A handle mapped on small pages (another process's choice, an older version's layout
    reader) reads the slot table's offsets, so it sees the same bytes; and an object created on
    small pages keeps the old layout."""
    a = np.arange(3 * HUGE // 2 + 13, dtype=np.uint16)  # 3 MiB + 26 bytes: one whole huge page per slot
    b = a[::-1].copy()
    name = make_name()
    big = SharedObject(name, data=a, create=True)
    with huge_pages.small_pages():
        small = SharedObject(name, create=False)
        old = SharedObject(make_name(), data=a, create=True)
    try:
        assert isinstance(small._seg.mm, type(old._seg.mm)) and not isinstance(small._seg.mm, np.ndarray)
        np.testing.assert_array_equal(small.fetch(), a)
        small.assign(b)
        np.testing.assert_array_equal(big.fetch(), b)
        big.assign(a)
        np.testing.assert_array_equal(small.fetch(), a)
        off0, _, off1, _ = layout.SLOT_TABLE.unpack_from(old._seg.header, layout.SLOT_TABLE_OFFSET)
        assert (off0, off1) == layout.fixed_slots(a.nbytes)[0]
    finally:
        for obj in (small, big, old):
            obj.close()
        big.unlink()
        old.unlink()


def test_a_huge_page_mapping_is_unmapped_with_its_last_view(make_name) -> None:
    data = np.zeros(HUGE + 5, np.uint8)
    obj = SharedObject(make_name(), data=data, create=True)
    address = obj._seg.mm.ctypes.data
    view = np.frombuffer(obj._seg.mv, np.uint8)  # a view that outlives close(), as a user's may
    obj.unlink()
    obj.close()
    gc.collect()
    assert _segment_smaps(address), "unmapped while a view of it lived"
    assert view[-1] == 0
    del view
    gc.collect()
    assert not _segment_smaps(address), "the segment is still mapped after close() and its last view"


def test_a_collapse_refused_for_some_huge_pages_counts_those_collapsed(monkeypatch) -> None:
    """MADV_COLLAPSE can fail for one huge page (EAGAIN, no free huge page) after others of the
    range collapsed: the bytes reported are those on huge pages, page by page."""
    mapping = huge_pages.map_shared(-1, 3 * HUGE)
    calls = []

    class Lib:
        @staticmethod
        def madvise(address, length, advice):
            calls.append((address, length))
            return -1 if len(calls) == 2 else 0  # the second huge page refused

    monkeypatch.setattr(huge_pages, "_lib", lambda: Lib)
    try:
        assert huge_pages.collapse(mapping, 0, 3 * HUGE) == 2 * HUGE
        assert all(length == HUGE for _, length in calls) and len(calls) == 3
    finally:
        del mapping
        gc.collect()
