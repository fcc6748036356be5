"""Property tests: every supported type round-trips exactly, fixed and dynamic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from so_helpers import assert_same

from godot_aigym.shared_object import SharedDynamicObject, SharedObject

STRUCTURED = np.dtype([("id", "<i4"), ("pos", "<f8", (3,)), ("name", "S5")])

dtypes = st.one_of(
    hnp.boolean_dtypes(),
    hnp.integer_dtypes(endianness="="),
    hnp.integer_dtypes(endianness=">"),
    hnp.unsigned_integer_dtypes(endianness="?"),
    hnp.floating_dtypes(endianness="?", sizes=(16, 32, 64)),
    hnp.complex_number_dtypes(endianness="?"),
    hnp.datetime64_dtypes(endianness="?"),
    hnp.timedelta64_dtypes(endianness="?"),
    hnp.unicode_string_dtypes(max_len=6),
    hnp.byte_string_dtypes(max_len=6),
    st.sampled_from([np.dtype(np.longdouble), np.dtype(np.clongdouble), STRUCTURED]),
)
arrays = dtypes.flatmap(
    lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
)
# Non-contiguous and Fortran-ordered sources are stored as C-ordered copies.
arrays = st.one_of(arrays, arrays.map(np.asfortranarray), arrays.map(lambda a: a[::2] if a.ndim else a))
np_scalars = arrays.filter(lambda a: a.size > 0).map(lambda a: a.reshape(-1)[0])

texts = st.text(alphabet=st.characters(blacklist_categories=()), max_size=40)  # incl. lone surrogates
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.complex_numbers(allow_nan=True, allow_infinity=True),
    texts,
    st.binary(max_size=40),
    st.binary(max_size=40).map(bytearray),
)
keys = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), texts, st.binary(max_size=8)),
    lambda k: st.tuples(k, k),
    max_leaves=4,
)
values = st.recursive(
    st.one_of(scalars, arrays, np_scalars),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(keys, children, max_size=4),
    ),
    max_leaves=12,
)

# 75 examples per run (Hypothesis' default is 100): each run draws new values, so the coverage
# builds up over CI runs; 150 doubled the directory's slowest test for little more per run.
SETTINGS = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def expected(value: Any) -> Any:
    """What fetch returns for a stored value: arrays become C-ordered copies."""
    if isinstance(value, np.ndarray):
        return value.copy(order="C")
    return value


@SETTINGS
@given(value=values)
def test_fixed_roundtrip(make_name: Callable[[], str], value: Any) -> None:
    name = make_name()
    with SharedObject(name, data=value, create=True) as owner, SharedObject(name, create=False) as other:
        assert_same(owner.fetch(), expected(value))
        assert_same(other.fetch(), expected(value))
        owner.assign(value)  # the same value always fits its own object
        assert other.modified
        assert_same(other.fetch(), expected(value))
        owner.unlink()


@SETTINGS
@given(seq=st.lists(values, min_size=1, max_size=6))
def test_dynamic_roundtrip_changing_types(make_name: Callable[[], str], seq: list[Any]) -> None:
    name = make_name()
    with SharedDynamicObject(name, data=None, init_size=0) as owner, SharedDynamicObject(name) as other:
        for value in seq:
            owner.assign(value)
            assert_same(other.fetch(), expected(value))
            assert_same(owner.fetch(), expected(value))
        owner.unlink()


@SETTINGS
@given(value=arrays)
def test_array_fetch_fn_sees_readonly_view(make_name: Callable[[], str], value: np.ndarray) -> None:
    name = make_name()
    with SharedObject(name, data=value) as obj:
        seen = obj.fetch(lambda v: (v.flags.writeable, v.dtype, v.shape, v.copy()))
        assert seen[0] is False
        assert (seen[1], seen[2]) == (value.dtype, value.shape)
        assert_same(seen[3], expected(value))
        obj.unlink()


@pytest.mark.parametrize(
    "value",
    [
        np.zeros((480, 848, 3), np.uint8),
        np.arange(7.0),
        np.float32(1.5),
        np.datetime64("2024-01-02T03:04:05.123456789"),
        {"rgb": np.ones((4, 5, 3), np.uint8), "depth": np.full((4, 5), 2.5, np.float32), "pose": (1.0, 2.0)},
        [None, True, 2, 3.0, 4j, "five", b"six", bytearray(b"seven")],
    ],
)
def test_examples_roundtrip(name: str, value: Any) -> None:
    with SharedObject(name, data=value) as a, SharedObject(name) as b:
        assert_same(b.fetch(), expected(value))
        a.assign(value)
        assert_same(b.fetch(), expected(value))
