"""cPersistentUintTensor.write_at / write_pixels_at: the one copy of a camera frame into its agent's
slice of a batch (RGBA read-back -> RGB in the same pass). Exact bytes, and bad input refused with
an error naming the tensor, no crash, nothing written. Headless: no rendering involved."""

from __future__ import annotations

import numpy as np

from godot_aigym import SharedMemory

ERRORS = (
    r"cPersistentUintTensor\.write_at\('slices'\): 1 elements at offset -1 do not fit, the tensor holds 20",
    r"cPersistentUintTensor\.write_at\('slices'\): 2 elements at offset 19 do not fit",
    r"cPersistentUintTensor\.write_at\('slices'\): 0 elements at offset 21 do not fit",
    r"write_pixels_at\('slices'\): 5 bytes are not whole pixels of 4 channels",
    r"write_pixels_at\('slices'\): cannot turn pixels of 3 channels into 4",
    r"write_pixels_at\('slices'\): cannot turn pixels of 5 channels into 3",
    r"write_pixels_at\('slices'\): cannot turn pixels of 1 channels into 0",
    r"write_pixels_at\('slices'\): 3 elements at offset 18 do not fit",
    r"cPersistentUintTensor\.write_at\(''\): tensor is not attached",
)


def test_slices_land_exactly_and_bad_input_is_refused(run_gdscript):
    with SharedMemory() as mem:
        t = mem.newUintTensor("slices", 20)
        t.write(np.full(20, 7, np.uint8))
        done = mem.newSemaphore("done", 0)
        run_gdscript("res://render/test_tensor_slices.gd", handle=mem.handle, expected_errors=ERRORS)
        done.wait(timeout=0)
        expected = [7, 7, 1, 2, 3, 10, 11, 12, 20, 21, 22, 30, 31, 32, 40, 41, 42, 50, 7, 7]
        np.testing.assert_array_equal(t.read(), np.array(expected, np.uint8))
