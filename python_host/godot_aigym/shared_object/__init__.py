"""Python values shared between processes by name, in POSIX shared memory.

    >>> from godot_aigym.shared_object import SharedObject
    >>> frame = SharedObject("camera", data=np.zeros((480, 848, 3), np.uint8))  # creator
    >>> frame = SharedObject("camera")            # any other process: mount by name
    >>> frame.assign(img); frame.fetch(); frame.wait_modified(timeout=1.0)

See docs/SHARED_OBJECT.md for the API, the synchronisation and the memory layout.
Importing this package is cheap: the compiled helper loads on first use.
"""

from .dynamic import SharedDynamicObject
from .errors import (
    ArgumentTypeError,
    CorruptObjectError,
    InvalidNameError,
    LockTimeoutError,
    ObjectClosedError,
    ObjectExistsError,
    ObjectNotPrivateError,
    ObjectNotFoundError,
    ObjectTooLargeError,
    ShapeMismatchError,
    SharedObjectError,
    SyncUnavailableError,
    TypeMismatchError,
    UnsupportedTypeError,
    UnsupportedValueError,
)
from .object import SharedObject
from .segment import cleanup_owned, sweep_stale

__all__ = [
    "ArgumentTypeError",
    "CorruptObjectError",
    "InvalidNameError",
    "LockTimeoutError",
    "ObjectClosedError",
    "ObjectExistsError",
    "ObjectNotPrivateError",
    "ObjectNotFoundError",
    "ObjectTooLargeError",
    "ShapeMismatchError",
    "SharedDynamicObject",
    "SharedObject",
    "SharedObjectError",
    "SyncUnavailableError",
    "TypeMismatchError",
    "UnsupportedTypeError",
    "UnsupportedValueError",
    "cleanup_owned",
    "sweep_stale",
]
