"""godot-aigym: Godot 4 scenes as fast reinforcement-learning environments over shared memory.

Importing the package is cheap: torch-dependent helpers (``export_policy``) and the
Gymnasium environments load on first use.
"""

from .shared_object import SharedDynamicObject, SharedObject
from .shm import (BadChunk, ChunkNotFound, EngineDiedError, SharedMemory, SharedMemoryError, SharedMemorySemaphore,
                  SharedMemoryTensor, UnknownName, WaitTimeout, WrongKind, WrongLength, sweep_stale_chunks)
from .shm.errors import EngineTimeoutError

__version__ = "0.1.0"

_LAZY = {
    "export_policy": ("godot_aigym.torch_export", "export_policy"),
    "GodotProcess": ("godot_aigym.engine", "GodotProcess"),
    "LaunchOptions": ("godot_aigym.engine", "LaunchOptions"),
    "resolve_godot": ("godot_aigym.runtime", "resolve_godot"),
    "GodotEnv": ("godot_aigym.env", "GodotEnv"),
    "GodotProcessError": ("godot_aigym.engine", "GodotProcessError"),
    "InvalidCpusError": ("godot_aigym.engine", "InvalidCpusError"),
    "sweep_stale_logs": ("godot_aigym.engine", "sweep_stale_logs"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'godot_aigym' has no attribute {name!r}")


__all__ = [
    "SharedObject", "SharedDynamicObject", "SharedMemory", "SharedMemoryTensor", "SharedMemorySemaphore",
    "sweep_stale_chunks", "SharedMemoryError", "BadChunk", "ChunkNotFound", "EngineDiedError", "EngineTimeoutError",
    "UnknownName",
    "WaitTimeout", "WrongKind", "WrongLength", *_LAZY,
]
