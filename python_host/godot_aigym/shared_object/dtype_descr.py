"""Portable dtype descriptors (the .npy format's) for array headers, cached both ways."""

from __future__ import annotations

import numpy as np

from .errors import UnsupportedTypeError
from .slot_format import BadElement

_descr_of: dict[np.dtype, bytes] = {}
_dtype_of: dict[bytes, np.dtype] = {}


def dtype_descr(dtype: np.dtype) -> bytes:
    """Portable descriptor of a dtype (the .npy format's), cached."""
    d = _descr_of.get(dtype)
    if d is None:
        if dtype.hasobject:
            raise BadElement(UnsupportedTypeError, f"arrays of dtype {dtype} hold Python references and cannot be shared")
        try:
            d = repr(np.lib.format.dtype_to_descr(dtype)).encode("ascii")
            if dtype_from_descr(d) != dtype:
                raise ValueError("descriptor does not round-trip")
        except (ValueError, TypeError, UnicodeEncodeError) as exc:
            raise BadElement(UnsupportedTypeError, f"dtype {dtype} cannot be shared: {exc}") from None
        if len(d) > 0xFFFF:
            raise BadElement(UnsupportedTypeError, f"dtype {dtype} has too long a descriptor")
        _descr_of[dtype] = d
    return d


def dtype_from_descr(d: bytes) -> np.dtype:
    dt = _dtype_of.get(d)
    if dt is None:
        import ast  # only on a descriptor's first sight: keeps the package import cheap

        dt = np.lib.format.descr_to_dtype(ast.literal_eval(d.decode("ascii")))
        _dtype_of[bytes(d)] = dt
    return dt
