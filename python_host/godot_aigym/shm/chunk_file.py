"""The chunk's file: crash-safe creation under a unique name, the handle and permission checks,
the engine claim and the sweep of chunks left by dead hosts. `SharedMemory` (chunk.py) builds
the entry API on top of this mixin."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import mmap
import operator
import os
import stat
from typing import Any

from . import cleanup
from . import _futexsem as _fs
from . import layout as L
from .errors import (ChunkClaimed, ChunkExists, ChunkFull, ChunkNotFound, ChunkNotPrivate, InvalidHandle,
                     SharedMemoryError)
from .ownership import user_name
from ..liveness import owner_alive, pid_alive, start_time
from ..owners import run_once, unlink_if_same

_CREATE_ATTEMPTS = 16


def _check_handle(handle: Any) -> str:
    if handle is None or handle == "":
        raise InvalidHandle(L.STATUS_MESSAGES[L.ERR_NO_HANDLE])
    if not isinstance(handle, str) or not handle.isascii() or not L.handle_valid(handle.encode()):
        raise InvalidHandle(f"{handle!r}: {L.STATUS_MESSAGES[L.ERR_BAD_HANDLE]}")
    return handle


class _LiveFields:
    """Header fields shared while both sides run, accessed with single aligned loads/stores
    (ctypes scalars; struct.pack_into would write byte by byte and could tear)."""

    def __init__(self, mm: mmap.mmap) -> None:
        off = L.HEADER_OFFSETS
        self.entry_count = ctypes.c_uint32.from_buffer(mm, off["entry_count"])
        self.data_used = ctypes.c_uint64.from_buffer(mm, off["data_used"])
        self.engine_pid = ctypes.c_int32.from_buffer(mm, off["engine_pid"])
        self.engine_start_time = ctypes.c_uint64.from_buffer(mm, off["engine_start_time"])
        self.host_pid = ctypes.c_int32.from_buffer(mm, off["host_pid"])
        self.shutdown = ctypes.c_uint32.from_buffer(mm, off["shutdown"])


class ChunkFile:
    """Creation and claiming of the chunk file; the state lives in SharedMemory._init_state."""

    def _claim_as_engine(self) -> None:
        """Compare-and-swap engine_pid to our pid, then record our start time (as
        aigym_shm_claim in C). A claim is stale when its pid is gone, a zombie, or now another
        process (start time differs from the claim's); a start time of 0 (unknown, or a claim
        being made right now) is never taken for stale."""
        fields = self._fields()
        addr = ctypes.addressof(fields.engine_pid)
        me, holder = os.getpid(), 0
        mine = start_time(me)
        for _ in range(16):
            holder = _fs.cas_i32(addr, 0, me)
            if holder == 0:
                fields.engine_start_time.value = mine
                return
            if holder == me:
                return
            if holder > 0 and pid_alive(holder):
                claimed, now = fields.engine_start_time.value, start_time(holder)
                if claimed == 0 or now == 0 or claimed == now:
                    break  # a live engine
            fields.engine_start_time.value = 0  # first: our claim never carries the dead one's start time
            if _fs.cas_i32(addr, holder, me) == holder:  # take the stale claim over
                fields.engine_start_time.value = mine
                return
        raise ChunkClaimed(f"shared memory '{self.handle}': {L.STATUS_MESSAGES[L.ERR_CLAIMED]} (pid {holder}); "
                           "one engine per chunk", holder)

    def _refuse_if_host_gone(self, host_pid: int, host_start_time: int, st: os.stat_result) -> None:
        """An engine never attaches to a chunk whose host is dead, a zombie or its pid reused
        (as aigym's SharedChunk::attach in C): nobody would answer, and with no engine watching it
        nobody but a later host's sweep would remove it. Remove that very file; ChunkNotFound."""
        if host_pid <= 0 or owner_alive(host_pid, host_start_time):  # pid <= 0: unknown, as in C
            return
        removed = unlink_if_same(self.path, st.st_dev, st.st_ino)
        raise ChunkNotFound(f"shared memory '{self.handle}': the host process that created it (pid {host_pid}) is gone"
                            + ("; removed the stale chunk" if removed else ""))

    @staticmethod
    def _check_int(what: str, value: Any, lo: int, hi: int) -> int:
        try:
            if isinstance(value, bool):
                raise TypeError
            value = operator.index(value)
        except TypeError:
            raise TypeError(f"{what} must be an integer, got {type(value).__name__}") from None
        if not lo <= value <= hi:
            raise ValueError(f"{what} must be between {lo} and {hi}, got {value}")
        return value

    def _create(self, handle: str, size: int, capacity: int, data_offset: int) -> None:
        """Build the chunk under a temporary name, then link it into place complete.

        A host killed at any point leaves either nothing, a temporary file whose name holds
        our pid and start time, or a complete chunk with our pid in its header: the sweep
        removes both kinds once we are dead (no zero-filled file nothing would ever remove).
        """
        path = os.path.join(cleanup.SHM_DIR, handle)
        if os.path.lexists(path):  # cheap early answer; os.link below is the atomic check
            raise ChunkExists(f"shared memory '{handle}' already exists; choose another handle or omit it "
                              "to generate one")
        tmp = cleanup.temp_path()
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise SharedMemoryError(f"shared memory '{handle}': cannot create {tmp}: {exc.strerror}") from None
        self.handle, self._fd, self._owner = handle, fd, True
        try:
            st = os.fstat(fd)
        except BaseException:
            # The inode is unknown, so unlink_if_same cannot check it: remove the temporary
            # file by its name (unguessable, made with O_EXCL a moment ago), then roll back.
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            self.close()
            raise
        cleanup.register(tmp, st.st_dev, st.st_ino)  # exit and signal handlers remove it too
        try:
            os.fchmod(fd, 0o600)  # exact mode whatever the umask
            self._size_and_map(fd, size)
            self._reserve(0, data_offset, "the header and directory")
            L.HEADER_STRUCT.pack_into(
                self._mm, 0, b"\0" * 8, L.LAYOUT_VERSION, L.HEADER_SIZE, size, L.ENTRY_SIZE, capacity, 0,
                L.SEM_SIZE, data_offset, 0, os.getpid(), 0, start_time(os.getpid()), 0, 0, 0, b"")
            self._mm[0:8] = L.MAGIC  # last: a sweep never sees a header without its pid
            try:
                os.link(tmp, path)  # atomic publication; never replaces an existing name
            except FileExistsError:
                raise ChunkExists(f"shared memory '{handle}' already exists; choose another handle or omit it "
                                  "to generate one") from None
            self._identity = (st.st_dev, st.st_ino)
            cleanup.register(path, st.st_dev, st.st_ino)
            self._size, self._capacity, self._data_offset = size, capacity, data_offset
            self._live = _LiveFields(self._mm)
            self._closed = False
        except BaseException:
            self.close()  # roll back: unmap, unlink the published name if any, close the fd
            raise
        finally:
            cleanup.unregister(tmp)
            cleanup.unlink_if_same(tmp, st.st_dev, st.st_ino)

    def _size_and_map(self, fd: int, size: int) -> None:
        """Give the file its size and map it; a size the system cannot hold is ChunkFull."""
        try:
            os.ftruncate(fd, size)
            self._mm = mmap.mmap(fd, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        except (OSError, OverflowError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ChunkFull(f"shared memory '{self.handle}': cannot make a chunk of {size} bytes ({reason}); "
                            "choose a smaller size") from None

    def _reserve(self, offset: int, nbytes: int, what: str) -> None:
        """Back a range with real tmpfs pages now, so a full /dev/shm is an error, not SIGBUS."""
        try:
            os.posix_fallocate(self._fd, offset, nbytes)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EFBIG):
                raise ChunkFull(f"shared memory '{self.handle}': no space left in {cleanup.SHM_DIR} for "
                                f"{what} ({nbytes} bytes)") from None
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):  # fs without fallocate: skip
                raise


def _permission_error(handle: str, exc: OSError) -> ChunkNotPrivate:
    """A chunk we may not open: name its owner and mode (an lstat just for the message)."""
    try:
        st = os.lstat(os.path.join(cleanup.SHM_DIR, handle))
        owner, mode = st.st_uid, stat.S_IMODE(st.st_mode)
        detail = f"owned by {user_name(owner)}, mode {mode:04o}"
    except OSError:
        owner = mode = None
        detail = "owner unknown"
    return ChunkNotPrivate(f"shared memory '{handle}': permission denied ({detail}); "
                           f"{L.STATUS_MESSAGES[L.ERR_NOT_PRIVATE]}", owner, mode)


# chunks left by dead hosts are removed once per process, before creating the first chunk
_sweep_once = run_once(cleanup.sweep_stale_chunks)
