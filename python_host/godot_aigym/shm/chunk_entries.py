"""Entries of a chunk: creating tensors and semaphores (the creator only) and finding them
by name and kind (both sides).  `ChunkEntries` is a mixin of `SharedMemory` (chunk.py),
which holds the mapping and the directory state these methods work on."""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _futexsem as _fs
from . import layout as L
from .errors import ChunkFull, DuplicateName, InvalidName, NotOwner, SharedMemoryError, UnknownName, WrongKind
from .semaphore import SharedMemorySemaphore
from .tensor import TENSOR_CLASSES, SharedFloatTensor, SharedIntTensor, SharedTensor, SharedUintTensor
from .validate import Entry, parse

if TYPE_CHECKING:
    import mmap
    import weakref


def _a(noun: str) -> str:
    """'an int32 tensor', 'a uint8 tensor', 'a semaphore'."""
    return ("an " if noun[0] in "aeio" or noun.startswith("unknown") else "a ") + noun


def _dtype_code(dtype: Any) -> int | None:
    """None, a DTYPE_* code, or anything np.dtype() maps to int32/float32/uint8 -> code."""
    if dtype is None or (isinstance(dtype, int) and not isinstance(dtype, bool) and dtype in L.NUMPY_DTYPES):
        return dtype
    try:
        npd = np.dtype(dtype)
    except TypeError:
        npd = None
    for code, known in L.NUMPY_DTYPES.items():
        if npd == known:
            return code
    raise ValueError(f"dtype must be int32, float32 or uint8 (or a layout.DTYPE_* code), got {dtype!r}")


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.isascii() or not L.name_valid(name.encode()):
        raise InvalidName(f"{name!r}: {L.STATUS_MESSAGES[L.ERR_INVALID_NAME]}")
    return name




class ChunkEntries:
    """Creating and finding the named entries of a chunk (mixed into SharedMemory)."""

    handle: str
    _mm: mmap.mmap | None
    _entries: dict[str, Entry]
    _objects: weakref.WeakValueDictionary[str, Any]
    _size: int
    _capacity: int
    _data_offset: int

    # -- creating entries ----------------------------------------------------------------------
    def newIntTensor(self, name: str, size: int) -> SharedIntTensor:
        """Create an int32 tensor of ``size`` elements."""
        return self._new_tensor(name, size, L.DTYPE_INT32)  # type: ignore[return-value]

    def newFloatTensor(self, name: str, size: int) -> SharedFloatTensor:
        """Create a float32 tensor of ``size`` elements."""
        return self._new_tensor(name, size, L.DTYPE_FLOAT32)  # type: ignore[return-value]

    def newUintTensor(self, name: str, size: int) -> SharedUintTensor:
        """Create a uint8 tensor of ``size`` elements (image observations)."""
        return self._new_tensor(name, size, L.DTYPE_UINT8)  # type: ignore[return-value]

    def newSemaphore(self, name: str, init_val: int = 0, **kwargs: Any) -> SharedMemorySemaphore:
        """Create a semaphore (same as ``SharedMemorySemaphore(name, init_val, memory=self)``)."""
        return SharedMemorySemaphore(name, init_val, memory=self, **kwargs)

    new_int_tensor, new_float_tensor, new_uint_tensor, new_semaphore = (
        newIntTensor, newFloatTensor, newUintTensor, newSemaphore)

    def _new_tensor(self, name: str, size: int, dtype: int) -> SharedTensor:
        size = self._check_int(f"size of tensor {name!r}", size, 1, 2**62)
        entry = self._allocate(name, L.KIND_TENSOR, dtype, size, size * L.DTYPE_SIZES[dtype])
        tensor = self._wrap(entry)
        return tensor

    def _create_semaphore(self, name: str, init_val: int) -> Entry:
        init_val = self._check_int(f"init_val of semaphore {name!r}", init_val, 0, L.SEM_VALUE_MAX)
        return self._allocate(name, L.KIND_SEMAPHORE, L.DTYPE_NONE, 1, L.SEM_SLOT_SIZE, init_val)

    def _allocate(self, name: str, kind: int, dtype: int, count: int, nbytes: int, init_val: int = 0) -> Entry:
        """Append an entry: reserve its data, fill it, then publish it (entry_count last)."""
        fields = self._fields()
        name = _check_name(name)
        if not self.owner:
            raise NotOwner(f"cannot create '{name}' in shared memory '{self.handle}': only the process that "
                           "created the chunk adds entries")
        if name in self._entries:
            raise DuplicateName(f"shared memory '{self.handle}' already has an entry named '{name}' "
                                f"({_a(self._entries[name].type_name)})")
        index = fields.entry_count.value
        if index >= self._capacity:
            raise ChunkFull(f"shared memory '{self.handle}': directory is full ({self._capacity} entries); "
                            "create it with a larger capacity=")
        offset = L.align_up(self._data_offset + fields.data_used.value)
        if offset + nbytes > self._size:
            free = max(0, self._size - offset)
            raise ChunkFull(f"shared memory '{self.handle}': '{name}' needs {nbytes} bytes but only {free} of "
                            f"{self._size} are free; create it with a larger size=")
        self._reserve(offset, nbytes, f"'{name}'")
        mm = self._mm
        assert mm is not None
        if kind == L.KIND_SEMAPHORE:
            anchor = (ctypes.c_char * L.SEM_SLOT_SIZE).from_buffer(mm, offset)
            rc = _fs.init(ctypes.addressof(anchor), init_val)
            del anchor
            if rc != _fs.OK:
                raise SharedMemoryError(f"cannot initialise semaphore '{name}' (status {rc})")
        L.ENTRY_STRUCT.pack_into(mm, L.entry_offset(index), name.encode(), kind, dtype, count, offset, nbytes, b"")
        fields.data_used.value = offset + nbytes - self._data_offset
        fields.entry_count.value = index + 1  # publish: the entry is complete (x86-64 keeps store order)
        entry = Entry(index, name, kind, dtype, count, offset, nbytes)
        self._entries[name] = entry
        return entry

    # -- finding entries -----------------------------------------------------------------------
    def _lookup(self, name: str) -> Entry:
        self._fields()
        name = _check_name(name)
        entry = self._entries.get(name)
        if entry is None and not self.owner:
            self._refresh()  # the host may have added entries since we attached
            entry = self._entries.get(name)
        if entry is None:
            known = ", ".join(sorted(self._entries)) or "none"
            raise UnknownName(f"shared memory '{self.handle}' has no entry named '{name}' (entries: {known})")
        return entry

    def _refresh(self) -> None:
        assert self._mm is not None
        _, entries = parse(self._mm, self.handle)
        self._entries = {e.name: e for e in entries}

    def _wrap(self, entry: Entry) -> Any:
        obj = self._objects.get(entry.name)
        if obj is not None:
            return obj
        if entry.kind == L.KIND_SEMAPHORE:
            obj = SharedMemorySemaphore._from_entry(self, entry)
        else:
            view = np.frombuffer(self._mm, dtype=L.NUMPY_DTYPES[entry.dtype], count=entry.count, offset=entry.offset)
            obj = TENSOR_CLASSES[entry.dtype](self, entry, view)
        self._objects[entry.name] = obj
        return obj

    def _remember(self, obj: Any) -> None:
        self._objects.setdefault(obj.name, obj)

    def find_tensor(self, name: str, dtype: Any = None) -> SharedTensor:
        """The tensor ``name``; with ``dtype`` (a layout.DTYPE_* code, or np.float32 / "int32" /
        "uint8" and the like) it must also have that dtype (else WrongKind)."""
        dtype = _dtype_code(dtype)
        entry = self._lookup(name)
        if entry.kind != L.KIND_TENSOR or (dtype is not None and entry.dtype != dtype):
            wanted = L.type_name(L.KIND_TENSOR, dtype) if dtype is not None else "tensor"
            raise WrongKind(f"entry '{name}' of shared memory '{self.handle}' is {_a(entry.type_name)}, "
                            f"not {_a(wanted)}")
        return self._wrap(entry)

    def findIntTensor(self, name: str) -> SharedIntTensor:
        return self.find_tensor(name, L.DTYPE_INT32)  # type: ignore[return-value]

    def findFloatTensor(self, name: str) -> SharedFloatTensor:
        return self.find_tensor(name, L.DTYPE_FLOAT32)  # type: ignore[return-value]

    def findUintTensor(self, name: str) -> SharedUintTensor:
        return self.find_tensor(name, L.DTYPE_UINT8)  # type: ignore[return-value]

    def find_semaphore(self, name: str) -> SharedMemorySemaphore:
        """The semaphore ``name``."""
        entry = self._lookup(name)
        if entry.kind != L.KIND_SEMAPHORE:
            raise WrongKind(f"entry '{name}' of shared memory '{self.handle}' is {_a(entry.type_name)}, "
                            "not a semaphore")
        return self._wrap(entry)
