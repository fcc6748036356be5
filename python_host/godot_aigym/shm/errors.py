"""Errors of the shared-memory host side: one base class, one class per cause.

Each class also derives from the closest builtin (LookupError, TypeError, ...) so generic
``except`` clauses keep working; every message names the chunk/entry and what was wrong.
"""

from __future__ import annotations


class SharedMemoryError(Exception):
    """Base class of every godot-aigym shared-memory error."""


class InvalidHandle(SharedMemoryError, ValueError):
    """The handle is missing or not 1-127 characters of [A-Za-z0-9_.-] (not starting with '.')."""


class ChunkNotFound(SharedMemoryError, FileNotFoundError):
    """No chunk exists under the handle."""


class ChunkExists(SharedMemoryError, FileExistsError):
    """A chunk with the requested handle already exists."""


class BadChunk(SharedMemoryError):
    """The chunk is not a valid godot-aigym chunk (magic, version, sizes or directory).

    ``status`` is the protocol status code (layout.ERR_*), ``entry`` the index of the bad
    directory entry or None.
    """

    def __init__(self, message: str, status: int, entry: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.entry = entry


class ChunkClosed(SharedMemoryError):
    """The chunk (or a tensor/semaphore of it) was used after ``close()``."""


class ChunkFull(SharedMemoryError):
    """No room left: directory capacity, chunk size, or /dev/shm space."""


class InvalidName(SharedMemoryError, ValueError):
    """An entry name is not 1-63 characters of [A-Za-z0-9_.-]."""


class DuplicateName(SharedMemoryError, ValueError):
    """An entry with that name already exists in the chunk."""


class UnknownName(SharedMemoryError, LookupError):
    """No entry with that name exists in the chunk."""


class WrongKind(SharedMemoryError, TypeError):
    """The entry exists but is another kind or dtype (e.g. int32 asked, float32 stored)."""


class WrongLength(SharedMemoryError, ValueError):
    """A write has the wrong number of elements or shape."""


class WrongDtype(SharedMemoryError, TypeError):
    """A write's values cannot be stored in the tensor's dtype without loss."""


class NotOwner(SharedMemoryError):
    """Creating entries needs the chunk's creator; an attached chunk is read-only in structure."""


class WaitTimeout(SharedMemoryError, TimeoutError):
    """A semaphore wait with a timeout ran out."""


class EngineDiedError(SharedMemoryError):
    """The peer (engine) process died while the host waited on a semaphore."""


class EngineTimeoutError(WaitTimeout):
    """The engine is alive but did not answer within the timeout (hung, or far too slow).

    A hang is not a death: this is a ``TimeoutError`` (and a ``WaitTimeout``), never an
    ``EngineDiedError``. The environment layer stops the engine before raising it.
    """


class EngineScriptError(SharedMemoryError):
    """The engine stopped on an error: it logged one (a script error, ``push_error``...), did
    not answer, and now waits on ``semaphore``, which nobody posts while the host waits too.
    ``text`` is the first error since the engine last posted ("what (file:line, function)"),
    ``error_count`` how many it logged since (docs/FAILURE_MODEL.md, "The engine stops on a script error")."""

    def __init__(self, message: str, text: str, error_count: int, semaphore: str) -> None:
        super().__init__(message)
        self.text = text
        self.error_count = error_count
        self.semaphore = semaphore


class CorruptedSemaphore(SharedMemoryError):
    """A semaphore's bytes in the chunk are garbage (bad magic, count or waiter count): someone
    other than godot-aigym wrote into the chunk. ``name`` is the semaphore's name."""

    def __init__(self, message: str, name: str) -> None:
        super().__init__(message)
        self.name = name


class ChunkClaimed(SharedMemoryError):
    """Another live engine already claimed the chunk (``holder_pid``); one engine per chunk."""

    def __init__(self, message: str, holder_pid: int) -> None:
        super().__init__(message)
        self.holder_pid = holder_pid


class ChunkNotPrivate(SharedMemoryError, PermissionError):
    """The file under the handle is owned by another user or grants group/other access (a
    possible name squatter), or we may not open it; ``owner_uid`` and ``mode`` say which."""

    def __init__(self, message: str, owner_uid: int | None = None, mode: int | None = None) -> None:
        super().__init__(message)
        self.owner_uid = owner_uid
        self.mode = mode
