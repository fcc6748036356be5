"""Tensor read/write: copies vs views, accepted inputs, length and dtype checks with clear errors."""

from __future__ import annotations

import array

import numpy as np
import pytest

from godot_aigym.shm import (SharedFloatTensor, SharedIntTensor, SharedMemory, SharedUintTensor, WrongDtype,
                             WrongLength)


def test_classes_and_metadata(mem):
    f, i, u = mem.newFloatTensor("f", 3), mem.newIntTensor("i", 3), mem.newUintTensor("u", 3)
    assert (type(f), type(i), type(u)) == (SharedFloatTensor, SharedIntTensor, SharedUintTensor)
    assert (f.dtype, i.dtype, u.dtype) == (np.float32, np.int32, np.uint8)
    assert len(f) == f.size == 3 and f.shape == (3,) and f.nbytes == 12 and u.nbytes == 3
    assert all(t.offset % 64 == 0 for t in (f, i, u))
    assert repr(f) == "<SharedFloatTensor 'f' float32[3]>"
    assert f.read().tolist() == [0, 0, 0]  # fresh memory is zero


def test_read_is_a_copy_and_view_is_not(mem):
    t = mem.newFloatTensor("t", 4)
    t.write([1, 2, 3, 4])
    copy = t.read()
    copy[0] = 99
    assert t.read()[0] == 1
    view = t.view
    assert view.base is not None and not view.flags.owndata and view.flags.writeable
    view[1] = 42
    assert t.read()[1] == 42 and t.numpy()[1] == 42
    # the same memory seen from another attach
    assert SharedMemory.attach(mem.handle).findFloatTensor("t").read().tolist() == [1, 42, 3, 4]


def test_read_into_out(mem):
    t = mem.newIntTensor("t", 3)
    t.write([7, 8, 9])
    out = np.empty(3, np.int32)
    assert t.read(out=out) is out and out.tolist() == [7, 8, 9]
    with pytest.raises(WrongDtype, match=r"^read\(out=...\) of tensor 't' needs a int32\[3\] numpy array, "
                                         r"got float32\[3\]$"):
        t.read(out=np.empty(3, np.float32))
    with pytest.raises(WrongDtype, match=r"got float64\[3\]$"):
        t.read(out=np.zeros(3, np.float64))
    with pytest.raises(WrongDtype, match=r"got list$"):
        t.read(out=[0, 0, 0])
    with pytest.raises(WrongLength, match=r"got int32\[4\]$"):
        t.read(out=np.empty(4, np.int32))


@pytest.mark.parametrize("values", [
    np.arange(5, dtype=np.float32), np.arange(5, dtype=np.float64), np.arange(5), np.arange(5, dtype=np.uint8),
    [0, 1, 2, 3, 4], (0.0, 1.0, 2.0, 3.0, 4.0), range(5), array.array("d", range(5)),
    np.arange(10, dtype=np.float32)[::2] / 2,  # non-contiguous
])
def test_float_accepts(mem, values):
    t = mem.newFloatTensor("t", 5)
    t.write(values)
    np.testing.assert_array_equal(t.read(), np.asarray(values, dtype=np.float32))


@pytest.mark.parametrize("values", [
    np.array([-(2**31), 0, 2**31 - 1]), [1, 2, 3], np.array([1, 2, 3], dtype=np.uint32),
    np.array([True, False, True]), np.array([1, 2, 3], dtype=np.int8),
])
def test_int_accepts(mem, values):
    t = mem.newIntTensor("t", 3)
    t.write(values)
    np.testing.assert_array_equal(t.read(), np.asarray(values).astype(np.int32))


def test_uint8_accepts_images_and_bytes(mem):
    t = mem.newUintTensor("img", 4)
    t.write(b"\x00\x01\xfe\xff")
    assert t.read().tolist() == [0, 1, 254, 255]
    t.write(bytearray([9, 8, 7, 6]))
    assert t.read().tolist() == [9, 8, 7, 6]
    t.write([255, 0, 1, 2])
    assert t.read().tolist() == [255, 0, 1, 2]


@pytest.mark.parametrize("values, msg", [
    ([1] * 4, "cannot write to float32 tensor 't' [5]: expected 5 values, got 4"),
    ([1] * 6, "cannot write to float32 tensor 't' [5]: expected 5 values, got 6"),
    (np.zeros((5, 1)), "cannot write to float32 tensor 't' [5]: expected a 1-D sequence of 5 values, got an "
                       "array of shape (5, 1)"),
    (3.0, "cannot write to float32 tensor 't' [5]: expected a 1-D sequence of 5 values, got a scalar"),
    ([], "cannot write to float32 tensor 't' [5]: expected 5 values, got 0"),
])
def test_wrong_length(mem, values, msg):
    t = mem.newFloatTensor("t", 5)
    t.write([1, 2, 3, 4, 5])
    with pytest.raises(WrongLength) as err:
        t.write(values)
    assert str(err.value) == msg
    assert t.read().tolist() == [1, 2, 3, 4, 5]  # nothing written


@pytest.mark.parametrize("make, values, msg", [
    ("newIntTensor", [1.5, 2.0], "cannot write float64 values to int32 tensor 't' [2] (round and convert to an "
                                 "integer dtype first)"),
    ("newUintTensor", np.array([1, 2], np.float32), "cannot write float32 values to uint8 tensor 't' [2] (round "
                                                    "and convert to an integer dtype first)"),
    ("newIntTensor", [2**31, 0], "cannot write to int32 tensor 't' [2]: values 0..2147483648 are outside the "
                                 "int32 range -2147483648..2147483647"),
    ("newUintTensor", [-1, 3], "cannot write to uint8 tensor 't' [2]: values -1..3 are outside the uint8 range "
                               "0..255"),
    ("newUintTensor", [256, 3], "cannot write to uint8 tensor 't' [2]: values 3..256 are outside the uint8 "
                                "range 0..255"),
    ("newFloatTensor", ["a", "b"], "cannot write str values to float32 tensor 't' [2] (expected numbers)"),
    ("newFloatTensor", [1, None], "cannot write object values to float32 tensor 't' [2] (expected numbers)"),
    ("newFloatTensor", np.array([1j, 2j]), "cannot write complex128 values to float32 tensor 't' [2] (convert "
                                           "explicitly first)"),
    ("newFloatTensor", "ab", "cannot write to float32 tensor 't' [2]: expected numbers, got a str ('ab')"),
])
def test_wrong_dtype(mem, make, values, msg):
    t = getattr(mem, make)("t", 2)
    with pytest.raises(WrongDtype) as err:
        t.write(values)
    assert str(err.value) == msg


def test_ragged_sequence(mem):
    t = mem.newFloatTensor("t", 2)
    with pytest.raises(WrongDtype, match=r"^cannot write to float32 tensor 't' \[2\]: values are not a flat "
                                         r"sequence of numbers"):
        t.write([[1, 2], [3]])


def test_torch_tensors(mem):
    torch = pytest.importorskip("torch")
    f, i, u = mem.newFloatTensor("f", 3), mem.newIntTensor("i", 3), mem.newUintTensor("u", 3)
    f.write(torch.tensor([1.0, 2.0, 3.0], requires_grad=True))
    assert f.read().tolist() == [1, 2, 3]
    f.write(torch.tensor([1.5, 2.5, 3.5], dtype=torch.float64))
    f.write(torch.tensor([1.0, 2.0, 3.0], dtype=torch.bfloat16))
    assert f.read().tolist() == [1, 2, 3]
    f.write(torch.arange(6, dtype=torch.float32)[::2])
    assert f.read().tolist() == [0, 2, 4]
    i.write(torch.tensor([1, -2, 3]))  # int64
    assert i.read().tolist() == [1, -2, 3]
    u.write(torch.tensor([0, 128, 255], dtype=torch.uint8))
    assert u.read().tolist() == [0, 128, 255]
    with pytest.raises(WrongDtype, match="cannot write float32 values to int32 tensor 'i'"):
        i.write(torch.zeros(3))
    with pytest.raises(WrongLength, match="expected 3 values, got 4"):
        f.write(torch.zeros(4))


def test_torch_not_imported_for_numpy_writes(mem):
    from shm_testutil import spawn_python

    # the child is a fork of a process that imported numpy and godot_aigym.shm only
    child = spawn_python("import sys, numpy as np\nfrom godot_aigym.shm import SharedMemory\n"
                         "with SharedMemory(size=1<<16) as m:\n t = m.newFloatTensor('t', 2)\n t.write([1, 2])\n"
                         " t.write(np.ones(2))\n t.read()\nprint('torch' in sys.modules)")
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert out.strip() == "False"
