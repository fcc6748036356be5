"""Named 1-D tensors living in a chunk: int32, float32 and uint8 (image observations)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from . import layout as L
from .errors import ChunkClosed, WrongDtype, WrongLength
from .validate import Entry

if TYPE_CHECKING:
    from .chunk import SharedMemory

# numpy dtype kinds each tensor dtype accepts; values are range-checked when narrowing.
_ACCEPTED_KINDS = {
    L.DTYPE_INT32: "biu",
    L.DTYPE_FLOAT32: "biuf",
    L.DTYPE_UINT8: "biu",
}


def _to_numpy(values: Any) -> np.ndarray:
    """numpy array, torch tensor (imported only by the caller), bytes-like or sequence -> ndarray."""
    if isinstance(values, np.ndarray):
        return values
    if type(values).__module__.startswith("torch") and hasattr(values, "detach"):
        t = values.detach()
        if t.device.type != "cpu":
            t = t.cpu()
        if str(t.dtype) == "torch.bfloat16":  # numpy has no bfloat16
            t = t.float()
        return t.resolve_conj().resolve_neg().numpy()
    if isinstance(values, (bytes, bytearray, memoryview)):
        return np.frombuffer(values, dtype=np.uint8)
    if isinstance(values, str):
        raise WrongDtype(f"expected numbers, got a str ({values[:20]!r})")
    return np.asarray(values)


class SharedTensor:
    """A named 1-D tensor in shared memory. Use the dtype subclasses; obtain them from
    ``SharedMemory.newFloatTensor`` etc. or ``find_tensor``.

    ``read()`` returns a copy, ``view``/``numpy()`` a zero-copy array over the chunk,
    ``write()`` checks length and dtype before copying.
    """

    dtype_code: ClassVar[int] = L.DTYPE_NONE

    def __init__(self, memory: SharedMemory, entry: Entry, view: np.ndarray) -> None:
        self._memory = memory
        self._entry = entry
        self._view: np.ndarray | None = view
        self.name: str = entry.name
        self.size: int = entry.count
        self.dtype: np.dtype = L.NUMPY_DTYPES[entry.dtype]

    # -- introspection -----------------------------------------------------------------
    @property
    def nbytes(self) -> int:
        return self._entry.nbytes

    @property
    def offset(self) -> int:
        """Byte offset of the data inside the chunk."""
        return self._entry.offset

    @property
    def shape(self) -> tuple[int]:
        return (self.size,)

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        state = " closed" if self._view is None else ""
        return f"<{type(self).__name__} '{self.name}' {self.dtype.name}[{self.size}]{state}>"

    def _live_view(self) -> np.ndarray:
        view = self._view
        if view is None or self._memory.closed:
            raise ChunkClosed(f"tensor '{self.name}' cannot be used: shared memory "
                              f"'{self._memory.handle}' is closed")
        return view

    def _release(self) -> None:
        """Drop the view so the chunk can be unmapped (called by SharedMemory.close)."""
        self._view = None

    # -- data access -----------------------------------------------------------------------
    @property
    def view(self) -> np.ndarray:
        """Zero-copy writable numpy view of the data; valid while the chunk stays mapped."""
        return self._live_view()

    def numpy(self) -> np.ndarray:
        """Zero-copy numpy view (same as ``view``)."""
        return self._live_view()

    def read(self, out: np.ndarray | None = None) -> np.ndarray:
        """Copy the data out: a new array, or into ``out`` (same length and dtype) when given."""
        view = self._live_view()
        if out is None:
            return view.copy()
        if not isinstance(out, np.ndarray) or out.shape != view.shape or out.dtype != self.dtype:
            got = f"{out.dtype.name}{list(out.shape)}" if isinstance(out, np.ndarray) else type(out).__name__
            family = WrongLength if isinstance(out, np.ndarray) and out.dtype == self.dtype else WrongDtype
            raise family(f"read(out=...) of tensor '{self.name}' needs a {self.dtype.name}[{self.size}] "
                         f"numpy array, got {got}")
        np.copyto(out, view)
        return out

    def write(self, values: Any) -> None:
        """Copy ``values`` in: a numpy array, torch tensor or sequence of exactly ``size`` numbers.

        Raises WrongLength (count/shape) or WrongDtype (values that the dtype cannot hold:
        floats into an integer tensor, integers out of range, non-numbers).
        """
        view = self._live_view()
        if type(values) is np.ndarray and values.dtype == self.dtype and values.shape == view.shape:
            np.copyto(view, values)  # fast path: exact match
            return
        np.copyto(view, self._checked(values), casting="unsafe")

    def _checked(self, values: Any) -> np.ndarray:
        """``values`` as an array that can be cast to the tensor dtype without loss of meaning."""
        try:
            arr = _to_numpy(values)
        except WrongDtype as exc:
            raise WrongDtype(f"cannot write to {self._describe()}: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise WrongDtype(f"cannot write to {self._describe()}: values are not a flat sequence "
                             f"of numbers ({exc})") from None
        if arr.ndim != 1:
            what = "a scalar" if arr.ndim == 0 else f"an array of shape {arr.shape}"
            raise WrongLength(f"cannot write to {self._describe()}: expected a 1-D sequence of "
                              f"{self.size} values, got {what}")
        if arr.shape[0] != self.size:
            raise WrongLength(f"cannot write to {self._describe()}: expected {self.size} values, "
                              f"got {arr.shape[0]}")
        if arr.dtype == self.dtype:
            return arr
        kind = arr.dtype.kind
        if kind not in _ACCEPTED_KINDS[self.dtype_code]:
            if kind == "f":
                hint = "round and convert to an integer dtype first"
            elif kind in "OUSV":
                hint = "expected numbers"
            else:
                hint = "convert explicitly first"
            what = _KIND_NAMES.get(kind, arr.dtype.name)  # numpy's "str672" means nothing to the caller
            raise WrongDtype(f"cannot write {what} values to {self._describe()} ({hint})")
        if kind in "iu" and self.dtype.kind in "iu" and not np.can_cast(arr.dtype, self.dtype):
            info = np.iinfo(self.dtype)
            lo, hi = int(arr.min()), int(arr.max())
            if lo < info.min or hi > info.max:
                raise WrongDtype(f"cannot write to {self._describe()}: values {lo}..{hi} are outside "
                                 f"the {self.dtype.name} range {info.min}..{info.max}")
        return arr

    def _describe(self) -> str:
        return f"{self.dtype.name} tensor '{self.name}' [{self.size}]"


# the value kinds a caller may pass by mistake, named as Python names them (not numpy's dtype name)
_KIND_NAMES = {"U": "str", "S": "bytes", "O": "object", "V": "void (raw bytes)"}


class SharedIntTensor(SharedTensor):
    """int32 tensor."""

    dtype_code = L.DTYPE_INT32


class SharedFloatTensor(SharedTensor):
    """float32 tensor."""

    dtype_code = L.DTYPE_FLOAT32


class SharedUintTensor(SharedTensor):
    """uint8 tensor (image observations)."""

    dtype_code = L.DTYPE_UINT8


TENSOR_CLASSES: dict[int, type[SharedTensor]] = {
    L.DTYPE_INT32: SharedIntTensor,
    L.DTYPE_FLOAT32: SharedFloatTensor,
    L.DTYPE_UINT8: SharedUintTensor,
}
