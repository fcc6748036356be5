"""GodotAIGym compatibility: the original Python API on top of ``godot_aigym.shm``.

Scripts written for GodotAIGym (github.com/lupoglaz/GodotAIGym) import its extension module
``_GodotEnv``. Either change that line to ``import godot_aigym.compat as _GodotEnv``, or
leave it and put ``SHIM_DIR`` on ``PYTHONPATH`` (``python -m godot_aigym.compat``
prints it), where a ``_GodotEnv`` module re-exports this one. See docs/PORTING.md.

- ``SharedMemoryTensor(handle)`` with ``newIntTensor / newFloatTensor / newUintTensor``;
  tensors ``read()`` a new torch tensor and ``write()`` one.
- ``SharedMemorySemaphore(name, init_val)``: ``post()``, ``wait()``, ``timed_wait(msec)``
  in milliseconds; may be created before its ``SharedMemoryTensor``.
- ``godot_executable(headless=False)``: the ``exec_path`` for the driver's launch line.

Errors are those of ``godot_aigym.shm`` (``SharedMemoryError`` and its subclasses); a wait
on a game that stopped on a script error raises ``EngineScriptError`` naming it.
"""

from pathlib import Path

from ..shm.errors import EngineDiedError, EngineScriptError, SharedMemoryError
from .launcher import godot_executable
from .semaphore import SharedMemorySemaphore
from .tensors import PersistentFloatTensor, PersistentIntTensor, PersistentUintTensor, SharedMemoryTensor

SHIM_DIR = str(Path(__file__).resolve().parent / "shim")
"""Folder holding the ``_GodotEnv`` module: put it on PYTHONPATH to run scripts unchanged."""

__all__ = ["SharedMemoryTensor", "SharedMemorySemaphore", "PersistentIntTensor", "PersistentFloatTensor",
           "PersistentUintTensor", "godot_executable", "SHIM_DIR", "SharedMemoryError", "EngineDiedError",
           "EngineScriptError"]
