"""Serialisation of Python values into a data slot, and back.

Canonical slot format (little-endian; one value, recursively):

    tag u8, then
      NONE                    nothing
      BOOL                    u8
      INT                     i64
      FLOAT                   f64
      COMPLEX                 f64 real, f64 imag
      STR, BYTES, BYTEARRAY   u64 n, n bytes (str: UTF-8, lone surrogates kept)
      NDARRAY                 u8 flags (1: numpy scalar), u8 ndim, u16 m, m bytes dtype
                              descriptor (repr of numpy.lib.format.dtype_to_descr),
                              ndim x u64 shape, zero padding to a 64-byte boundary,
                              the data in C order
      TUPLE, LIST             u64 n, n values
      DICT                    u64 n, n x (key, value)

Every slot starts 64-byte aligned, so array data is 64-byte aligned in memory.

Writing is split so that bad input never touches shared memory: `encode()` (or a
codec's `prepare`) validates and plans outside the writer lock; `write` only copies.
Reading must survive torn data (a reader lapped by two writers): every length is
bounds-checked and every failure becomes `Torn`, which the caller resolves by
re-validating the sequence number and retrying.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from time import perf_counter_ns
from typing import Any, NamedTuple

import numpy as np

from .errors import (
    ObjectTooLargeError,
    ShapeMismatchError,
    TypeMismatchError,
    UnsupportedTypeError,
    UnsupportedValueError,
)
from .copy_strategy import MIN_STREAM_BYTES, keep_bytes, planner
from .layout import ALIGN
from .sync import slotcopy

TAG_NONE, TAG_BOOL, TAG_INT, TAG_FLOAT, TAG_COMPLEX = 0, 1, 2, 3, 4
TAG_STR, TAG_BYTES, TAG_BYTEARRAY, TAG_NDARRAY = 5, 6, 7, 8
TAG_TUPLE, TAG_LIST, TAG_DICT = 9, 10, 11

TAG_NAMES = {
    TAG_NONE: "NoneType", TAG_BOOL: "bool", TAG_INT: "int", TAG_FLOAT: "float",
    TAG_COMPLEX: "complex", TAG_STR: "str", TAG_BYTES: "bytes", TAG_BYTEARRAY: "bytearray",
    TAG_NDARRAY: "numpy.ndarray", TAG_TUPLE: "tuple", TAG_LIST: "list", TAG_DICT: "dict",
}  # fmt: skip
SUPPORTED = "None, bool, int, float, complex, str, bytes, bytearray, numpy arrays and scalars, tuple, list, dict"
MAX_DEPTH = 100
FLAG_SCALAR = 1

_BBool = struct.Struct("<B?")
_Bq = struct.Struct("<Bq")
_Bd = struct.Struct("<Bd")
_Bdd = struct.Struct("<Bdd")
_BQ = struct.Struct("<BQ")
_ARR = struct.Struct("<BBBH")  # tag, flags, ndim, descriptor length
_INT_MIN, _INT_MAX = -(1 << 63), (1 << 63) - 1


class Torn(Exception):
    """Internal: the bytes read are inconsistent (a writer lapped the reader)."""


class Plan(NamedTuple):
    """An encoded value ready to copy: total size and (offset, bytes | ndarray) pieces."""

    size: int
    ops: list[tuple[int, Any]]
    array_bytes: int  # bytes of array data (+ padding) in `size`


class _Bad(Exception):
    """Internal: an unsupported element; `path` is filled in while unwinding."""

    def __init__(self, cls: type[Exception], msg: str) -> None:
        self.cls, self.msg, self.path = cls, msg, []


# -- dtype descriptors -------------------------------------------------------------------
_descr_of: dict[np.dtype, bytes] = {}
_dtype_of: dict[bytes, np.dtype] = {}


def dtype_descr(dtype: np.dtype) -> bytes:
    """Portable descriptor of a dtype (the .npy format's), cached."""
    d = _descr_of.get(dtype)
    if d is None:
        if dtype.hasobject:
            raise _Bad(UnsupportedTypeError, f"arrays of dtype {dtype} hold Python references and cannot be shared")
        try:
            d = repr(np.lib.format.dtype_to_descr(dtype)).encode("ascii")
            if dtype_from_descr(d) != dtype:
                raise ValueError("descriptor does not round-trip")
        except (ValueError, TypeError, UnicodeEncodeError) as exc:
            raise _Bad(UnsupportedTypeError, f"dtype {dtype} cannot be shared: {exc}") from None
        if len(d) > 0xFFFF:
            raise _Bad(UnsupportedTypeError, f"dtype {dtype} has too long a descriptor")
        _descr_of[dtype] = d
    return d


def dtype_from_descr(d: bytes) -> np.dtype:
    dt = _dtype_of.get(d)
    if dt is None:
        import ast  # only on a descriptor's first sight: keeps the package import cheap

        dt = np.lib.format.descr_to_dtype(ast.literal_eval(d.decode("ascii")))
        _dtype_of[bytes(d)] = dt
    return dt


# -- encoding ----------------------------------------------------------------------------
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
                raise _Bad(UnsupportedTypeError, f"{type(v).__qualname__} cannot be stored (supported: {SUPPORTED})")
        enc(self, v, depth)

    def array(self, a: np.ndarray, flags: int) -> None:
        descr = dtype_descr(a.dtype)
        buf = self.buf
        buf += _ARR.pack(TAG_NDARRAY, flags, a.ndim, len(descr))
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
    e.buf += _BBool.pack(TAG_BOOL, v)


def _enc_int(e: _Encoder, v: int, depth: int) -> None:
    if not _INT_MIN <= v <= _INT_MAX:
        raise _Bad(UnsupportedValueError, f"int {v} does not fit in 64 bits")
    e.buf += _Bq.pack(TAG_INT, v)


def _enc_float(e: _Encoder, v: float, depth: int) -> None:
    e.buf += _Bd.pack(TAG_FLOAT, v)


def _enc_complex(e: _Encoder, v: complex, depth: int) -> None:
    e.buf += _Bdd.pack(TAG_COMPLEX, v.real, v.imag)


def _enc_text(tag: int) -> Callable[[_Encoder, Any, int], None]:
    def enc(e: _Encoder, v: Any, depth: int) -> None:
        b = v.encode("utf-8", "surrogatepass") if tag == TAG_STR else v
        e.buf += _BQ.pack(tag, len(b))
        e.buf += b

    return enc


def _enc_ndarray(e: _Encoder, v: np.ndarray, depth: int) -> None:
    e.array(v, 0)


def _enc_npscalar(e: _Encoder, v: np.generic, depth: int) -> None:
    e.array(np.asarray(v), FLAG_SCALAR)


def _enc_seq(tag: int) -> Callable[[_Encoder, Any, int], None]:
    def enc(e: _Encoder, v: Any, depth: int) -> None:
        if depth >= MAX_DEPTH:
            raise _Bad(UnsupportedValueError, f"nesting deeper than {MAX_DEPTH} levels (a reference cycle?)")
        e.buf += _BQ.pack(tag, len(v))
        for i, item in enumerate(v):
            try:
                e.add(item, depth + 1)
            except _Bad as bad:
                bad.path.append(f"[{i}]")
                raise

    return enc


def _enc_dict(e: _Encoder, v: dict, depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise _Bad(UnsupportedValueError, f"nesting deeper than {MAX_DEPTH} levels (a reference cycle?)")
    e.buf += _BQ.pack(TAG_DICT, len(v))
    for k, item in v.items():
        try:
            e.add(k, depth + 1)
        except _Bad as bad:
            bad.path.append(f" key {k!r}")
            raise
        try:
            e.add(item, depth + 1)
        except _Bad as bad:
            bad.path.append(f"[{k!r}]")
            raise


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
    except _Bad as bad:
        where = "data" + "".join(reversed(bad.path))
        raise bad.cls(f"cannot store {where} in shared object {name!r}: {bad.msg}") from None
    return e.finish()


def tag_of(value: Any) -> int:
    """Top-level tag of a value that encode() accepted."""
    t = type(value)
    if t is np.ndarray or isinstance(value, np.generic):
        return TAG_NDARRAY
    return {type(None): TAG_NONE, bool: TAG_BOOL, int: TAG_INT, float: TAG_FLOAT, complex: TAG_COMPLEX,
            str: TAG_STR, bytes: TAG_BYTES, bytearray: TAG_BYTEARRAY, tuple: TAG_TUPLE, list: TAG_LIST,
            dict: TAG_DICT}[t]  # fmt: skip


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


# -- decoding ----------------------------------------------------------------------------
def array_header(mv: memoryview, off: int, end: int) -> tuple[int, np.dtype, tuple[int, ...], int, int]:
    """Parse an NDARRAY header at off: (flags, dtype, shape, data offset, nbytes)."""
    if off + _ARR.size > end:
        raise Torn
    _, flags, ndim, m = _ARR.unpack_from(mv, off)
    off += _ARR.size
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
        return _Bq.unpack_from(mv, off)[1], off + 9
    if tag == TAG_FLOAT:
        return _Bd.unpack_from(mv, off)[1], off + 9
    if tag == TAG_BOOL:
        return _BBool.unpack_from(mv, off)[1], off + 2
    if tag == TAG_COMPLEX:
        _, re, im = _Bdd.unpack_from(mv, off)
        return complex(re, im), off + 17
    if TAG_STR <= tag <= TAG_BYTEARRAY:
        n = _BQ.unpack_from(mv, off)[1]
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
        n = _BQ.unpack_from(mv, off)[1]
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


# -- fixed-layout codecs (SharedObject) ----------------------------------------------------
# Each binds one shared mapping and the two slot offsets; prepare() validates outside
# the lock, write() copies into a slot, read() decodes a slot (inside a read section).
class FixedCodec:
    tag = TAG_NONE
    fn_inside = False  # True: read() applies fn itself (to a read-only view)

    def __init__(self, mv: memoryview, offs: tuple[int, int], cap: int, name: str) -> None:
        self.mv, self.offs, self.cap, self.name = mv, offs, cap, name

    def describe(self) -> str:
        return TAG_NAMES[self.tag]

    def mismatch(self, value: Any) -> TypeMismatchError:
        return TypeMismatchError(
            f"shared object {self.name!r} holds {self.describe()} and cannot take "
            f"{type(value).__qualname__}; use SharedDynamicObject for values that change type"
        )

    def too_large(self, size: int) -> ObjectTooLargeError:
        return ObjectTooLargeError(
            f"value of {size} bytes does not fit shared object {self.name!r} "
            f"(capacity {self.cap} bytes); create it with a larger init_size or use SharedDynamicObject"
        )

    def prepare(self, value: Any) -> Any:
        if value is not None:
            raise self.mismatch(value)
        return None

    def write(self, slot: int, value: Any) -> None:
        self.mv[self.offs[slot]] = TAG_NONE

    def read(self, slot: int, fn: Any) -> Any:
        return None

    def release(self) -> None:
        self.mv = None  # type: ignore[assignment]


class ScalarCodec(FixedCodec):
    """bool, int, float: one struct call each way."""

    def __init__(self, mv: memoryview, offs: tuple[int, int], cap: int, name: str, tag: int) -> None:
        super().__init__(mv, offs, cap, name)
        self.tag = tag
        self.pytype = {TAG_BOOL: bool, TAG_INT: int, TAG_FLOAT: float}[tag]
        st = {TAG_BOOL: _BBool, TAG_INT: _Bq, TAG_FLOAT: _Bd}[tag]
        self._pack, self._unpack = st.pack_into, st.unpack_from

    def prepare(self, value: Any) -> Any:
        if type(value) is not self.pytype:
            raise self.mismatch(value)
        if self.tag == TAG_INT and not _INT_MIN <= value <= _INT_MAX:
            raise UnsupportedValueError(f"int {value} does not fit in 64 bits (shared object {self.name!r})")
        return value

    def write(self, slot: int, value: Any) -> None:
        self._pack(self.mv, self.offs[slot], self.tag, value)

    def read(self, slot: int, fn: Any) -> Any:
        return self._unpack(self.mv, self.offs[slot])[1]


class ComplexCodec(FixedCodec):
    tag = TAG_COMPLEX

    def prepare(self, value: Any) -> Any:
        if type(value) is not complex:
            raise self.mismatch(value)
        return value

    def write(self, slot: int, value: Any) -> None:
        _Bdd.pack_into(self.mv, self.offs[slot], TAG_COMPLEX, value.real, value.imag)

    def read(self, slot: int, fn: Any) -> Any:
        _, re, im = _Bdd.unpack_from(self.mv, self.offs[slot])
        return complex(re, im)


class TextCodec(FixedCodec):
    """str, bytes, bytearray up to a fixed byte capacity."""

    def __init__(self, mv: memoryview, offs: tuple[int, int], cap: int, name: str, tag: int) -> None:
        super().__init__(mv, offs, cap, name)
        self.tag = tag
        self.pytype = {TAG_STR: str, TAG_BYTES: bytes, TAG_BYTEARRAY: bytearray}[tag]
        self.limit = cap - _BQ.size

    def prepare(self, value: Any) -> Any:
        if type(value) is not self.pytype:
            raise self.mismatch(value)
        b = value.encode("utf-8", "surrogatepass") if self.tag == TAG_STR else value
        if len(b) > self.limit:
            raise ObjectTooLargeError(
                f"{self.describe()} of {len(b)} bytes does not fit shared object {self.name!r} "
                f"(capacity {self.limit} bytes); create it with a larger init_size or use SharedDynamicObject"
            )
        return b

    def write(self, slot: int, b: Any) -> None:
        off = self.offs[slot]
        n = len(b)
        _BQ.pack_into(self.mv, off, self.tag, n)
        self.mv[off + 9 : off + 9 + n] = b

    def read(self, slot: int, fn: Any) -> Any:
        off = self.offs[slot]
        n = _BQ.unpack_from(self.mv, off)[1]
        if n > self.limit:
            raise Torn
        raw = self.mv[off + 9 : off + 9 + n]
        if self.tag == TAG_STR:
            try:
                return str(raw, "utf-8", "surrogatepass")
            except UnicodeDecodeError:
                raise Torn from None
        return bytes(raw) if self.tag == TAG_BYTES else bytearray(raw)


class ArrayCodec(FixedCodec):
    """A numpy array of fixed dtype and shape; views on both slots are built once."""

    tag = TAG_NDARRAY
    fn_inside = True

    def __init__(self, mv: memoryview, offs: tuple[int, int], cap: int, name: str) -> None:
        super().__init__(mv, offs, cap, name)
        _, self.dtype, self.shape, data, nbytes = array_header(mv, offs[0], offs[0] + cap)
        rel = data - offs[0]
        self.views = tuple(np.ndarray(self.shape, self.dtype, buffer=mv, offset=o + rel) for o in offs)
        self.ro = tuple(v.view() for v in self.views)
        self.copy, self.has_objects = slotcopy().copy, self.dtype.hasobject
        # Bytes of the copy written with ordinary stores (the rest streamed), chosen by
        # copy_strategy at the first prepare(), outside the writer lock; until then memcpy.
        # Where the caches do not decide, a tuner re-checks the choice on our own assigns.
        self.nbytes, self.keep, self.planned, self.tuner = nbytes, nbytes, False, None
        for v in self.ro:
            v.flags.writeable = False

    def describe(self) -> str:
        return f"a numpy array of dtype {self.dtype} and shape {self.shape}"

    def prepare(self, value: Any) -> Any:
        if type(value) is not np.ndarray:
            raise self.mismatch(value)
        if value.dtype != self.dtype:
            raise TypeMismatchError(
                f"shared object {self.name!r} holds dtype {self.dtype}, got {value.dtype}; "
                "convert with .astype() or use SharedDynamicObject"
            )
        if value.shape != self.shape:
            raise ShapeMismatchError(
                f"shared object {self.name!r} holds shape {self.shape}, got {value.shape}; use SharedDynamicObject"
            )
        if not self.planned:
            self.keep, self.tuner, self.planned = keep_bytes(self.nbytes), planner().tuner(self.nbytes), True
        return value

    def write(self, slot: int, value: Any) -> None:
        if value.flags.c_contiguous and not self.has_objects:
            tuner = self.tuner
            if tuner is None:
                self.copy(self.views[slot], value, self.keep)  # copy_array, inlined: 0.1 us of a 0.6 us small assign
            elif tuner.quiet:  # between explorations: no clock reads
                self.copy(self.views[slot], value, tuner.keep)
                tuner.untimed()
            else:
                t0 = perf_counter_ns()
                self.copy(self.views[slot], value, tuner.keep)
                tuner.record(perf_counter_ns() - t0)
        else:
            np.copyto(self.views[slot], value, casting="no")

    def read(self, slot: int, fn: Any) -> Any:
        if fn is None:
            return self.ro[slot].copy()
        return apply_to_view(fn, self.ro[slot])

    def release(self) -> None:
        self.views = self.ro = ()
        super().release()


class GenericCodec(FixedCodec):
    """tuple, list, dict and numpy scalars: any value of the same top-level type that fits."""

    def __init__(self, mv: memoryview, offs: tuple[int, int], cap: int, name: str, tag: int) -> None:
        super().__init__(mv, offs, cap, name)
        self.tag = tag
        self.pytype = type(decode(mv, offs[0], offs[0] + cap)) if tag == TAG_NDARRAY else None
        self.pytype = self.pytype or {TAG_TUPLE: tuple, TAG_LIST: list, TAG_DICT: dict}[tag]

    def describe(self) -> str:
        return self.pytype.__qualname__

    def prepare(self, value: Any) -> Any:
        if type(value) is not self.pytype:
            raise self.mismatch(value)
        plan = encode(value, self.name)
        if plan.size > self.cap:
            raise self.too_large(plan.size)
        return plan

    def write(self, slot: int, plan: Any) -> None:
        write_plan(self.mv, self.offs[slot], plan)

    def read(self, slot: int, fn: Any) -> Any:
        off = self.offs[slot]
        return decode(self.mv, off, off + self.cap)


def fixed_capacity(value: Any, plan: Plan, init_size: int) -> int:
    """Slot capacity of a new fixed object: arrays and scalars exactly, variable-size
    content (text, containers) with room to grow by max(init_size, its current size)."""
    if type(value) is np.ndarray or tag_of(value) in (TAG_NONE, TAG_BOOL, TAG_INT, TAG_FLOAT, TAG_COMPLEX):
        return plan.size
    return plan.size + max(init_size, plan.size - plan.array_bytes)


def fixed_codec(tag: int, mv: memoryview, offs: tuple[int, int], cap: int, name: str) -> FixedCodec:
    """The codec for a fixed object whose top-level tag is `tag` (slots already written)."""
    if tag == TAG_NONE:
        return FixedCodec(mv, offs, cap, name)
    if tag in (TAG_BOOL, TAG_INT, TAG_FLOAT):
        return ScalarCodec(mv, offs, cap, name, tag)
    if tag == TAG_COMPLEX:
        return ComplexCodec(mv, offs, cap, name)
    if tag in (TAG_STR, TAG_BYTES, TAG_BYTEARRAY):
        return TextCodec(mv, offs, cap, name, tag)
    if tag == TAG_NDARRAY:
        flags = _ARR.unpack_from(mv, offs[0])[1]
        if not flags & FLAG_SCALAR:
            return ArrayCodec(mv, offs, cap, name)
    return GenericCodec(mv, offs, cap, name, tag)
