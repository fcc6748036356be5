"""Loads the compiled helpers (`_sync`, `_slotcopy`) and holds the tuning constants.

The import is lazy so that `import godot_aigym` works (and stays cheap) even where
the C helpers have not been built; the first SharedObject then raises a clear error.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import ObjectClosedError, SyncUnavailableError

# Writers spin this long on a held lock before sleeping: locks are held for one copy.
LOCK_SPIN_S = 20e-6
# wait_modified spins this long before sleeping on the futex: a cross-CPU wake-up from
# sleep costs ~60 us on an idle vCPU, while a spinning waiter notices within ~0.1 us.
WAIT_SPIN_S = 50e-6
# Optimistic (lock-free) read attempts before a reader takes the writer lock to read.
READ_ATTEMPTS = 8
# Default writer-lock timeout: a live writer holds the lock for one copy only.
DEFAULT_LOCK_TIMEOUT_S = 10.0
# How long mounting waits for a concurrently created object to become ready.
MOUNT_TIMEOUT_S = 5.0

_loaded: dict[str, ModuleType] = {}


def _helper(name: str) -> ModuleType:
    """Import a compiled helper of this package on first use, with a clear error if unbuilt."""
    mod = _loaded.get(name)
    if mod is None:
        try:
            mod = importlib.import_module(f"{__package__}.{name}")
        except ImportError as exc:  # pragma: no cover - depends on the build
            raise SyncUnavailableError(
                f"godot_aigym.shared_object.{name} is not built; run `pip install -e .` "
                "from the repository root (needs a C compiler and Python headers)"
            ) from exc
        if name == "_sync":
            mod.set_closed_error(ObjectClosedError)
        _loaded[name] = mod
    return mod


def ext() -> ModuleType:
    """The compiled `_sync` module: atomics, futex wait/wake and the robust writer lock."""
    return _helper("_sync")


def slotcopy() -> ModuleType:
    """The compiled `_slotcopy` module: the cache-aware copy into a standby slot."""
    return _helper("_slotcopy")


def timeout_arg(timeout: float | None, what: str) -> float:
    """Validate a user timeout; None means wait forever (encoded as -1 for C)."""
    if timeout is None:
        return -1.0
    t = float(timeout)
    if not t >= 0.0:  # also rejects NaN
        raise ValueError(f"{what} must be None or a number >= 0, got {timeout!r}")
    return t
