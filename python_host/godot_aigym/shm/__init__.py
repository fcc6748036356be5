"""Host side of the godot-aigym shared memory: chunk, tensors, semaphores, cleanup.

The layout is specified in docs/PROTOCOL.md and gdextension/shm/aigym_shm_layout.h;
``layout`` mirrors it.
"""

from .chunk import DEFAULT_CAPACITY, DEFAULT_SIZE, SharedMemory, SharedMemoryTensor
from .cleanup import sweep_stale_chunks
from .errors import (BadChunk, ChunkClaimed, ChunkClosed, ChunkExists, ChunkFull, ChunkNotFound, ChunkNotPrivate,
                     CorruptedSemaphore, DuplicateName, EngineDiedError, EngineScriptError, InvalidHandle, InvalidName, NotOwner,
                     SharedMemoryError, UnknownName, WaitTimeout, WrongDtype, WrongKind, WrongLength)
from .semaphore import SharedMemorySemaphore, get_default_spin_us, set_default_spin_us
from .tensor import SharedFloatTensor, SharedIntTensor, SharedTensor, SharedUintTensor

__all__ = [
    "SharedMemory", "SharedMemoryTensor", "SharedMemorySemaphore", "sweep_stale_chunks",
    "SharedTensor", "SharedIntTensor", "SharedFloatTensor", "SharedUintTensor",
    "set_default_spin_us", "get_default_spin_us", "DEFAULT_SIZE", "DEFAULT_CAPACITY",
    "SharedMemoryError", "InvalidHandle", "ChunkNotFound", "ChunkExists", "BadChunk", "ChunkClosed", "ChunkFull",
    "InvalidName", "DuplicateName", "UnknownName", "WrongKind", "WrongLength", "WrongDtype", "NotOwner",
    "WaitTimeout", "EngineDiedError", "EngineScriptError", "CorruptedSemaphore", "ChunkClaimed", "ChunkNotPrivate",
]
