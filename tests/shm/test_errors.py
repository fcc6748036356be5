"""Every error path of the host side raises its own class with a message naming the problem."""

from __future__ import annotations

import mmap
import os
import re

import pytest

from godot_aigym.shm import (BadChunk, ChunkClosed, ChunkExists, ChunkFull, ChunkNotFound, DuplicateName,
                             InvalidHandle, InvalidName, NotOwner, SharedMemory, SharedMemoryError,
                             SharedMemorySemaphore, UnknownName, WrongKind, layout as L)
from godot_aigym.shm import chunk as chunk_mod, cleanup


def test_error_classes_share_one_base():
    import godot_aigym.shm as shm

    for name in shm.__all__:
        obj = getattr(shm, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, SharedMemoryError), name


# -- handles ------------------------------------------------------------------------------------
@pytest.mark.parametrize("handle", [None, ""])
def test_attach_without_handle(handle):
    with pytest.raises(InvalidHandle) as err:
        SharedMemory.attach(handle)
    assert str(err.value) == "no shared-memory handle given (start the engine with --handle <name>)"


@pytest.mark.parametrize("handle", ["a/b", ".hidden", "..", "x" * 128, "sp ace", "é", 42])
def test_bad_handles(handle):
    msg = f"{handle!r}: invalid handle: use 1-127 characters from [A-Za-z0-9_.-], not starting with '.'"
    with pytest.raises(InvalidHandle) as err:
        SharedMemory(handle)
    assert str(err.value) == msg
    with pytest.raises(InvalidHandle):
        SharedMemory.attach(handle)


def test_attach_missing_chunk(handles):
    h = handles()
    with pytest.raises(ChunkNotFound) as err:
        SharedMemory.attach(h)
    assert str(err.value) == f"shared memory '{h}': shared-memory chunk not found (is the host running?)"
    assert isinstance(err.value, FileNotFoundError)


def test_create_existing_handle(mem):
    with pytest.raises(ChunkExists) as err:
        SharedMemory(mem.handle)
    assert str(err.value) == (f"shared memory '{mem.handle}' already exists; choose another handle or omit it "
                              "to generate one")
    assert os.path.exists(mem.path)  # the existing chunk is untouched


def test_generated_handles_are_unique_and_private():
    with SharedMemory(size=1 << 16) as a, SharedMemory(size=1 << 16) as b:
        assert a.handle != b.handle
        assert re.fullmatch(r"aigym_[0-9a-f]{16}", a.handle)
        assert os.stat(a.path).st_mode & 0o777 == 0o600
    assert not os.path.exists(a.path) and not os.path.exists(b.path)


@pytest.mark.parametrize("kwargs, exc, msg", [
    ({"size": 100}, ValueError,
     "size must be at least 9344 bytes (header, a directory of 64 entries and the engine record), got 100"),
    ({"size": 100, "capacity": 1}, ValueError,
     "size must be at least 1280 bytes (header, a directory of 1 entries and the engine record), got 100"),
    ({"capacity": 0}, ValueError, "capacity must be between 1 and 1024, got 0"),
    ({"capacity": 5000}, ValueError, "capacity must be between 1 and 1024, got 5000"),
    ({"size": 1.5}, TypeError, "size must be an integer, got float"),
    ({"capacity": True}, TypeError, "capacity must be an integer, got bool"),
])
def test_bad_size_or_capacity(handles, kwargs, exc, msg):
    h = handles()
    with pytest.raises(exc) as err:
        SharedMemory(h, **kwargs)
    assert str(err.value) == msg
    assert not os.path.exists(f"/dev/shm/{h}")


# -- corrupt chunks ------------------------------------------------------------------------------
def _poke(path: str, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


@pytest.mark.parametrize("offset, data, status", [
    (0, b"NOTAIGYM", L.ERR_BAD_MAGIC),
    (8, (1).to_bytes(4, "little"), L.ERR_BAD_VERSION),  # version 1 used glibc sem_t
    (12, (64).to_bytes(4, "little"), L.ERR_BAD_HEADER_SIZE),
    (16, (12345).to_bytes(8, "little"), L.ERR_BAD_TOTAL_SIZE),
    (28, (0).to_bytes(4, "little"), L.ERR_BAD_CAPACITY),
    (40, (4096).to_bytes(8, "little"), L.ERR_BAD_DATA_OFFSET),
    (32, (17).to_bytes(4, "little"), L.ERR_BAD_ENTRY_COUNT),
    (48, (1 << 40).to_bytes(8, "little"), L.ERR_BAD_DATA_USED),
    (36, (32).to_bytes(4, "little"), L.ERR_BAD_SEM_SIZE),  # e.g. a glibc sem_t
])
def test_attach_corrupt_header(mem, offset, data, status):
    mem.newFloatTensor("obs", 4)
    _poke(mem.path, offset, data)
    with pytest.raises(BadChunk) as err:
        SharedMemory.attach(mem.handle)
    assert str(err.value) == f"shared memory '{mem.handle}': {L.STATUS_MESSAGES[status]}"
    assert err.value.status == status and err.value.entry is None


@pytest.mark.parametrize("field_offset, data, status", [
    (0, b"bad name\0", L.ERR_BAD_ENTRY_NAME),
    (0, b"x" * 64, L.ERR_BAD_ENTRY_NAME),
    (0, b"obs\0", L.ERR_DUPLICATE_NAME),
    (64, (7).to_bytes(4, "little"), L.ERR_BAD_ENTRY_KIND),
    (68, (9).to_bytes(4, "little"), L.ERR_BAD_ENTRY_DTYPE),
    (72, (5).to_bytes(8, "little"), L.ERR_BAD_ENTRY_SIZE),
    (80, (1 << 20).to_bytes(8, "little"), L.ERR_BAD_ENTRY_OFFSET),
])
def test_attach_corrupt_entry(mem, field_offset, data, status):
    mem.newFloatTensor("obs", 4)
    mem.newIntTensor("act", 4)
    _poke(mem.path, L.entry_offset(1) + field_offset, data)
    with pytest.raises(BadChunk) as err:
        SharedMemory.attach(mem.handle)
    assert str(err.value) == f"shared memory '{mem.handle}': {L.STATUS_MESSAGES[status]} (directory entry 1)"
    assert err.value.status == status and err.value.entry == 1


def test_attach_too_small(handles):
    h = handles()
    fd = os.open(f"/dev/shm/{h}", os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    try:
        os.write(fd, b"AIGYMSHM")
        with pytest.raises(BadChunk) as err:
            SharedMemory.attach(h)
        assert str(err.value) == f"shared memory '{h}': chunk is smaller than its 128-byte header (it has 8 bytes)"
    finally:
        os.close(fd)
        os.unlink(f"/dev/shm/{h}")


# -- entries ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["", "x" * 64, "a b", "a/b", "é", None, 3])
def test_invalid_entry_names(mem, name):
    with pytest.raises(InvalidName) as err:
        mem.newFloatTensor(name, 4)
    assert str(err.value) == f"{name!r}: invalid name: use 1-63 characters from [A-Za-z0-9_.-]"
    with pytest.raises(InvalidName):
        mem.newSemaphore(name)
    assert mem.names() == []


def test_longest_name_is_accepted(mem):
    name = "A-z_0.9" * 9  # 63 bytes
    assert mem.newUintTensor(name, 1).name == name
    assert SharedMemory.attach(mem.handle).findUintTensor(name).size == 1


def test_duplicate_name(mem):
    mem.newFloatTensor("obs", 4)
    with pytest.raises(DuplicateName) as err:
        mem.newSemaphore("obs")
    assert str(err.value) == f"shared memory '{mem.handle}' already has an entry named 'obs' (a float32 tensor)"


def test_unknown_name(mem):
    mem.newFloatTensor("obs", 4)
    mem.newSemaphore("sem")
    with pytest.raises(UnknownName) as err:
        mem.find_tensor("nope")
    assert str(err.value) == f"shared memory '{mem.handle}' has no entry named 'nope' (entries: obs, sem)"
    with pytest.raises(UnknownName):
        SharedMemory.attach(mem.handle).find_semaphore("nope")


@pytest.mark.parametrize("finder, stored, msg", [
    ("findIntTensor", "obs", "is a float32 tensor, not an int32 tensor"),
    ("findUintTensor", "obs", "is a float32 tensor, not a uint8 tensor"),
    ("findFloatTensor", "act", "is an int32 tensor, not a float32 tensor"),
    ("find_tensor", "sem", "is a semaphore, not a tensor"),
    ("find_semaphore", "obs", "is a float32 tensor, not a semaphore"),
])
def test_wrong_kind(mem, finder, stored, msg):
    mem.newFloatTensor("obs", 4)
    mem.newIntTensor("act", 4)
    mem.newSemaphore("sem")
    for m in (mem, SharedMemory.attach(mem.handle)):
        with pytest.raises(WrongKind) as err:
            getattr(m, finder)(stored)
        assert str(err.value) == f"entry '{stored}' of shared memory '{mem.handle}' {msg}"


def test_directory_full(handles):
    with SharedMemory(handles(), size=1 << 16, capacity=2) as m:
        m.newFloatTensor("a", 1)
        m.newSemaphore("b")
        with pytest.raises(ChunkFull) as err:
            m.newIntTensor("c", 1)
        assert str(err.value) == (f"shared memory '{m.handle}': directory is full (2 entries); create it with "
                                  "a larger capacity=")


def test_chunk_full(handles):
    size = L.data_offset_for(4) + 1000
    with SharedMemory(handles(), size=size, capacity=4) as m:
        m.newUintTensor("a", 900)
        with pytest.raises(ChunkFull) as err:
            m.newFloatTensor("b", 100)
        assert str(err.value) == (f"shared memory '{m.handle}': 'b' needs 400 bytes but only 40 of {size} are "
                                  "free; create it with a larger size=")
        assert m.names() == ["a"]  # nothing half-created
        m.newFloatTensor("c", 10)  # what fits still works


@pytest.mark.parametrize("size", [10**15, 2**63 - 1])
def test_size_the_system_cannot_map(handles, size):
    # the real ftruncate/mmap refuses (ENOMEM/EFBIG): our ChunkFull naming chunk and size, no file left
    h = handles()
    with pytest.raises(ChunkFull, match=rf"^shared memory '{h}': cannot make a chunk of {size} bytes \(.+\); "
                                        "choose a smaller size$"):
        SharedMemory(h, size=size)
    assert not [n for n in os.listdir("/dev/shm") if n == h or n.startswith(f"{cleanup.TEMP_PREFIX}{os.getpid()}.")]


@pytest.mark.parametrize("size", [0, -1])
def test_bad_tensor_size(mem, size):
    with pytest.raises(ValueError, match=rf"size of tensor 'x' must be between 1 and \d+, got {size}"):
        mem.newFloatTensor("x", size)


def test_attached_chunk_cannot_create_or_unlink(mem):
    other = SharedMemory.attach(mem.handle)
    with pytest.raises(NotOwner) as err:
        other.newFloatTensor("x", 1)
    assert str(err.value) == (f"cannot create 'x' in shared memory '{mem.handle}': only the process that "
                              "created the chunk adds entries")
    with pytest.raises(NotOwner):
        other.unlink()
    other.close()
    assert os.path.exists(mem.path)  # closing an attached view never removes the chunk


def test_attached_sees_entries_added_later(mem):
    other = SharedMemory.attach(mem.handle)
    mem.newFloatTensor("late", 3).write([1, 2, 3])
    assert other.findFloatTensor("late").read().tolist() == [1, 2, 3]


# -- closed / lifecycle -------------------------------------------------------------------------------
def test_use_after_close(handles):
    m = SharedMemory(handles(), size=1 << 16)
    t = m.newFloatTensor("obs", 4)
    s = m.newSemaphore("sem")
    m.close()
    m.close()  # twice is fine
    with pytest.raises(ChunkClosed, match=rf"^tensor 'obs' cannot be used: shared memory '{m.handle}' is closed$"):
        t.read()
    with pytest.raises(ChunkClosed, match=r"^semaphore 'sem' cannot be used"):
        s.post()
    with pytest.raises(ChunkClosed, match=rf"^shared memory '{m.handle}' is closed$"):
        m.newFloatTensor("x", 1)
    with pytest.raises(ChunkClosed):
        m.engine_pid


def test_close_with_live_user_view_keeps_memory_valid(handles):
    m = SharedMemory(handles(), size=1 << 16)
    t = m.newFloatTensor("obs", 4)
    t.write([1, 2, 3, 4])
    view = t.view
    m.close()
    assert not os.path.exists(m.path)
    assert view.tolist() == [1, 2, 3, 4]  # still mapped until the view dies: no crash
    del view


def test_close_after_failed_init(handles):
    m = SharedMemory.__new__(SharedMemory)
    with pytest.raises(InvalidHandle):
        m.__init__("bad/handle")
    m.close()
    m.close()


def test_failed_create_rolls_back(handles, monkeypatch):
    h = handles()

    def broken_mmap(*a, **k):
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(chunk_mod.mmap, "mmap", broken_mmap)
    with pytest.raises(ChunkFull, match="Cannot allocate memory"):
        SharedMemory(h, size=1 << 16)
    assert not os.path.exists(f"/dev/shm/{h}")
    monkeypatch.setattr(chunk_mod.mmap, "mmap", mmap.mmap)


def test_semaphore_needs_a_memory(monkeypatch):
    monkeypatch.setattr(chunk_mod, "_latest", None)
    with pytest.raises(SharedMemoryError) as err:
        SharedMemorySemaphore("s", 0)
    assert str(err.value) == ("cannot create semaphore 's': no SharedMemory is open in this process; create one "
                              "first or pass memory=")


def test_semaphore_defaults_to_latest_memory(handles):
    with SharedMemory(handles(), size=1 << 16) as a:
        s = SharedMemorySemaphore("s", 2)
        assert a.find_semaphore("s") is s and s.value == 2
    with pytest.raises(SharedMemoryError, match="no SharedMemory is open"):
        SharedMemorySemaphore("t", 0)  # the latest one is closed


@pytest.mark.parametrize("init_val", [-1, 2**31])
def test_semaphore_bad_init_val(mem, init_val):
    with pytest.raises(ValueError, match=rf"init_val of semaphore 's' must be between 0 and 2147483647"):
        mem.newSemaphore("s", init_val)


def test_unlink_keeps_mapping_usable(mem):
    t = mem.newFloatTensor("obs", 2)
    other = SharedMemory.attach(mem.handle)
    mem.unlink()
    mem.unlink()
    assert not os.path.exists(mem.path)
    t.write([5, 6])
    assert other.findFloatTensor("obs").read().tolist() == [5, 6]
    with pytest.raises(ChunkNotFound):
        SharedMemory.attach(mem.handle)


def test_close_asks_engine_to_quit(handles):
    m = SharedMemory(handles(), size=1 << 16)
    other = SharedMemory.attach(m.handle)
    assert not other.shutdown_requested
    m.close()
    assert other.shutdown_requested


def test_find_tensor_dtype_spellings(mem):
    import numpy as np

    mem.newFloatTensor("obs", 2)
    for dtype in (L.DTYPE_FLOAT32, np.float32, "float32", "f4", np.dtype("<f4")):
        assert mem.find_tensor("obs", dtype).name == "obs"
    with pytest.raises(WrongKind, match="is a float32 tensor, not a uint8 tensor"):
        mem.find_tensor("obs", "uint8")
    with pytest.raises(ValueError, match=r"^dtype must be int32, float32 or uint8 \(or a layout.DTYPE_\* code\), "
                                         r"got 'float64'$"):
        mem.find_tensor("obs", "float64")


def test_create_rollback_before_inode_is_known(handles, monkeypatch):
    h = handles()

    def broken_fstat(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(chunk_mod.os, "fstat", broken_fstat)
    with pytest.raises(OSError, match="Input/output error"):
        SharedMemory(h, size=1 << 16)
    monkeypatch.undo()
    assert not os.path.exists(f"/dev/shm/{h}")
    # nor the temporary file it was being built in (its inode was never known)
    assert not [n for n in os.listdir("/dev/shm") if n.startswith(f".aigym-new.{os.getpid()}.")]
