"""Stand-in for GodotAIGym's ``_GodotEnv`` extension module: ``import _GodotEnv`` works
unchanged when this folder is on PYTHONPATH (see godot_aigym.compat and docs/PORTING.md)."""

from godot_aigym.compat import (PersistentFloatTensor, PersistentIntTensor, PersistentUintTensor,  # noqa: F401
                                SharedMemorySemaphore, SharedMemoryTensor)

__all__ = ["SharedMemoryTensor", "SharedMemorySemaphore", "PersistentIntTensor", "PersistentFloatTensor",
           "PersistentUintTensor"]
