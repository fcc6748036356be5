"""Exceptions raised by SharedObject: one base class, each also a familiar builtin.

Every error names the object and what was wrong; none of them leaves the stored
value changed (validation happens before the writer lock is taken, and writers
only ever write the unpublished slot).
"""

from __future__ import annotations


class SharedObjectError(Exception):
    """Base class of every SharedObject error."""


class InvalidNameError(SharedObjectError, ValueError):
    """The object name is empty, too long, or contains '/' or NUL."""


class ObjectNotFoundError(SharedObjectError, FileNotFoundError):
    """No shared object exists under that name (mount with create=False, unpickling, unlink)."""


class ObjectExistsError(SharedObjectError, FileExistsError):
    """An object already exists under that name (create=True)."""


class UnsupportedTypeError(SharedObjectError, TypeError):
    """The value (or an element of it) has a type that cannot be stored."""


class ArgumentTypeError(SharedObjectError, TypeError):
    """An argument of SharedObject/SharedDynamicObject has the wrong type (``create`` not
    None/True/False, ``init_size`` not an int)."""


class UnsupportedValueError(SharedObjectError, ValueError):
    """The type is supported but this value is not (int beyond 64 bits, nesting too deep...)."""


class TypeMismatchError(SharedObjectError, TypeError):
    """A fixed SharedObject cannot change its type or its array dtype; use SharedDynamicObject."""


class ShapeMismatchError(SharedObjectError, ValueError):
    """A fixed SharedObject holding an array cannot change the array shape."""


class ObjectTooLargeError(SharedObjectError, BufferError):
    """The value does not fit the capacity a fixed SharedObject was created with."""


class LockTimeoutError(SharedObjectError, TimeoutError):
    """The writer lock could not be taken within the timeout (a live writer holds it)."""


class ObjectClosedError(SharedObjectError, ValueError):
    """The handle was closed; mount the object again to use it."""


class ObjectNotPrivateError(SharedObjectError, PermissionError):
    """The segment under that name is owned by another user or grants group/other access (a
    possible name squatter), or we may not open it; ``owner_uid`` and ``mode`` say which."""

    def __init__(self, message: str, owner_uid: int | None = None, mode: int | None = None) -> None:
        super().__init__(message)
        self.owner_uid = owner_uid
        self.mode = mode


class CorruptObjectError(SharedObjectError):
    """The shared memory under that name is not a (complete, compatible) SharedObject."""


class SyncUnavailableError(SharedObjectError, ImportError):
    """A compiled helper (godot_aigym.shared_object._sync or _slotcopy) is missing (run `pip install -e .`)."""
