"""SharedMemory: create (host) or attach to a godot-aigym chunk; its state, liveness and teardown.

Two mixins do the rest: the chunk file itself (crash-safe creation under a unique name, handle
and permission checks, the engine claim, the sweep of dead hosts' chunks) is chunk_file.py's
`ChunkFile`; creating and finding the named tensors and semaphores is chunk_entries.py's
`ChunkEntries`."""

from __future__ import annotations

import mmap
import os
import secrets
import stat
import weakref
from typing import Any

from . import cleanup
from . import layout as L
from .chunk_entries import ChunkEntries
from .chunk_file import _CREATE_ATTEMPTS, ChunkFile, _LiveFields, _check_handle, _permission_error, _sweep_once
from .errors import BadChunk, ChunkClosed, ChunkExists, ChunkNotFound, ChunkNotPrivate, NotOwner, SharedMemoryError
from .ownership import not_private_reason
from ..liveness import Peer
from .validate import Entry, parse

DEFAULT_SIZE = 64 * 1024 * 1024  # sparse: pages cost nothing until allocated
DEFAULT_CAPACITY = 64

_latest: weakref.ref[SharedMemory] | None = None


def latest_memory() -> SharedMemory | None:
    """The SharedMemory most recently created in this process, if still open."""
    mem = _latest() if _latest is not None else None
    return mem if mem is not None and not mem.closed else None


class SharedMemory(ChunkFile, ChunkEntries):
    """A named POSIX shared-memory chunk holding tensors and semaphores.

    ``SharedMemory(handle=None, size=64 MiB, capacity=64)`` creates a chunk (mode 0600) under
    ``handle`` or a generated unique ``aigym_<hex>``; pass ``handle`` to the engine as
    ``--handle``. ``SharedMemory.attach(handle)`` opens an existing chunk after validating it.
    The creator owns the chunk: ``close()`` unmaps it and removes its name, and so do the exit
    and SIGINT/SIGTERM handlers. Use it as a context manager.
    """

    # -- construction ------------------------------------------------------------------------
    def __init__(self, handle: str | None = None, size: int = DEFAULT_SIZE, capacity: int = DEFAULT_CAPACITY) -> None:
        self._init_state()
        capacity = self._check_int("capacity", capacity, 1, L.MAX_CAPACITY)
        data_offset = L.data_offset_for(capacity)
        size = self._check_int("size", size, 0, 2**63 - 1)
        if size < data_offset:
            raise ValueError(f"size must be at least {data_offset} bytes (header, a directory of {capacity} "
                             f"entries and the engine record), got {size}")
        _sweep_once()
        if handle is not None:
            self._create(_check_handle(handle), size, capacity, data_offset)
        else:
            for _ in range(_CREATE_ATTEMPTS):
                try:
                    self._create(cleanup.HANDLE_PREFIX + secrets.token_hex(8), size, capacity, data_offset)
                    break
                except ChunkExists:
                    continue
            else:
                raise ChunkExists(f"could not find a free handle in {_CREATE_ATTEMPTS} attempts")
        global _latest
        _latest = weakref.ref(self)

    @classmethod
    def attach(cls, handle: str | None, as_engine: bool = False) -> SharedMemory:
        """Open an existing chunk, validating header and directory (BadChunk on corruption).

        The attached object can find, read and write entries but not create them. A file owned
        by another user or granting group/other access is refused (ChunkNotPrivate). With
        ``as_engine`` this process claims the chunk as its one engine, like the GDExtension
        does: ChunkClaimed if another live engine holds it (a dead holder's claim is taken over);
        a chunk whose host is gone is removed and ChunkNotFound.
        """
        self = cls.__new__(cls)
        self._init_state()
        handle = _check_handle(handle)
        self.handle = handle
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            raise ChunkNotFound(f"shared memory '{handle}': {L.STATUS_MESSAGES[L.ERR_NOT_FOUND]}") from None
        except PermissionError as exc:
            raise _permission_error(handle, exc) from None
        except OSError as exc:
            raise SharedMemoryError(f"shared memory '{handle}': {L.STATUS_MESSAGES[L.ERR_OPEN_FAILED]} "
                                    f"({exc.strerror})") from None
        try:
            self._fd = fd
            st = os.fstat(fd)
            reason = not_private_reason(st)
            if reason is not None:
                raise ChunkNotPrivate(f"shared memory '{handle}': {L.STATUS_MESSAGES[L.ERR_NOT_PRIVATE]}: {reason}",
                                      st.st_uid, stat.S_IMODE(st.st_mode))
            if st.st_size < L.HEADER_SIZE:
                raise BadChunk(f"shared memory '{handle}': {L.STATUS_MESSAGES[L.ERR_TOO_SMALL]} "
                               f"(it has {st.st_size} bytes)", L.ERR_TOO_SMALL)
            self._mm = mmap.mmap(fd, st.st_size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
            header, entries = parse(self._mm, handle)
            self._size = header.total_size
            self._capacity = header.capacity
            self._data_offset = header.data_offset
            self._entries = {e.name: e for e in entries}
            self._host_pid = header.host_pid  # as validated: whose death we watch (never re-read)
            self._live = _LiveFields(self._mm)
            self._closed = False
            if as_engine:
                self._refuse_if_host_gone(header.host_pid, header.host_start_time, st)
                self._claim_as_engine()
        except BaseException:
            self.close()
            raise
        return self

    def _init_state(self) -> None:
        # everything close() touches exists before anything can fail
        self.handle: str = "?"
        self._fd = -1
        self._mm: mmap.mmap | None = None
        self._live: _LiveFields | None = None
        self._owner = False
        self._creator_pid = os.getpid()  # a forked child inherits the object, not the ownership
        self._closed = True
        self._identity: tuple[int, int] | None = None
        self._entries: dict[str, Entry] = {}
        # weak: tensors/semaphores keep the chunk alive, not the other way round (no cycle,
        # so a dropped SharedMemory is closed and unlinked at once by refcounting)
        self._objects: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
        self._peer: Peer | None = None
        self._size = 0
        self._capacity = 0
        self._data_offset = 0
        self._host_pid = 0

    # -- properties ----------------------------------------------------------------------------
    @property
    def path(self) -> str:
        return os.path.join(cleanup.SHM_DIR, self.handle)

    @property
    def size(self) -> int:
        """Total bytes of the chunk."""
        return self._size

    @property
    def capacity(self) -> int:
        """Directory slots (entries the chunk can hold)."""
        return self._capacity

    @property
    def owner(self) -> bool:
        """True in the creating process (which unlinks the chunk); False in forked children."""
        return self._owner and os.getpid() == self._creator_pid

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def host_pid(self) -> int:
        return self._fields().host_pid.value

    @property
    def engine_pid(self) -> int:
        """Pid the engine wrote on attach, 0 until it attached."""
        return self._fields().engine_pid.value

    @property
    def shutdown_requested(self) -> bool:
        return self._fields().shutdown.value != 0

    @property
    def bytes_free(self) -> int:
        """Bytes left for new entries (before alignment)."""
        fields = self._fields()
        return self._size - self._data_offset - fields.data_used.value

    def names(self) -> list[str]:
        """Names of all entries, in creation order (re-read from the chunk when attached)."""
        self._fields()
        if not self.owner:
            self._refresh()
        return list(self._entries)

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("owner" if self._owner else "attached")
        return f"<SharedMemory '{self.handle}' {state} {len(self._entries)} entries>"

    def _fields(self) -> _LiveFields:
        live = self._live
        if live is None or self._closed:
            raise ChunkClosed(f"shared memory '{self.handle}' is closed")
        return live

    # -- liveness of the other side -----------------------------------------------------------
    def set_peer(self, peer: Peer | None) -> None:
        """Process whose death aborts waits (Popen or pid). Default: the engine_pid the engine
        wrote (for the host) or the host_pid (for an attached process)."""
        self._peer = peer

    def _watched_peer(self) -> Peer | None:
        if self._peer is not None:
            return self._peer
        live = self._live
        if live is None:
            return None
        pid = live.engine_pid.value if self._owner else self._host_pid
        return pid if pid > 0 and pid != os.getpid() else None

    def _peer_role(self) -> str:
        return "engine" if self._owner else "host"

    def request_shutdown(self) -> None:
        """Ask the engine to quit (it checks the flag while waiting and between steps)."""
        self._fields().shutdown.value = 1

    # -- teardown ----------------------------------------------------------------------------
    def unlink(self) -> None:
        """Remove the chunk's name now (idempotent). Existing mappings, ours and the engine's,
        stay valid; nothing can attach any more and nothing can leak."""
        if not self.owner:
            raise NotOwner(f"shared memory '{self.handle}' was attached or inherited, not created, by this "
                           "process; only its creator unlinks it")
        if self._identity is not None:
            cleanup.unregister(self.path)
            try:
                cleanup.unlink_if_same(self.path, *self._identity)
            except OSError:
                pass
            self._identity = None

    def close(self) -> None:
        """Unmap the chunk; the creator also asks the engine to quit and unlinks the name.

        Safe to call twice and after a failed constructor. Numpy views handed out by
        ``tensor.view`` keep the memory mapped until they are garbage collected.
        """
        was_open = not self._closed
        self._closed = True
        if was_open and self.owner and self._live is not None:
            self._live.shutdown.value = 1
        for obj in list(self._objects.values()):
            obj._release()
        self._objects = weakref.WeakValueDictionary()
        self._live = None
        if self._mm is not None:
            try:
                self._mm.close()
            except BufferError:
                pass  # user views still export it; it is unmapped when they are freed
            self._mm = None
        if self.owner:
            self.unlink()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> SharedMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


SharedMemoryTensor = SharedMemory  # the seed's name for the chunk class
