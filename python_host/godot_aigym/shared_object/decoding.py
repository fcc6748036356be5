"""Decoding a slot back into a value, safely on torn bytes (every length bounds-checked,
every failure `Torn`); arrays can be handed to a function as read-only views."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import numpy as np

from .dtype_descr import dtype_from_descr
from .layout import ALIGN
from .slot_format import (
    FLAG_SCALAR, MAX_DEPTH, S_ARRAY, S_BOOL, S_COMPLEX, S_FLOAT, S_INT, S_LEN, TAG_BOOL, TAG_BYTEARRAY, TAG_BYTES,
    TAG_COMPLEX, TAG_DICT, TAG_FLOAT, TAG_INT, TAG_LIST, TAG_NDARRAY, TAG_NONE, TAG_STR, TAG_TUPLE, Torn,
)  # fmt: skip

def array_header(mv: memoryview, off: int, end: int) -> tuple[int, np.dtype, tuple[int, ...], int, int]:
    """Parse an NDARRAY header at off: (flags, dtype, shape, data offset, nbytes)."""
    if off + S_ARRAY.size > end:
        raise Torn
    _, flags, ndim, m = S_ARRAY.unpack_from(mv, off)
    off += S_ARRAY.size
    if off + m + 8 * ndim > end:
        raise Torn
    dtype = dtype_from_descr(bytes(mv[off : off + m]))
    off += m
    shape = struct.unpack_from(f"<{ndim}Q", mv, off)
    off += 8 * ndim
    off += -off % ALIGN
    nbytes = dtype.itemsize
    for n in shape:
        nbytes *= n
    if off + nbytes > end:
        raise Torn
    return flags, dtype, shape, off, nbytes


def _dec(mv: memoryview, off: int, end: int, depth: int) -> tuple[Any, int]:
    if off >= end or depth > MAX_DEPTH:
        raise Torn
    tag = mv[off]
    if tag == TAG_NONE:
        return None, off + 1
    if tag == TAG_INT:
        return S_INT.unpack_from(mv, off)[1], off + 9
    if tag == TAG_FLOAT:
        return S_FLOAT.unpack_from(mv, off)[1], off + 9
    if tag == TAG_BOOL:
        return S_BOOL.unpack_from(mv, off)[1], off + 2
    if tag == TAG_COMPLEX:
        _, re, im = S_COMPLEX.unpack_from(mv, off)
        return complex(re, im), off + 17
    if TAG_STR <= tag <= TAG_BYTEARRAY:
        n = S_LEN.unpack_from(mv, off)[1]
        a = off + 9
        if a + n > end:
            raise Torn
        raw = mv[a : a + n]
        if tag == TAG_STR:
            return str(raw, "utf-8", "surrogatepass"), a + n
        return (bytes(raw) if tag == TAG_BYTES else bytearray(raw)), a + n
    if tag == TAG_NDARRAY:
        flags, dtype, shape, data, nbytes = array_header(mv, off, end)
        arr = np.ndarray(shape, dtype, buffer=mv, offset=data).copy() if nbytes else np.empty(shape, dtype)
        return (arr[()] if flags & FLAG_SCALAR else arr), data + nbytes
    if tag == TAG_TUPLE or tag == TAG_LIST or tag == TAG_DICT:
        n = S_LEN.unpack_from(mv, off)[1]
        off += 9
        if n > end - off:
            raise Torn
        if tag == TAG_DICT:
            d = {}
            for _ in range(n):
                k, off = _dec(mv, off, end, depth + 1)
                d[k], off = _dec(mv, off, end, depth + 1)
            return d, off
        items = []
        for _ in range(n):
            item, off = _dec(mv, off, end, depth + 1)
            items.append(item)
        return (tuple(items) if tag == TAG_TUPLE else items), off
    raise Torn


def decode(mv: memoryview, off: int, end: int, fn: Callable[[Any], Any] | None = None) -> Any:
    """Decode the value at mv[off:end]; with fn, a top-level array is passed to fn as a
    read-only view (copied only if fn returns a view of shared memory), anything else
    is decoded then passed to fn.  Raises Torn on inconsistent bytes."""
    try:
        if fn is not None and off < end and mv[off] == TAG_NDARRAY:
            flags, dtype, shape, data, nbytes = array_header(mv, off, end)
            if not flags & FLAG_SCALAR:
                view = np.ndarray(shape, dtype, buffer=mv, offset=data) if nbytes else np.empty(shape, dtype)
                view.flags.writeable = False
                return apply_to_view(fn, view)
        value = _dec(mv, off, end, 0)[0]
    except Torn:
        raise
    except Exception as exc:  # torn bytes can fail anywhere: bad UTF-8, unhashable keys...
        raise Torn from exc
    return value if fn is None else fn(value)


def apply_to_view(fn: Callable[[np.ndarray], Any], view: np.ndarray) -> Any:
    """fn(view), copying the result only if it still points into shared memory."""
    out = fn(view)
    if isinstance(out, np.ndarray) and not out.flags.owndata and np.may_share_memory(out, view):
        out = out.copy()
    return out
