"""Lossless compact forms of a sample's arrays for the trip runner -> driver (`PackedEpisodes`).

Ray returns a result of up to 100 KiB (``max_direct_call_object_size``) inline in the reply; a
larger one goes through the node's object store: ~3 ms more per call here (a put, the raylet,
a fetch and a release), and CPU of the raylet. A plain `PPOConfig()`'s 4,000-step call of the
cart-pole was ~156 kB, of which the observations (float32, kept as they are) are ~68 kB: the
rest is int64 actions of a ``Discrete(2)``, a reward that is the same every step, the segment
table's int64 columns and 32-character episode ids. Here each is sent in the smallest form that
gives back the same bytes and dtype (checked on the values, never assumed from the space):

* an array whose every element has the same bytes: its dtype, shape and one element;
* an integer array: the narrowest integer dtype that holds its minimum and maximum;
* on request (rewards: a few distinct values, e.g. 1 per step and 0 at NEXT_STEP's reset steps)
  an array of at most 256 distinct element bytes: those elements and one uint8 index per element;
* episode ids that are all 32 lowercase hex digits (RLlib's ``uuid4().hex``, ours): 16 bytes each.

Anything else travels unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_NARROW = tuple(np.dtype(t) for t in ("u1", "i1", "u2", "i2", "u4", "i4"))
_UNSIGNED_OF_SIZE = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


class Constant:
    """An array whose elements all have the same bytes, as one element."""

    __slots__ = ("dtype", "shape", "element")

    def __init__(self, dtype: np.dtype, shape: tuple, element: bytes) -> None:
        self.dtype, self.shape, self.element = dtype, shape, element

    def __reduce__(self):
        return Constant, (self.dtype, self.shape, self.element)

    def expand(self) -> np.ndarray:
        one = np.frombuffer(self.element, self.dtype)
        return np.broadcast_to(one, self.shape).copy()


class Narrowed:
    """An integer array sent in a narrower integer dtype that holds all its values."""

    __slots__ = ("dtype", "values")

    def __init__(self, dtype: np.dtype, values: np.ndarray) -> None:
        self.dtype, self.values = dtype, values

    def __reduce__(self):
        return Narrowed, (self.dtype, self.values)

    def expand(self) -> np.ndarray:
        return self.values.astype(self.dtype)


class Palette:
    """An array of at most 256 distinct element bytes: the distinct ones and a uint8 index each."""

    __slots__ = ("dtype", "shape", "elements", "index")

    def __init__(self, dtype: np.dtype, shape: tuple, elements: bytes, index: np.ndarray) -> None:
        self.dtype, self.shape, self.elements, self.index = dtype, shape, elements, index

    def __reduce__(self):
        return Palette, (self.dtype, self.shape, self.elements, self.index)

    def expand(self) -> np.ndarray:
        bits = np.frombuffer(self.elements, _UNSIGNED_OF_SIZE[self.dtype.itemsize])[self.index]
        return bits.view(self.dtype).reshape(self.shape)


class HexIds:
    """Episode ids of 32 lowercase hex digits, as 16 bytes each."""

    __slots__ = ("raw",)

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def __reduce__(self):
        return HexIds, (self.raw,)

    def expand(self) -> list[str]:
        digits = self.raw.hex()
        return [digits[j:j + 32] for j in range(0, len(digits), 32)]


def compact(a: Any, palette: bool = False) -> Any:
    """``a`` (an array) in its smallest lossless form: a `Constant`, a `Narrowed`, with
    ``palette`` a `Palette` (a sort of its elements: for small arrays), or itself."""
    if not isinstance(a, np.ndarray) or a.size < 2 or a.dtype.hasobject:
        return a
    unsigned = _UNSIGNED_OF_SIZE.get(a.dtype.itemsize)
    if unsigned is not None and a.dtype.kind in "biuf":
        bits = np.ascontiguousarray(a).reshape(-1).view(unsigned)
        if not np.any(bits != bits[0]):
            return Constant(a.dtype, a.shape, bits[:1].tobytes())
    if a.dtype.kind in "iu":
        lo, hi = int(a.min()), int(a.max())
        for dtype in _NARROW:
            if dtype.itemsize >= a.dtype.itemsize:
                break
            info = np.iinfo(dtype)
            if info.min <= lo and hi <= info.max:
                return Narrowed(a.dtype, a.astype(dtype))
    if palette and unsigned is not None and a.dtype.kind in "iuf" and a.dtype.itemsize > 1:
        elements, index = np.unique(bits, return_inverse=True)
        if len(elements) <= 256:
            return Palette(a.dtype, a.shape, elements.tobytes(), index.astype(np.uint8))
    return a


def compact_ids(ids: list[str]) -> Any:
    """``ids`` as `HexIds` when every one is 32 lowercase hex digits, else unchanged."""
    if len(ids) < 2:
        return ids
    if set(map(len, ids)) != {32}:
        return ids
    digits = "".join(ids)
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        return ids
    return HexIds(raw) if raw.hex() == digits else ids  # fromhex also takes upper case and spaces


def expand(x: Any) -> Any:
    """What `compact` or `compact_ids` was given."""
    return x.expand() if isinstance(x, (Constant, Narrowed, Palette, HexIds)) else x
