"""read_into: the tensor method the step loop reads its actions with (one reused array, no
allocation per step): real engine, real chunk."""

from __future__ import annotations

import re

import numpy as np

from godot_aigym import SharedMemory


def test_read_into_fills_the_callers_array_in_place_and_refuses_bad_input(run_gdscript):
    with SharedMemory() as mem:
        mem.newFloatTensor("floats", 10).write(np.arange(10, dtype=np.float32))
        mem.newIntTensor("ints", 10).write(np.arange(10, dtype=np.int32))
        mem.newUintTensor("bytes", 10).write(np.arange(10, dtype=np.uint8))
        run_gdscript("res://shm/test_read_into.gd", handle=mem.handle, expected_errors=tuple(map(re.escape, (
            "cPersistentFloatTensor.read_into('floats'): 3 elements at offset 8 do not fit, the tensor holds 10 elements",
            "cPersistentFloatTensor.read_into('floats'): 3 elements at offset -1 do not fit",
            "cPersistentFloatTensor.read_into('floats'): the target must be a PackedFloat32Array",
            "cPersistentIntTensor.read_into('ints'): the target must be a PackedInt32Array, got null",
        ))))
