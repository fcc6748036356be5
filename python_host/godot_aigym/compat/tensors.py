"""GodotAIGym's ``SharedMemoryTensor(handle)`` and its persistent tensors, with torch I/O.

``SharedMemoryTensor(handle)`` creates our chunk under exactly that name (the game finds it
through ``--handle <handle>`` as before); ``newIntTensor / newFloatTensor / newUintTensor``
return tensors whose ``read()`` gives a new torch tensor and ``write()`` takes one, like the
original's pybind11 classes. Everything else (validation, errors, cleanup) is ``godot_aigym.shm``.
"""

from __future__ import annotations

import os
import stat
from typing import Any

import numpy as np

from ..shm import DEFAULT_SIZE, ChunkExists, SharedMemory, SharedTensor, sweep_stale_chunks
from ..shm import layout as L
from ..shm.cleanup import SHM_DIR
from ..shm.ownership import user_name
from .engine_watch import find_engine_child
from .semaphore import adopt_pending


def _torch():
    import torch  # the original API is torch-based; imported on first tensor I/O

    return torch


class _PersistentTensor:
    """Common part of PersistentIntTensor / PersistentFloatTensor / PersistentUintTensor."""

    _read_dtype: Any = None  # numpy dtype of what read() returns

    def __init__(self, tensor: SharedTensor) -> None:
        self._tensor = tensor

    @property
    def name(self) -> str:
        return self._tensor.name

    @property
    def size(self) -> int:
        return self._tensor.size

    def __len__(self) -> int:
        return self._tensor.size

    def __repr__(self) -> str:
        return f"<compat {type(self).__name__} '{self.name}' [{self.size}]>"

    def read(self):
        """A new 1-D CPU torch tensor with the current contents."""
        data = self._tensor.read()
        if data.dtype != self._read_dtype:
            data = data.astype(self._read_dtype)
        return _torch().from_numpy(data)

    def write(self, values: Any) -> None:
        """Copy a torch tensor (any shape with ``size`` elements, as the original read it
        flat), numpy array or sequence in. Raises WrongLength / WrongDtype (our families)
        where the original read past the end or failed inside torch."""
        if hasattr(values, "detach") and hasattr(values, "reshape"):
            values = values.detach().reshape(-1)
        elif isinstance(values, np.ndarray):
            values = values.reshape(-1)
        self._tensor.write(values)

    @property
    def idiomatic(self) -> SharedTensor:
        """The underlying ``godot_aigym.shm`` tensor (numpy ``read``/``view``)."""
        return self._tensor


class PersistentIntTensor(_PersistentTensor):
    """int32 tensor; ``read()`` -> torch.int32."""

    _read_dtype = np.dtype(np.int32)


class PersistentFloatTensor(_PersistentTensor):
    """float32 tensor; ``read()`` -> torch.float32."""

    _read_dtype = np.dtype(np.float32)


class PersistentUintTensor(_PersistentTensor):
    """uint8 tensor; ``read()`` -> torch.int32 holding 0..255, exactly as the original
    (which also took an int32 tensor in ``write``; any integers in 0..255 are accepted)."""

    _read_dtype = np.dtype(np.int32)


def _whose(handle: str) -> str:
    """What holds the name: another user's file (maybe squatting it), a live host's chunk, or else."""
    path = os.path.join(SHM_DIR, handle)
    try:
        st = os.lstat(path)
        if st.st_uid != os.getuid():
            return (f"is owned by {user_name(st.st_uid)}, mode {stat.S_IMODE(st.st_mode):04o}: "
                    "another user's file, never used or removed by us")
        with open(path, "rb") as f:
            head = f.read(L.HEADER_SIZE)
    except OSError:
        return "cannot be inspected"
    if len(head) == L.HEADER_SIZE and head[:8] == L.MAGIC:
        pid = L.I32.unpack_from(head, L.HEADER_OFFSETS["host_pid"])[0]
        if pid == os.getpid():  # e.g. a second env object made with the original's fixed handle
            return (f"belongs to this process (pid {pid}): an earlier SharedMemoryTensor('{handle}') is still "
                    "alive; close() it (or drop every reference) before making another")
        return f"belongs to the running process {pid}"
    return "is not a godot-aigym chunk"


class SharedMemoryTensor:
    """The original's chunk: ``SharedMemoryTensor(handle)``, then ``new*Tensor(name, size)``.

    ``handle`` is the name the game gets with ``--handle``. Like the original, a chunk left
    under that name by a process that died is replaced; unlike it, a chunk of a live process
    (or a file that is not a godot-aigym chunk) is never removed: ChunkExists names it.
    """

    def __init__(self, handle: str, size: int = DEFAULT_SIZE) -> None:
        try:
            self.memory = SharedMemory(handle=handle, size=size)
        except ChunkExists:
            # stale leftovers of a killed host are ours to remove (the sweep checks magic,
            # owner uid and that the creator is dead); prefix match: only dead hosts' chunks go
            sweep_stale_chunks(prefix=handle)
            try:
                self.memory = SharedMemory(handle=handle, size=size)
            except ChunkExists:
                raise ChunkExists(f"shared memory '{handle}' already exists and {_whose(handle)}: GodotAIGym removed "
                                  "it silently, godot-aigym does not; choose another handle") from None
        self.handle: str = self.memory.handle
        self._peer_set = False  # a launched engine process found (see _discover_engine)
        adopt_pending(self)

    def newIntTensor(self, name: str, size: int) -> PersistentIntTensor:
        return PersistentIntTensor(self.memory.newIntTensor(name, size))

    def newFloatTensor(self, name: str, size: int) -> PersistentFloatTensor:
        return PersistentFloatTensor(self.memory.newFloatTensor(name, size))

    def newUintTensor(self, name: str, size: int) -> PersistentUintTensor:
        return PersistentUintTensor(self.memory.newUintTensor(name, size))

    # -- engine liveness for the semaphores (see engine_watch) ------------------------------
    def _engine_known(self) -> bool:
        return self._peer_set or self.memory.engine_pid > 0

    def _discover_engine(self) -> None:
        """Watch the child started with ``--handle <handle>`` until the engine attaches."""
        if self._engine_known():
            return
        pid = find_engine_child(self.handle)
        if pid is not None:
            self.memory.set_peer(pid)
            self._peer_set = True

    # -- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        """Unmap and remove the chunk now (also done at exit, on SIGINT/SIGTERM, and when
        the object is dropped, like the original's destructor)."""
        self.memory.close()

    def __enter__(self) -> SharedMemoryTensor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<compat SharedMemoryTensor '{self.handle}'>"
