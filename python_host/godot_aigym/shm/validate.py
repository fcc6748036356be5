"""Pure parser/validator of a chunk's header and directory (mirror of aigym_shm_validate).

Works on any buffer (bytes, mmap, memoryview) without touching the file system, so it can be
fuzzed directly. The checks run in exactly the C order, so both sides return the same status
for the same bytes (tests/shm/test_fuzz.py compares them).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import layout as L
from .errors import BadChunk


@dataclass(frozen=True)
class Entry:
    """One validated directory entry."""

    index: int
    name: str
    kind: int
    dtype: int
    count: int
    offset: int
    nbytes: int

    @property
    def type_name(self) -> str:
        return L.type_name(self.kind, self.dtype)


@dataclass(frozen=True)
class Header:
    """The validated header fields (a snapshot; live fields are re-read from the chunk)."""

    total_size: int
    capacity: int
    entry_count: int
    sem_size: int
    data_offset: int
    data_used: int
    host_pid: int
    engine_pid: int
    host_start_time: int
    shutdown: int


def _read_name(raw: bytes) -> str | None:
    """The entry name if ``raw`` (64 bytes) holds 1..63 valid bytes before a NUL, else None."""
    end = raw.find(b"\0")
    if end < 1:
        return None
    name = raw[:end]
    return name.decode("ascii") if L.name_valid(name) else None


def check(buf, expected_sem_size: int = 0) -> tuple[int, int | None, Header | None, list[Entry]]:
    """Validate ``buf`` (the whole mapping); return (status, bad_entry, header, entries).

    Never raises for any content of ``buf``: the C validator's status codes are returned.
    """
    size = len(buf)
    if size < L.HEADER_SIZE:
        return L.ERR_TOO_SMALL, None, None, []
    (magic, version, header_size, total_size, entry_size, capacity, entry_count, sem_size,
     data_offset, data_used, host_pid, engine_pid, host_start_time, shutdown, _r0, _engine_start, _r) = (
        L.HEADER_STRUCT.unpack_from(buf, 0))
    if magic != L.MAGIC:
        return L.ERR_BAD_MAGIC, None, None, []
    if version != L.LAYOUT_VERSION:
        return L.ERR_BAD_VERSION, None, None, []
    if header_size != L.HEADER_SIZE or entry_size != L.ENTRY_SIZE:
        return L.ERR_BAD_HEADER_SIZE, None, None, []
    if total_size != size:
        return L.ERR_BAD_TOTAL_SIZE, None, None, []
    if not 1 <= capacity <= L.MAX_CAPACITY:
        return L.ERR_BAD_CAPACITY, None, None, []
    if data_offset != L.data_offset_for(capacity) or data_offset > total_size:
        return L.ERR_BAD_DATA_OFFSET, None, None, []
    if entry_count > capacity:
        return L.ERR_BAD_ENTRY_COUNT, None, None, []
    if data_used > total_size - data_offset:
        return L.ERR_BAD_DATA_USED, None, None, []
    if not 1 <= sem_size <= L.SEM_SLOT_SIZE or (expected_sem_size and sem_size != expected_sem_size):
        return L.ERR_BAD_SEM_SIZE, None, None, []

    data_end = data_offset + data_used
    prev_end = data_offset
    seen: set[str] = set()
    entries: list[Entry] = []
    for i in range(entry_count):
        raw_name, kind, dtype, count, offset, nbytes, _res = L.ENTRY_STRUCT.unpack_from(buf, L.entry_offset(i))
        name = _read_name(raw_name)
        if name is None:
            return L.ERR_BAD_ENTRY_NAME, i, None, []
        if name in seen:
            return L.ERR_DUPLICATE_NAME, i, None, []
        seen.add(name)
        if kind == L.KIND_TENSOR:
            itemsize = L.DTYPE_SIZES.get(dtype, 0)
            if itemsize == 0:
                return L.ERR_BAD_ENTRY_DTYPE, i, None, []
            if count < 1 or count > total_size // itemsize or nbytes != count * itemsize:
                return L.ERR_BAD_ENTRY_SIZE, i, None, []
        elif kind == L.KIND_SEMAPHORE:
            if dtype != L.DTYPE_NONE:
                return L.ERR_BAD_ENTRY_DTYPE, i, None, []
            if count != 1 or nbytes != L.SEM_SLOT_SIZE:
                return L.ERR_BAD_ENTRY_SIZE, i, None, []
        else:
            return L.ERR_BAD_ENTRY_KIND, i, None, []
        if offset % L.ALIGN != 0 or offset < prev_end or offset > data_end or nbytes > data_end - offset:
            return L.ERR_BAD_ENTRY_OFFSET, i, None, []
        prev_end = offset + nbytes
        entries.append(Entry(i, name, kind, dtype, count, offset, nbytes))

    header = Header(total_size, capacity, entry_count, sem_size, data_offset, data_used,
                    host_pid, engine_pid, host_start_time, shutdown)
    return L.OK, None, header, entries


def parse(buf, handle: str = "?", expected_sem_size: int = L.SEM_SIZE) -> tuple[Header, list[Entry]]:
    """Validate ``buf`` and return its header and entries, or raise :class:`BadChunk`.

    The message names the chunk, the fixed protocol message, and the bad entry if any.
    """
    status, bad_entry, header, entries = check(buf, expected_sem_size)
    if status != L.OK:
        where = f" (directory entry {bad_entry})" if bad_entry is not None else ""
        raise BadChunk(f"shared memory '{handle}': {L.STATUS_MESSAGES[status]}{where}", status, bad_entry)
    assert header is not None
    return header, entries
