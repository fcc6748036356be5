"""Reference semantics, bad input and handle lifetime, in one process."""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from multiprocessing import shared_memory

import numpy as np
import pytest
from so_helpers import assert_same

from godot_aigym.shared_object import (
    ArgumentTypeError,
    CorruptObjectError,
    InvalidNameError,
    ObjectClosedError,
    ObjectExistsError,
    ObjectNotFoundError,
    ObjectTooLargeError,
    ShapeMismatchError,
    SharedDynamicObject,
    SharedObject,
    SharedObjectError,
    TypeMismatchError,
    UnsupportedTypeError,
    UnsupportedValueError,
)


def test_create_mount_and_reference_modes(name: str) -> None:
    a = SharedObject(name, data=np.arange(6, dtype=np.int32))
    b = SharedObject(name)  # mounts
    assert_same(b.fetch(), np.arange(6, dtype=np.int32))
    c = SharedObject(name, data=np.full(6, 7, np.int32))  # mounts and assigns
    assert_same(a.fetch(), np.full(6, 7, np.int32))
    with pytest.raises(ObjectExistsError):
        SharedObject(name, data=1, create=True)
    for h in (a, b, c):
        h.close()


def test_mount_missing_name_raises(make_name: Callable[[], str]) -> None:
    with pytest.raises(ObjectNotFoundError, match="no shared object named"):
        SharedObject(make_name(), create=False)
    assert isinstance(ObjectNotFoundError("x"), FileNotFoundError)


@pytest.mark.parametrize("bad", ["", "a/b", "nul\0", ".", "x" * 300, 5, None])
def test_invalid_names(bad: object) -> None:
    with pytest.raises(InvalidNameError):
        SharedObject(bad)  # type: ignore[arg-type]


def test_trigger_object_semantics(name: str) -> None:
    owner = SharedObject(name)  # created: a trigger object holding None
    other = SharedObject(name)
    assert owner.fetch() is None
    assert not other.modified and not other.triggered
    t0 = other.mtime
    owner.trigger()
    assert other.modified
    assert other.triggered  # consumes
    assert not other.triggered and not other.modified
    assert other.mtime >= t0
    assert owner.triggered  # like real_robot: the trigger is visible to the triggering handle too
    assert other.fetch(lambda v: ("fn saw", v)) == ("fn saw", None)


def test_assign_marks_seen_and_others_modified(name: str) -> None:
    a = SharedObject(name, data=1.5)
    b = SharedObject(name)
    a.assign(2.5)
    assert not a.modified and b.modified
    assert b.fetch() == 2.5 and not b.modified
    assert b.mtime == a.mtime


def test_an_arrays_one_call_assign_and_fetch_mark_the_version_seen(name: str) -> None:
    """The Writer's commit and fetch's one-call read section (Sync.copy_published) record the
    version and its mtime in C, as the general path does; trigger() still does not."""
    a = SharedObject(name, data=np.zeros(64 << 10, np.uint8))
    b = SharedObject(name)
    for k in range(1, 4):  # the first assign plans on the general path, the others are one call
        a.assign(np.full(64 << 10, k, np.uint8))
        assert not a.modified and b.modified
        assert (b.fetch() == k).all() and not b.modified and b.mtime == a.mtime
    a.trigger()
    assert a.modified and b.modified and b.triggered and not b.modified and b.mtime > 0
    assert (b.fetch(lambda v: v[:2].copy()) == 3).all()  # with fn: the general read section


def test_wait_modified_same_process(name: str) -> None:
    a = SharedObject(name, data=0)
    b = SharedObject(name)
    assert b.wait_modified(timeout=0) is False
    assert b.wait_modified(timeout=0.05) is False
    a.assign(1)
    assert b.wait_modified(timeout=1.0) is True
    assert b.wait_modified(timeout=1.0) is True  # not consumed until fetch
    assert b.fetch() == 1
    assert b.wait_modified(timeout=0.01) is False
    with pytest.raises(ValueError):
        b.wait_modified(timeout=-1)
    with pytest.raises(ValueError):
        b.wait_modified(timeout=float("nan"))


def test_fetch_fn_copy_rules(name: str) -> None:
    a = SharedObject(name, data=np.arange(12.0).reshape(3, 4))
    made = []

    def new_array(v: np.ndarray) -> np.ndarray:
        made.append(v + 1)
        return made[-1]

    assert a.fetch(new_array) is made[-1]  # fn already produced a new array: no copy
    row = a.fetch(lambda v: v[1])  # a view of shared memory: copied
    assert row.flags.owndata and row.flags.writeable
    assert row.tolist() == [4.0, 5.0, 6.0, 7.0]
    assert a.fetch(lambda v: float(v.sum())) == 66.0
    with pytest.raises(ValueError, match="read-only"):
        a.fetch(lambda v: v.__setitem__(0, 99))  # the view is read-only ...
    assert a.fetch()[0, 0] == 0.0  # ... so shared memory is intact
    out = a.fetch()
    out[0, 0] = 5  # fetch returns a private copy
    assert a.fetch()[0, 0] == 0.0


def test_fetch_fn_error_propagates(name: str) -> None:
    a = SharedObject(name, data=[1, 2])
    with pytest.raises(ZeroDivisionError):
        a.fetch(lambda v: 1 / 0)
    assert a.fetch() == [1, 2]


def _unchanged(obj: SharedObject, other: SharedObject, value: object) -> None:
    assert not other.modified, "a failed assign must not publish"
    assert_same(other.fetch(), value)


@pytest.mark.parametrize(
    ("initial", "bad", "error", "match"),
    [
        (1, 1.0, TypeMismatchError, "holds int and cannot take float"),
        (1, True, TypeMismatchError, "holds int and cannot take bool"),
        (1, 2**64, UnsupportedValueError, "does not fit in 64 bits"),
        (None, 0, TypeMismatchError, "holds NoneType"),
        ("abc", b"abc", TypeMismatchError, "holds str"),
        ("abc", "x" * 10_000, ObjectTooLargeError, "capacity"),
        (b"abc", b"x" * 10_000, ObjectTooLargeError, "capacity"),
        (np.zeros(3), np.zeros(3, np.float32), TypeMismatchError, "dtype float64"),
        (np.zeros(3), np.zeros(4), ShapeMismatchError, r"shape \(3,\)"),
        (np.zeros(3), [0.0, 0.0, 0.0], TypeMismatchError, "numpy array"),
        (np.zeros(3), np.ma.masked_array(np.zeros(3)), TypeMismatchError, "MaskedArray"),
        ({"a": 1}, {"a": {1, 2}}, UnsupportedTypeError, r"cannot store data\['a'\] in shared object .*: set cannot be stored"),
        ({"a": 1}, {"a": [1, object()]}, UnsupportedTypeError, r"cannot store data\['a'\]\[1\] .*: object cannot be stored"),
        ({"a": 1}, {"a": np.array([None])}, UnsupportedTypeError, "dtype object"),
        ({"a": 1}, {"a": "x" * 10_000}, ObjectTooLargeError, "capacity"),
        ([1], (1,), TypeMismatchError, "holds list"),
    ],
)
def test_bad_assign_leaves_object_intact(
    name: str, initial: object, bad: object, error: type[Exception], match: str
) -> None:
    obj = SharedObject(name, data=initial)
    other = SharedObject(name)
    with pytest.raises(error, match=match) as info:
        obj.assign(bad)
    assert isinstance(info.value, SharedObjectError)
    _unchanged(obj, other, initial)
    obj.assign(initial)  # still writable afterwards
    assert other.modified


@pytest.mark.parametrize(
    ("bad", "error"),
    [({1, 2}, UnsupportedTypeError), (object(), UnsupportedTypeError), (2**70, UnsupportedValueError)],
)
def test_bad_initial_data_creates_nothing(make_name: Callable[[], str], bad: object, error: type) -> None:
    n = make_name()
    with pytest.raises(error):
        SharedObject(n, data=bad)
    with pytest.raises(ObjectNotFoundError):
        SharedObject(n, create=False)


def test_reference_cycle_is_rejected(name: str) -> None:
    cyclic: list = [1]
    cyclic.append(cyclic)
    with pytest.raises(UnsupportedValueError, match="nesting deeper"):
        SharedDynamicObject(name, data=cyclic)


def test_dynamic_accepts_what_fixed_rejects(name: str) -> None:
    d = SharedDynamicObject(name, data=1)
    other = SharedDynamicObject(name)
    for value in (1.0, "x" * 10_000, np.zeros((3, 4), np.float32), {"k": [b"v"] * 100}, None):
        d.assign(value)
        assert_same(other.fetch(), value)
    with pytest.raises(UnsupportedTypeError):
        d.assign({1, 2})
    assert other.fetch() is None and not other.modified


def test_kind_mismatch(make_name: Callable[[], str]) -> None:
    fixed, dynamic = make_name(), make_name()
    SharedObject(fixed, data=1)
    SharedDynamicObject(dynamic, data=1)
    with pytest.raises(TypeMismatchError, match="mount it with SharedObject"):
        SharedDynamicObject(fixed)
    with pytest.raises(TypeMismatchError, match="mount it with SharedDynamicObject"):
        SharedObject(dynamic)


def test_foreign_shared_memory_is_rejected(make_name: Callable[[], str]) -> None:
    n = make_name()
    shm = shared_memory.SharedMemory(n, create=True, size=8192)
    try:
        shm.buf[:8] = b"NOTOURS!"
        with pytest.raises(CorruptObjectError, match="not a godot_aigym SharedObject"):
            SharedObject(n)
    finally:
        shm.close()


def test_close_unlink_and_errors(name: str) -> None:
    a = SharedObject(name, data=3)
    b = SharedObject(name)
    b.close()
    b.close()  # idempotent
    assert b.closed and "closed" in repr(b)
    for op in (b.fetch, lambda: b.assign(4), lambda: b.modified, b.trigger, lambda: b.wait_modified(0)):
        with pytest.raises(ObjectClosedError):
            op()
    a.unlink()
    assert a.fetch() == 3  # a mapped handle keeps working after unlink
    a.assign(5)
    assert a.fetch() == 5
    with pytest.raises(ObjectNotFoundError):
        SharedObject(name, create=False)
    with pytest.raises(ObjectNotFoundError):
        a.unlink()
    a.close()


def test_context_manager_and_repr(name: str) -> None:
    with SharedObject(name, data=np.zeros((2, 3), np.uint8)) as a:
        assert "uint8" in repr(a) and "(2, 3)" in repr(a)
        assert a.nbytes > 4096
    assert a.closed


def test_pickle_mounts_by_name(name: str) -> None:
    a = SharedObject(name, data="hello")
    b = pickle.loads(pickle.dumps(a))
    assert b is not a and b.name == name and b.fetch() == "hello"
    a.unlink()
    with pytest.raises(ObjectNotFoundError):  # unpickling never creates an object
        pickle.loads(pickle.dumps(a))


def test_locked_read_fallback(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from godot_aigym.shared_object import object as so_object

    a = SharedObject(name, data={"x": np.arange(3)})
    monkeypatch.setattr(so_object, "_ATTEMPTS", range(0))  # every read takes the lock path
    assert_same(a.fetch(), {"x": np.arange(3)})
    assert a.fetch(lambda v: len(v)) == 1


def test_init_size_reserves_room(make_name: Callable[[], str]) -> None:
    small = SharedObject(make_name(), data="", init_size=10)
    small.assign("x" * 10)
    with pytest.raises(ObjectTooLargeError):
        small.assign("x" * 1000)
    big = SharedObject(make_name(), data="", init_size=5000)
    big.assign("é" * 2000)  # 4000 UTF-8 bytes
    assert big.fetch() == "é" * 2000
    with pytest.raises(ValueError):
        SharedObject(make_name(), data="", init_size=-1)
    with pytest.raises(ArgumentTypeError, match="^init_size must be an int >= 0, got str '5'$"):
        SharedObject(make_name(), data="", init_size="5")


@pytest.mark.parametrize("cls", [SharedObject, SharedDynamicObject])
@pytest.mark.parametrize("init_size", [10**15, 2**63 - 1])
def test_init_size_the_system_cannot_map(make_name: Callable[[], str], cls: type, init_size: int) -> None:
    # the real ftruncate/mmap refuses: our error naming object, size and init_size; no name left
    name = make_name()
    with pytest.raises(SharedObjectError, match=rf"^shared object '{name}': cannot make a segment of \d+ bytes "
                                                rf"\(.+\); choose a smaller init_size \(got {init_size}\)$"):
        cls(name, data="x", init_size=init_size)
    assert not os.path.exists(f"/dev/shm/{name}")


@pytest.mark.parametrize("cls", [SharedObject, SharedDynamicObject])
@pytest.mark.parametrize("create", ["yes", 1, 0, "False"])
def test_create_must_be_none_or_bool(make_name: Callable[[], str], cls: type, create: object) -> None:
    name = make_name()
    with pytest.raises(ArgumentTypeError, match=r"^create must be None \(mount or create\), True \(must create\) "
                                                rf"or False \(must mount\), got {type(create).__name__} "):
        cls(name, data=1, create=create)
    assert not os.path.exists(f"/dev/shm/{name}")


@pytest.mark.parametrize("cls", [SharedObject, SharedDynamicObject])
def test_create_takes_a_numpy_bool_as_a_bool(make_name: Callable[[], str], cls: type) -> None:
    import numpy as np
    name = make_name()
    with cls(name, data=1, create=np.True_) as made:  # np.True_ is True, not an ArgumentTypeError
        assert made.fetch() == 1
        with pytest.raises(SharedObjectError):
            cls(name, data=2, create=np.True_)  # must create: the name exists
