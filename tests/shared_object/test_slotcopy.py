"""The cache-aware standby-slot copy (_slotcopy.c): exact bytes on every path and
alignment, nothing written outside the destination, clear errors on bad buffers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from so_helpers import assert_same

from godot_aigym.shared_object import SharedDynamicObject, SharedObject
from godot_aigym.shared_object.sync import slotcopy

COPY = slotcopy()
L2 = COPY.L2_BYTES
# Sizes around every boundary of the copy: the streaming threshold (L2/3), the ordinary
# tail (L2/8) and the 64-byte line; plus a few lines and sizes well past L2.
EDGES = [0, 1, 63, 64, 65, 4096, L2 // 8 - 1, L2 // 8 + 1, L2 // 3, L2 // 3 + 1, L2 // 3 + 64 * 7 + 5, L2 + 3, 2 * L2 + 13]


def test_streaming_threshold_follows_the_l2_size() -> None:
    assert L2 >= 64 * 1024
    assert not COPY.streams(L2 // 3)
    assert COPY.streams(L2 // 3 + 1)
    assert COPY.streams(10 * L2)  # large arrays stream too (they crowd L3 otherwise)
    assert not COPY.streams(0)


@settings(max_examples=60, deadline=None)
@given(n=st.sampled_from(EDGES), dst_off=st.integers(0, 63), src_off=st.integers(0, 63), seed=st.integers(0, 2**32 - 1))
def test_copy_is_exact_at_any_size_and_alignment(n: int, dst_off: int, src_off: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    src_buf = rng.integers(0, 256, n + 64, dtype=np.uint8)
    dst_buf = np.full(n + 128, 0xA5, np.uint8)
    src = src_buf[src_off : src_off + n]
    dst = dst_buf[dst_off : dst_off + n]
    COPY.copy(dst, src)
    assert np.array_equal(dst, src)
    assert (dst_buf[:dst_off] == 0xA5).all() and (dst_buf[dst_off + n :] == 0xA5).all(), "wrote outside the destination"


def test_bad_buffers_are_refused_without_writing() -> None:
    dst = np.zeros(100, np.uint8)
    with pytest.raises(ValueError, match="destination holds 100 bytes, source has 99"):
        COPY.copy(dst, np.ones(99, np.uint8))
    with pytest.raises(TypeError):
        COPY.copy(b"\0" * 100, np.ones(100, np.uint8))  # read-only destination
    with pytest.raises((ValueError, BufferError)):
        COPY.copy(dst, np.ones(200, np.uint8)[::2])  # strided source
    assert not dst.any()


@pytest.mark.parametrize("order", ["C", "F", "strided"])
def test_streamed_assign_round_trips_any_layout(name: str, order: str) -> None:
    """A frame large enough to stream, from C-ordered, Fortran-ordered and strided sources."""
    rows = max(480, -(-L2 // (848 * 3 * 2)))  # at least L2 bytes of uint16
    obj = SharedObject(name, data=np.zeros((rows, 848, 3), np.uint16))
    assert COPY.streams(obj.fetch().nbytes)
    rng = np.random.default_rng(7)
    for _ in range(3):  # both slots, twice
        base = rng.integers(0, 65535, (rows * 2, 848, 3), dtype=np.uint16)
        value = {"C": base[:rows].copy(), "F": np.asfortranarray(base[:rows]), "strided": base[::2]}[order]
        obj.assign(value)
        assert_same(obj.fetch(), np.ascontiguousarray(value))
    obj.close()


def test_streamed_arrays_inside_containers_and_read_only_sources(name: str, make_name) -> None:
    """Arrays nested in a dict go through the same copy (write_plan); read-only sources work."""
    n = 2 * L2 // 8  # float64 elements: 2 x L2 bytes, streamed
    rng = np.random.default_rng(3)
    frame = rng.random(n)
    frame.flags.writeable = False
    value = {"frame": frame, "t": 1.5, "tag": "cam0"}
    fixed = SharedObject(name, data=value)
    dynamic = SharedDynamicObject(make_name(), data={"frame": np.zeros(3)})
    for obj in (fixed, dynamic):
        for k in range(3):
            v = dict(value, frame=np.frombuffer((frame + k).tobytes(), np.float64))  # read-only buffer
            obj.assign(v)
            assert_same(obj.fetch(), v)
        obj.close()
