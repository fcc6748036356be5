"""The canonical slot format: what one value looks like in a data slot.

Little-endian; one value, recursively:

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
Writing (encoding.py, fixed_codecs.py) is split so that bad input never touches
shared memory: values are validated and planned outside the writer lock, the write
only copies.  Reading (decoding.py) must survive torn data (a reader lapped by two
writers): every length is bounds-checked and every failure becomes `Torn`, which
the caller resolves by re-validating the sequence number and retrying.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

import numpy as np

TAG_NONE, TAG_BOOL, TAG_INT, TAG_FLOAT, TAG_COMPLEX = 0, 1, 2, 3, 4
TAG_STR, TAG_BYTES, TAG_BYTEARRAY, TAG_NDARRAY = 5, 6, 7, 8
TAG_TUPLE, TAG_LIST, TAG_DICT = 9, 10, 11

TAG_NAMES = {
    TAG_NONE: "NoneType", TAG_BOOL: "bool", TAG_INT: "int", TAG_FLOAT: "float",
    TAG_COMPLEX: "complex", TAG_STR: "str", TAG_BYTES: "bytes", TAG_BYTEARRAY: "bytearray",
    TAG_NDARRAY: "numpy.ndarray", TAG_TUPLE: "tuple", TAG_LIST: "list", TAG_DICT: "dict",
}  # fmt: skip
# The Python type each tag holds (NDARRAY: arrays; numpy scalars are tagged NDARRAY too).
PYTYPES: dict[int, type] = {
    TAG_NONE: type(None), TAG_BOOL: bool, TAG_INT: int, TAG_FLOAT: float, TAG_COMPLEX: complex,
    TAG_STR: str, TAG_BYTES: bytes, TAG_BYTEARRAY: bytearray, TAG_NDARRAY: np.ndarray,
    TAG_TUPLE: tuple, TAG_LIST: list, TAG_DICT: dict,
}  # fmt: skip
TAGS: dict[type, int] = {t: tag for tag, t in PYTYPES.items()}
SUPPORTED = "None, bool, int, float, complex, str, bytes, bytearray, numpy arrays and scalars, tuple, list, dict"
MAX_DEPTH = 100
FLAG_SCALAR = 1

S_BOOL = struct.Struct("<B?")
S_INT = struct.Struct("<Bq")
S_FLOAT = struct.Struct("<Bd")
S_COMPLEX = struct.Struct("<Bdd")
S_LEN = struct.Struct("<BQ")
S_ARRAY = struct.Struct("<BBBH")  # tag, flags, ndim, descriptor length
INT_MIN, INT_MAX = -(1 << 63), (1 << 63) - 1


class Torn(Exception):
    """Internal: the bytes read are inconsistent (a writer lapped the reader)."""


class Plan(NamedTuple):
    """An encoded value ready to copy: total size and (offset, bytes | ndarray) pieces."""

    size: int
    ops: list[tuple[int, Any]]
    array_bytes: int  # bytes of array data (+ padding) in `size`


class BadElement(Exception):
    """Internal: an unsupported element; `path` is filled in while unwinding."""

    def __init__(self, cls: type[Exception], msg: str) -> None:
        self.cls, self.msg, self.path = cls, msg, []
