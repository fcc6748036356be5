"""The codecs of SharedObject, one per top-level type fixed at creation.

Each binds one shared mapping and the two slot offsets; prepare() validates outside
the writer lock (a bad value never touches shared memory), write() copies into a
slot, read() decodes a slot inside a read section (raising Torn on torn bytes).
Scalars, text and arrays have their own fast codecs; containers and numpy scalars
take the generic encoder (encoding.py) within the slot capacity.
"""

from __future__ import annotations

from time import perf_counter_ns
from typing import Any

import numpy as np

from .copy_strategy import keep_bytes, planner
from .decoding import apply_to_view, array_header, decode
from .encoding import encode, grown_capacity, tag_of, write_plan
from .errors import ObjectTooLargeError, ShapeMismatchError, TypeMismatchError, UnsupportedValueError
from .slot_format import (
    FLAG_SCALAR, INT_MAX, INT_MIN, S_ARRAY, S_BOOL, S_COMPLEX, S_FLOAT, S_INT, S_LEN, TAG_BOOL, TAG_BYTEARRAY,
    TAG_BYTES, TAG_COMPLEX, TAG_FLOAT, TAG_INT, TAG_NAMES, TAG_NDARRAY, TAG_NONE, TAG_STR, PYTYPES, Plan, Torn,
)  # fmt: skip
from .sync import slotcopy


class FixedCodec:
    """None (a trigger object); the base of the others: `tag` and the one Python type
    `pytype` the object holds, checked first by every prepare()."""

    fn_inside = False  # True: read() applies fn itself (to a read-only view)

    def __init__(self, mv: memoryview, offs: tuple[int, int], cap: int, name: str, tag: int = TAG_NONE) -> None:
        self.mv, self.offs, self.cap, self.name = mv, offs, cap, name
        self.tag, self.pytype = tag, PYTYPES[tag]

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
        super().__init__(mv, offs, cap, name, tag)
        st = {TAG_BOOL: S_BOOL, TAG_INT: S_INT, TAG_FLOAT: S_FLOAT}[tag]
        self._pack, self._unpack = st.pack_into, st.unpack_from

    def prepare(self, value: Any) -> Any:
        if type(value) is not self.pytype:
            raise self.mismatch(value)
        if self.tag == TAG_INT and not INT_MIN <= value <= INT_MAX:
            raise UnsupportedValueError(f"int {value} does not fit in 64 bits (shared object {self.name!r})")
        return value

    def write(self, slot: int, value: Any) -> None:
        self._pack(self.mv, self.offs[slot], self.tag, value)

    def read(self, slot: int, fn: Any) -> Any:
        return self._unpack(self.mv, self.offs[slot])[1]


class ComplexCodec(FixedCodec):
    def prepare(self, value: Any) -> Any:
        if type(value) is not complex:
            raise self.mismatch(value)
        return value

    def write(self, slot: int, value: Any) -> None:
        S_COMPLEX.pack_into(self.mv, self.offs[slot], TAG_COMPLEX, value.real, value.imag)

    def read(self, slot: int, fn: Any) -> Any:
        _, re, im = S_COMPLEX.unpack_from(self.mv, self.offs[slot])
        return complex(re, im)


class TextCodec(FixedCodec):
    """str, bytes, bytearray up to a fixed byte capacity."""

    def __init__(self, mv: memoryview, offs: tuple[int, int], cap: int, name: str, tag: int) -> None:
        super().__init__(mv, offs, cap, name, tag)
        self.limit = cap - S_LEN.size

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
        S_LEN.pack_into(self.mv, off, self.tag, n)
        self.mv[off + 9 : off + 9 + n] = b

    def read(self, slot: int, fn: Any) -> Any:
        off = self.offs[slot]
        n = S_LEN.unpack_from(self.mv, off)[1]
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

    fn_inside = True

    def __init__(self, mv: memoryview, offs: tuple[int, int], cap: int, name: str) -> None:
        super().__init__(mv, offs, cap, name, TAG_NDARRAY)
        _, self.dtype, self.shape, data, nbytes = array_header(mv, offs[0], offs[0] + cap)
        rel = data - offs[0]
        self.views = tuple(np.ndarray(self.shape, self.dtype, buffer=mv, offset=o + rel) for o in offs)
        self.ro = tuple(v.view() for v in self.views)
        self.copy, self.has_objects = slotcopy().copy, self.dtype.hasobject
        # Bytes of the copy written with ordinary stores (the rest streamed), chosen by
        # copy_strategy at the first prepare(), outside the writer lock; until then memcpy.
        # Where the caches do not decide, a tuner re-checks the choice on our own assigns.
        self.nbytes, self.keep, self.planned, self.tuner = nbytes, nbytes, False, None
        self.writer: Any = None  # the C Writer (make_writer), armed once planned
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
            self._arm()
        return value

    def make_writer(self, lock: Any, commit: Any, unlock: Any, timeout: float, spin: float) -> Any:
        """The C Writer that does a whole assign in one call (`SharedObject.assign`), or
        None for arrays of Python objects (their references cannot be copied as bytes)."""
        if self.has_objects:
            return None
        self.writer = slotcopy().Writer(lock, commit, unlock, self.views, self.dtype, self.shape, timeout, spin)
        self._arm()
        return self.writer

    def _arm(self) -> None:
        """Hand the copy's `keep` (and a tuner's quiet count) to the Writer once planned;
        until then it declines, so the first assign plans on the general path."""
        if self.writer is None or not self.planned:
            return
        if self.tuner is None:
            self.writer.keep, self.writer.budget = self.keep, -1
        else:
            self.tuner.attach(self.writer)
            self.writer.plan = self.tuner.pending_keeps()

    def write(self, slot: int, value: Any) -> None:
        if value.flags.c_contiguous and not self.has_objects:
            tuner = self.tuner
            # slot 1 is copied backward, as the Writer does (see _slotcopy.c)
            if tuner is None:
                self.copy(self.views[slot], value, self.keep, slot)
                return
            # Past its quiet count the Writer times the exploration: its copies first (the plan
            # is done, or other sources came in between), then it gets what is left to do.
            writer = self.writer
            exploring = writer is not None and writer.budget == 0
            if exploring:
                for ns in writer.times:
                    tuner.record(ns)
                writer.plan = None  # digested (and not counted twice if this copy fails)
            if tuner.quiet:  # between explorations: no clock reads
                self.copy(self.views[slot], value, tuner.keep, slot)
                tuner.untimed()
            else:
                t0 = perf_counter_ns()
                self.copy(self.views[slot], value, tuner.keep, slot)
                tuner.record(perf_counter_ns() - t0)
            if exploring:
                writer.plan = tuner.pending_keeps()
        else:
            np.copyto(self.views[slot], value, casting="no")

    def read(self, slot: int, fn: Any) -> Any:
        if fn is None:
            return self.ro[slot].copy()
        return apply_to_view(fn, self.ro[slot])

    def release(self) -> None:
        if self.writer is not None:
            self.writer.release()  # it holds the slot views
        self.views = self.ro = ()
        super().release()


class GenericCodec(FixedCodec):
    """tuple, list, dict and numpy scalars: any value of the same top-level type that fits."""

    def __init__(self, mv: memoryview, offs: tuple[int, int], cap: int, name: str, tag: int) -> None:
        super().__init__(mv, offs, cap, name, tag)
        if tag == TAG_NDARRAY:  # a numpy scalar: its own type (np.float32, ...)
            self.pytype = type(decode(mv, offs[0], offs[0] + cap))

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
    return grown_capacity(plan, init_size)


def fixed_codec(tag: int, mv: memoryview, offs: tuple[int, int], cap: int, name: str) -> FixedCodec:
    """The codec for a fixed object whose top-level tag is `tag` (slots already written)."""
    if tag == TAG_NONE:
        return FixedCodec(mv, offs, cap, name)
    if tag in (TAG_BOOL, TAG_INT, TAG_FLOAT):
        return ScalarCodec(mv, offs, cap, name, tag)
    if tag == TAG_COMPLEX:
        return ComplexCodec(mv, offs, cap, name, tag)
    if tag in (TAG_STR, TAG_BYTES, TAG_BYTEARRAY):
        return TextCodec(mv, offs, cap, name, tag)
    if tag == TAG_NDARRAY:
        flags = S_ARRAY.unpack_from(mv, offs[0])[1]
        if not flags & FLAG_SCALAR:
            return ArrayCodec(mv, offs, cap, name)
    return GenericCodec(mv, offs, cap, name, tag)
