"""Large slots on transparent huge pages, where the kernel gives them to an unprivileged process.

Why: a writer alternates between two slots. For a frame of a few MB, the two slots' 4 KiB pages
(2 x 1,055 for a (900, 1600, 3) uint8 frame) and the source's outnumber the CPU's second-level data
TLB (2,560 entries on the AMD EPYC guest, /proc/cpuinfo "TLB size"), so such copies miss the TLB
page after page, where a raw copy into one destination (1,055 pages) does not; in a VM every miss
is a two-dimensional page walk. numpy already puts large arrays (the sources) on huge pages
(madvise), /dev/shm cannot: it is a tmpfs mounted without ``huge=``.

But ``madvise(MADV_COLLAPSE)`` (Linux 6.1) collapses a mapped, huge-page-aligned range of a tmpfs
file into one huge page whatever the THP sysfs settings say (unless shmem_enabled is "deny"), and
the file keeps it: every process that maps the range at a huge-page-aligned address then uses one
TLB entry per 2 MiB. So a fixed object whose slots are at least a huge page puts them at
huge-page-aligned file offsets (`layout.fixed_slots`), every handle maps the segment at a
huge-page-aligned address (`map_shared`), and the creator collapses each slot's whole huge pages
once both slots are written (`collapse`, once per object: creating a 4.3 MB frame's object took
~100 ms instead of ~73, medians of 10 on a busy machine). Where any of it is refused (an older
kernel, THP disabled for the process, no huge pages on this architecture) the slots stay on 4 KiB
pages: same bytes, same crash safety, only the TLB cost of before.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np

PMD_SIZE_FILE = Path("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")
MADV_COLLAPSE = 25  # <linux/mman.h>, Linux 6.1
_PROT_NONE, _PROT_RW = 0, mmap.PROT_READ | mmap.PROT_WRITE
_MAP_SHARED, _MAP_PRIVATE, _MAP_FIXED, _MAP_ANONYMOUS, _MAP_NORESERVE = 0x01, 0x02, 0x10, 0x20, 0x4000
_MAP_FAILED = ctypes.c_void_p(-1).value


def _huge_page_size(path: Path = PMD_SIZE_FILE) -> int:
    """The PMD-mapped huge page size, 0 if the kernel has none (or says something odd)."""
    try:
        size = int(path.read_text())
    except (OSError, ValueError):
        return 0
    return size if size > mmap.PAGESIZE and size & (size - 1) == 0 else 0


HUGE_PAGE = _huge_page_size()
_enabled = True


def huge_page_size() -> int:
    """The huge page size large slots are aligned to, 0 when off (no huge pages, or `small_pages`)."""
    return HUGE_PAGE if _enabled else 0


@contextlib.contextmanager
def small_pages() -> Iterator[None]:
    """Objects created (and segments mapped) inside keep 4 KiB pages: benchmarks and tests."""
    global _enabled
    before, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = before


class _Libc:
    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self.mmap = libc.mmap
        self.mmap.restype = ctypes.c_void_p
        self.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
        self.munmap = libc.munmap
        self.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        self.madvise = libc.madvise
        self.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


_libc: _Libc | None = None


def _lib() -> _Libc:
    global _libc
    if _libc is None:
        _libc = _Libc()
    return _libc


def _page_round(n: int) -> int:
    return (n + mmap.PAGESIZE - 1) & ~(mmap.PAGESIZE - 1)


def map_shared(fd: int, size: int) -> mmap.mmap | np.ndarray:
    """A read-write shared mapping of the first `size` bytes of `fd` (-1: shared anonymous
    memory). At least a huge page large (and huge pages on): a uint8 array at a huge-page-aligned
    address, unmapped when the last view of it is gone; else (or if that fails) an `mmap.mmap`.
    Either exports a writable buffer of `size` bytes."""
    huge = huge_page_size()
    if not huge or size < huge:
        return mmap.mmap(fd, size)
    lib, span = _lib(), _page_round(size) + huge
    flags = _MAP_PRIVATE | _MAP_ANONYMOUS | _MAP_NORESERVE
    base = lib.mmap(None, span, _PROT_NONE, flags, -1, 0)  # an address range to place it in
    if base is None or base == _MAP_FAILED:
        return mmap.mmap(fd, size)
    start = (base + huge - 1) & ~(huge - 1)
    length = _page_round(size)
    share = _MAP_SHARED | _MAP_FIXED | (_MAP_ANONYMOUS if fd < 0 else 0)
    if lib.mmap(start, length, _PROT_RW, share, fd, 0) != start:  # MAP_FIXED inside our own range
        lib.munmap(base, span)
        return mmap.mmap(fd, size)
    if start > base:
        lib.munmap(base, start - base)
    if base + span > start + length:
        lib.munmap(start + length, base + span - start - length)
    owner = (ctypes.c_ubyte * size).from_address(start)
    finalizer = weakref.finalize(owner, lib.munmap, start, length)
    finalizer.atexit = False  # at exit the process's mappings go anyway; views may still be read
    return np.ctypeslib.as_array(owner)  # its base keeps `owner`, so the mapping, alive


def close_mapping(mapping: mmap.mmap | np.ndarray) -> None:
    """Unmap now if nothing else refers to it (an `mmap.mmap` raises BufferError while a view
    lives; a `map_shared` array is unmapped once its last view is gone)."""
    if isinstance(mapping, mmap.mmap):
        mapping.close()


def collapse(mapping: mmap.mmap | np.ndarray, offset: int, length: int) -> int:
    """Put the whole huge pages of bytes [offset, offset + length) of a `map_shared` mapping on
    huge pages (MADV_COLLAPSE: the page cache keeps them for every process mapping the file).
    Returns the bytes collapsed, 0 where the kernel refused or the mapping is not aligned. One
    madvise per huge page: one refused (EAGAIN, none free) must not hide those that collapsed."""
    huge = huge_page_size()
    if not huge or not isinstance(mapping, np.ndarray):
        return 0
    address = mapping.ctypes.data
    lo = (address + offset + huge - 1) & ~(huge - 1)
    hi = (address + offset + length) & ~(huge - 1)
    if hi <= lo:
        return 0
    madvise = _lib().madvise
    return sum(huge for page in range(lo, hi, huge) if madvise(page, huge, MADV_COLLAPSE) == 0)
