"""The Python mirror of ``gdextension/shm/aigym_shm_layout.h`` -- the one place Python knows the layout.

Every constant, offset, size and status message here must equal the C header;
``tests/shm/test_layout_c_python.py`` compiles the header and checks them byte for byte.
``docs/PROTOCOL.md`` documents the format.
"""

from __future__ import annotations

import re
import struct
from typing import Final

import numpy as np

MAGIC: Final = b"AIGYMSHM"
LAYOUT_VERSION: Final = 3  # 2: our own futex semaphore instead of glibc sem_t; 3: the engine record
HEADER_SIZE: Final = 128
ENTRY_SIZE: Final = 128
DIR_OFFSET: Final = 128
ALIGN: Final = 64
NAME_SIZE: Final = 64
NAME_MAX: Final = 63
HANDLE_MAX: Final = 127
MAX_CAPACITY: Final = 1024
ENGINE_RECORD_SIZE: Final = 1024  # the engine record, between the directory and the data
ENGINE_TEXT_SIZE: Final = 1008
SEM_SLOT_SIZE: Final = 64
# The semaphore at the start of each slot (aigym_sem): u32 value (the futex word), u32 waiters,
# u32 magic, u32 reserved. Its size is stored in the header's sem_size, so an engine with
# another semaphore format refuses the chunk instead of corrupting it.
SEM_SIZE: Final = 16
SEM_MAGIC: Final = 0x4D534741  # "AGSM" little-endian
SEM_VALUE_MAX: Final = 0x7FFFFFFF
SEM_WAITERS_MAX: Final = 0x10000
SEM_FIELDS: Final = (("value", "I", 0), ("waiters", "I", 4), ("magic", "I", 8), ("reserved", "I", 12))

KIND_TENSOR: Final = 1
KIND_SEMAPHORE: Final = 2

DTYPE_NONE: Final = 0
DTYPE_INT32: Final = 1
DTYPE_FLOAT32: Final = 2
DTYPE_UINT8: Final = 3

# dtype code -> numpy dtype (little-endian, as the engine reads them natively on x86_64/aarch64)
NUMPY_DTYPES: Final = {
    DTYPE_INT32: np.dtype("<i4"),
    DTYPE_FLOAT32: np.dtype("<f4"),
    DTYPE_UINT8: np.dtype("u1"),
}
DTYPE_SIZES: Final = {code: dt.itemsize for code, dt in NUMPY_DTYPES.items()}


def type_name(kind: int, dtype: int) -> str:
    """Same words as aigym_shm_type_name(): 'float32 tensor', 'semaphore', ..."""
    if kind == KIND_SEMAPHORE:
        return "semaphore"
    if kind == KIND_TENSOR and dtype in NUMPY_DTYPES:
        return f"{NUMPY_DTYPES[dtype].name} tensor"
    return "unknown entry"


# ---- header (offset 0, 128 bytes) -----------------------------------------------------
# (field, struct code, offset); "x" padding is never read.
HEADER_FIELDS: Final = (
    ("magic", "8s", 0),
    ("layout_version", "I", 8),
    ("header_size", "I", 12),
    ("total_size", "Q", 16),
    ("entry_size", "I", 24),
    ("capacity", "I", 28),
    ("entry_count", "I", 32),
    ("sem_size", "I", 36),
    ("data_offset", "Q", 40),
    ("data_used", "Q", 48),
    ("host_pid", "i", 56),
    ("engine_pid", "i", 60),
    ("host_start_time", "Q", 64),
    ("shutdown", "I", 72),
    ("reserved0", "I", 76),
    ("engine_start_time", "Q", 80),
    ("reserved", "40s", 88),
)
HEADER_STRUCT: Final = struct.Struct("<" + "".join(code for _, code, _ in HEADER_FIELDS))
HEADER_OFFSETS: Final = {name: off for name, _, off in HEADER_FIELDS}

# ---- directory entry (128 bytes each, entry i at DIR_OFFSET + i * ENTRY_SIZE) -----------
ENTRY_FIELDS: Final = (
    ("name", "64s", 0),
    ("kind", "I", 64),
    ("dtype", "I", 68),
    ("count", "Q", 72),
    ("offset", "Q", 80),
    ("nbytes", "Q", 88),
    ("reserved", "32s", 96),
)
ENTRY_STRUCT: Final = struct.Struct("<" + "".join(code for _, code, _ in ENTRY_FIELDS))
ENTRY_OFFSETS: Final = {name: off for name, _, off in ENTRY_FIELDS}

# ---- engine record (ENGINE_RECORD_SIZE bytes at engine_record_offset_for(capacity)) ----------
# Written by the engine only: the first error it logged since its last post, then stuck_sem (the
# offset of the semaphore it is blocked on for good), which it clears before taking that semaphore.
ENGINE_RECORD_FIELDS: Final = (
    ("stuck_sem", "Q", 0),
    ("error_count", "I", 8),
    ("text_size", "I", 12),
    ("text", f"{ENGINE_TEXT_SIZE}s", 16),
)
ENGINE_RECORD_OFFSETS: Final = {name: off for name, _, off in ENGINE_RECORD_FIELDS}

# Single fields written while the other side runs (4-byte aligned: one plain store).
U32: Final = struct.Struct("<I")
I32: Final = struct.Struct("<i")
U64: Final = struct.Struct("<Q")

assert HEADER_STRUCT.size == HEADER_SIZE and ENTRY_STRUCT.size == ENTRY_SIZE


def align_up(value: int) -> int:
    """Round up to the next multiple of ALIGN (64)."""
    return (value + ALIGN - 1) & ~(ALIGN - 1)


def engine_record_offset_for(capacity: int) -> int:
    """Where the engine record starts for a directory of ``capacity`` slots (right after it)."""
    return align_up(DIR_OFFSET + capacity * ENTRY_SIZE)


def data_offset_for(capacity: int) -> int:
    """Where the data area starts for a directory of ``capacity`` slots (after the engine record)."""
    return engine_record_offset_for(capacity) + ENGINE_RECORD_SIZE


def entry_offset(index: int) -> int:
    """Byte offset of directory entry ``index``."""
    return DIR_OFFSET + index * ENTRY_SIZE


# ---- names ------------------------------------------------------------------------------
_NAME_RE: Final = re.compile(rb"[A-Za-z0-9_.\-]{1,63}")
_HANDLE_RE: Final = re.compile(rb"[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,126}")


def name_valid(name: bytes) -> bool:
    """1..63 bytes of [A-Za-z0-9_.-] (aigym_shm_name_valid)."""
    return _NAME_RE.fullmatch(name) is not None


def handle_valid(handle: bytes) -> bool:
    """1..127 bytes of [A-Za-z0-9_.-], not starting with '.' (aigym_shm_handle_valid)."""
    return _HANDLE_RE.fullmatch(handle) is not None


# ---- status codes (aigym_shm_status) and their fixed messages ------------------------
OK: Final = 0
ERR_NO_HANDLE: Final = 1
ERR_BAD_HANDLE: Final = 2
ERR_NOT_FOUND: Final = 3
ERR_OPEN_FAILED: Final = 4
ERR_TOO_SMALL: Final = 5
ERR_BAD_MAGIC: Final = 6
ERR_BAD_VERSION: Final = 7
ERR_BAD_HEADER_SIZE: Final = 8
ERR_BAD_TOTAL_SIZE: Final = 9
ERR_BAD_CAPACITY: Final = 10
ERR_BAD_DATA_OFFSET: Final = 11
ERR_BAD_ENTRY_COUNT: Final = 12
ERR_BAD_DATA_USED: Final = 13
ERR_BAD_SEM_SIZE: Final = 14
ERR_BAD_ENTRY_NAME: Final = 15
ERR_DUPLICATE_NAME: Final = 16
ERR_BAD_ENTRY_KIND: Final = 17
ERR_BAD_ENTRY_DTYPE: Final = 18
ERR_BAD_ENTRY_SIZE: Final = 19
ERR_BAD_ENTRY_OFFSET: Final = 20
ERR_INVALID_NAME: Final = 21
ERR_UNKNOWN_NAME: Final = 22
ERR_WRONG_KIND: Final = 23
ERR_CLAIMED: Final = 24
ERR_NOT_PRIVATE: Final = 25
STATUS_COUNT: Final = 26

STATUS_MESSAGES: Final = {
    OK: "ok",
    ERR_NO_HANDLE: "no shared-memory handle given (start the engine with --handle <name>)",
    ERR_BAD_HANDLE: "invalid handle: use 1-127 characters from [A-Za-z0-9_.-], not starting with '.'",
    ERR_NOT_FOUND: "shared-memory chunk not found (is the host running?)",
    ERR_OPEN_FAILED: "could not open or map the shared-memory chunk",
    ERR_TOO_SMALL: "chunk is smaller than its 128-byte header",
    ERR_BAD_MAGIC: "bad magic: not a godot-aigym chunk",
    ERR_BAD_VERSION: "unsupported layout version",
    ERR_BAD_HEADER_SIZE: "corrupt header: header_size or entry_size is not 128",
    ERR_BAD_TOTAL_SIZE: "corrupt header: total_size does not match the mapped size",
    ERR_BAD_CAPACITY: "corrupt header: directory capacity out of range",
    ERR_BAD_DATA_OFFSET: "corrupt header: data_offset does not follow the directory",
    ERR_BAD_ENTRY_COUNT: "corrupt header: entry_count exceeds capacity",
    ERR_BAD_DATA_USED: "corrupt header: data_used exceeds the data area",
    ERR_BAD_SEM_SIZE: "semaphore size mismatch: host and engine use different semaphore formats",
    ERR_BAD_ENTRY_NAME: "corrupt entry: name is not 1-63 bytes of [A-Za-z0-9_.-] with a NUL",
    ERR_DUPLICATE_NAME: "corrupt directory: two entries share a name",
    ERR_BAD_ENTRY_KIND: "corrupt entry: unknown kind",
    ERR_BAD_ENTRY_DTYPE: "corrupt entry: dtype does not fit the kind",
    ERR_BAD_ENTRY_SIZE: "corrupt entry: count and nbytes do not match",
    ERR_BAD_ENTRY_OFFSET: "corrupt entry: data range misaligned, overlapping or outside the used data area",
    ERR_INVALID_NAME: "invalid name: use 1-63 characters from [A-Za-z0-9_.-]",
    ERR_UNKNOWN_NAME: "no entry with that name",
    ERR_WRONG_KIND: "entry has a different kind or dtype than requested",
    ERR_CLAIMED: "chunk already claimed by another engine that is still running",
    ERR_NOT_PRIVATE: "chunk is not private to this user (another owner, or group/other access)",
}
assert len(STATUS_MESSAGES) == STATUS_COUNT

# Status names as in the C enum (AIGYM_SHM_ERR_<NAME>), for the cross-language test and logs.
STATUS_NAMES: Final = {
    value: ("AIGYM_SHM_OK" if value == OK else "AIGYM_SHM_" + name)
    for name, value in globals().copy().items()
    if (name == "OK" or name.startswith("ERR_")) and isinstance(value, int)
}
