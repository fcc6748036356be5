"""Encoding any supported value into a `Plan` (validated, outside the writer lock), and
writing a plan into a slot: the generic path of containers and SharedDynamicObject.
The format is slot_format.py's."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import numpy as np

from .copy_strategy import MIN_STREAM_BYTES, keep_bytes
from .dtype_descr import dtype_descr
from .errors import UnsupportedTypeError, UnsupportedValueError
from .layout import ALIGN
from .slot_format import (
    FLAG_SCALAR, INT_MAX, INT_MIN, MAX_DEPTH, S_ARRAY, S_BOOL, S_COMPLEX, S_FLOAT, S_INT, S_LEN, SUPPORTED, TAG_BOOL,
    TAG_BYTEARRAY, TAG_BYTES, TAG_COMPLEX, TAG_DICT, TAG_FLOAT, TAG_INT, TAG_LIST, TAG_NDARRAY, TAG_NONE, TAG_STR,
    TAG_TUPLE, TAGS, BadElement, Plan,
)  # fmt: skip
from .sync import slotcopy

class _Encoder:
    __slots__ = ("ops", "buf", "base", "array_bytes")

    def __init__(self) -> None:
        self.ops: list[tuple[int, Any]] = []
        self.buf = bytearray()
        self.base = 0  # offset of buf[0] within the value
        self.array_bytes = 0

    def add(self, v: Any, depth: int) -> None:
        enc = _ENCODERS.get(type(v))
        if enc is None:
            if isinstance(v, np.generic):
                enc = _enc_npscalar
            else:
                raise BadElement(UnsupportedTypeError, f"{type(v).__qualname__} cannot be stored (supported: {SUPPORTED})")
        enc(self, v, depth)

    def array(self, a: np.ndarray, flags: int) -> None:
        descr = dtype_descr(a.dtype)
        buf = self.buf
        buf += S_ARRAY.pack(TAG_NDARRAY, flags, a.ndim, len(descr))
        buf += descr
        buf += struct.pack(f"<{a.ndim}Q", *a.shape)
        pos = self.base + len(buf)
        pad = -pos % ALIGN
        buf += bytes(pad)
        self.array_bytes += pad + a.nbytes
        if a.nbytes >= MIN_STREAM_BYTES:
            keep_bytes(a.nbytes)  # choose (maybe time) the slot copy here, outside the writer lock
        if a.nbytes:
            self.ops.append((self.base, bytes(buf)))
            self.ops.append((pos + pad, a))
            self.base = pos + pad + a.nbytes
            self.buf = bytearray()

    def finish(self) -> Plan:
        size = self.base + len(self.buf)
        if self.buf:
            self.ops.append((self.base, bytes(self.buf)))
        return Plan(size, self.ops, self.array_bytes)


def _enc_none(e: _Encoder, v: None, depth: int) -> None:
    e.buf.append(TAG_NONE)


def _enc_bool(e: _Encoder, v: bool, depth: int) -> None:
    e.buf += S_BOOL.pack(TAG_BOOL, v)


def _enc_int(e: _Encoder, v: int, depth: int) -> None:
    if not INT_MIN <= v <= INT_MAX:
        raise BadElement(UnsupportedValueError, f"int {v} does not fit in 64 bits")
    e.buf += S_INT.pack(TAG_INT, v)


def _enc_float(e: _Encoder, v: float, depth: int) -> None:
    e.buf += S_FLOAT.pack(TAG_FLOAT, v)


def _enc_complex(e: _Encoder, v: complex, depth: int) -> None:
    e.buf += S_COMPLEX.pack(TAG_COMPLEX, v.real, v.imag)


def _enc_text(tag: int) -> Callable[[_Encoder, Any, int], None]:
    def enc(e: _Encoder, v: Any, depth: int) -> None:
        b = v.encode("utf-8", "surrogatepass") if tag == TAG_STR else v
        e.buf += S_LEN.pack(tag, len(b))
        e.buf += b

    return enc


def _enc_ndarray(e: _Encoder, v: np.ndarray, depth: int) -> None:
    e.array(v, 0)


def _enc_npscalar(e: _Encoder, v: np.generic, depth: int) -> None:
    e.array(np.asarray(v), FLAG_SCALAR)


def _open_container(e: _Encoder, tag: int, n: int, depth: int) -> None:
    """A container's header; refuses nesting past MAX_DEPTH (a self-containing list)."""
    if depth >= MAX_DEPTH:
        raise BadElement(UnsupportedValueError, f"nesting deeper than {MAX_DEPTH} levels (a reference cycle?)")
    e.buf += S_LEN.pack(tag, n)


def _add_at(e: _Encoder, item: Any, depth: int, where: str, key: Any) -> None:
    """Encode a container's element; an error names where it sits (`data[2]['x']`:
    where.format(key), formatted only then)."""
    try:
        e.add(item, depth + 1)
    except BadElement as bad:
        bad.path.append(where.format(key))
        raise


def _enc_seq(tag: int) -> Callable[[_Encoder, Any, int], None]:
    def enc(e: _Encoder, v: Any, depth: int) -> None:
        _open_container(e, tag, len(v), depth)
        for i, item in enumerate(v):
            _add_at(e, item, depth, "[{}]", i)

    return enc


def _enc_dict(e: _Encoder, v: dict, depth: int) -> None:
    _open_container(e, TAG_DICT, len(v), depth)
    for k, item in v.items():
        _add_at(e, k, depth, " key {!r}", k)
        _add_at(e, item, depth, "[{!r}]", k)


_ENCODERS: dict[type, Callable[[_Encoder, Any, int], None]] = {
    type(None): _enc_none, bool: _enc_bool, int: _enc_int, float: _enc_float,
    complex: _enc_complex, str: _enc_text(TAG_STR), bytes: _enc_text(TAG_BYTES),
    bytearray: _enc_text(TAG_BYTEARRAY), np.ndarray: _enc_ndarray,
    tuple: _enc_seq(TAG_TUPLE), list: _enc_seq(TAG_LIST), dict: _enc_dict,
}  # fmt: skip


def encode(value: Any, name: str) -> Plan:
    """Validate and plan `value`; raises a SharedObjectError naming the bad element."""
    e = _Encoder()
    try:
        e.add(value, 0)
    except BadElement as bad:
        where = "data" + "".join(reversed(bad.path))
        raise bad.cls(f"cannot store {where} in shared object {name!r}: {bad.msg}") from None
    return e.finish()


def tag_of(value: Any) -> int:
    """Top-level tag of a value that encode() accepted."""
    return TAG_NDARRAY if isinstance(value, np.generic) else TAGS[type(value)]


def write_plan(mv: memoryview, base: int, plan: Plan) -> None:
    """Copy a planned value to mv[base:]; arrays go straight from the source (one copy)."""
    for off, part in plan.ops:
        if type(part) is bytes:
            mv[base + off : base + off + len(part)] = part
        else:
            copy_array(np.ndarray(part.shape, part.dtype, buffer=mv, offset=base + off), part)


def copy_array(dst: np.ndarray, src: np.ndarray) -> None:
    """Copy src into a slot view of the same dtype and shape: C-contiguous sources take the
    cache-aware standby-slot copy (_slotcopy.c, strategy from copy_strategy.py, chosen
    during encode()), others numpy's strided copy.  (Object arrays never get here,
    encode() refuses them; the check keeps raw pointers out anyway.)"""
    if src.flags.c_contiguous and not src.dtype.hasobject:
        slotcopy().copy(dst, src, keep_bytes(src.nbytes))
    else:
        np.copyto(dst, src, casting="no")


def grown_capacity(plan: Plan, init_size: int) -> int:
    """Slot capacity for a value that may grow: its size plus max(init_size, its
    non-array bytes) (arrays of a fixed object never change size)."""
    return plan.size + max(init_size, plan.size - plan.array_bytes)
