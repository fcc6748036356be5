"""Child-process bodies for the SharedObject tests (importable by 'spawn' children).

Every loop is bounded by a count or a deadline, so a broken child cannot hang the suite.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from godot_aigym.shared_object import SharedDynamicObject, SharedObject


def hammer_writer(name: str, iterations: int, seed: int, dynamic: bool = False) -> None:
    """Assign arrays whose elements all equal a counter (random sizes when dynamic)."""
    rng = np.random.default_rng(seed)
    obj = (SharedDynamicObject if dynamic else SharedObject)(name, create=False)
    shape = obj.fetch().shape
    for i in range(1, iterations + 1):
        if dynamic:
            shape = (int(rng.integers(1, 300)), int(rng.integers(1, 300)))
        obj.assign(np.full(shape, i, dtype=np.float64))
        if i % 97 == 0:
            obj.trigger()
    obj.close()


def record(i: int, rng: np.random.Generator) -> dict:
    """A nested value whose every part encodes i (variable sizes: text and array lengths)."""
    k = int(rng.integers(1, 200))
    return {"i": i, "s": str(i) * k, "a": np.full(k, i, np.int64), "t": (float(i), [i] * (k % 7))}


def record_range(r: dict) -> tuple[float, float]:
    parts = [r["i"], int(r["s"][: len(str(r["i"]))] or -2), *r["a"].tolist(), r["t"][0], *r["t"][1]]
    return float(min(parts)), float(max(parts))


def hammer_dict_writer(name: str, iterations: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    obj = SharedDynamicObject(name, create=False)
    for i in range(1, iterations + 1):
        obj.assign(record(i, rng))
    obj.close()


def hammer_reader(name: str, deadline_s: float, mode: str, out: Any) -> None:
    """Fetch until the test's sentinel (or the deadline); report torn or regressing values."""
    obj = (SharedObject if mode in ("fixed", "streamed") else SharedDynamicObject)(name, create=False)
    torn, regress, reads, last = 0, 0, 0, -1.0
    stop = time.monotonic() + deadline_s
    final = None
    while time.monotonic() < stop:
        if mode == "dict":
            lo, hi = record_range(obj.fetch())
            s = obj.fetch(record_range)
        else:
            a = obj.fetch()
            lo, hi = float(a.min()), float(a.max())
            s = obj.fetch(lambda x: (float(x.min()), float(x.max())))
        reads += 2
        torn += (lo != hi) + (s[0] != s[1])
        if lo < 0:  # the test's sentinel: the writer has finished
            final = lo
            break
        regress += lo < last
        last = lo
    out.put((torn, regress, reads, final))
    obj.close()


def die_mid_assign(name: str, locked: Any) -> None:
    """Take the writer lock, half-write a new value, signal, then wait to be killed."""
    obj = SharedObject(name, create=False)
    p = obj._lock(10.0, 0.0)
    slot = (p & 1) ^ 1
    half = obj._codec.views[slot].reshape(-1)
    half[: half.size // 2] = -123.0  # a torn value in the unpublished slot
    locked.set()
    time.sleep(60)


def looping_writer(name: str, start: int, started: Any) -> None:
    """Assign uniform arrays start, start+1, ... until killed (bounded to 60 s)."""
    obj = SharedObject(name, create=False)
    started.set()
    stop = time.monotonic() + 60
    i = start
    while time.monotonic() < stop:
        obj.assign(np.full(obj._codec.shape, i, dtype=np.float64))
        i += 1


def waiter(name: str, timeout: float, ready: Any, out: Any) -> None:
    obj = SharedObject(name, create=False)
    ready.set()
    modified = obj.wait_modified(timeout=timeout)
    out.put((modified, obj.fetch() if modified else None))
    obj.close()


def fetch_pickled(obj: SharedObject, out: Any) -> None:
    """Receives a pickled handle: it must mount by name."""
    out.put(obj.fetch())
    obj.assign(obj.fetch() + 1)


def create_and_return(name: str, out: Any) -> None:
    """Create an object and end normally: the exit clean-up must unlink it."""
    SharedObject(name, data=np.arange(5))
    out.put(os.path.exists(f"/dev/shm/{name}"))


def create_and_hang(name: str, created: Any) -> None:
    """Create an object, signal, and wait to be killed (leaves a stale name)."""
    obj = SharedObject(name, data=1)  # noqa: F841  (kept alive until killed)
    created.set()
    time.sleep(60)


def hold_lock(name: str, locked: Any, release: Any) -> None:
    obj = SharedObject(name, create=False)
    obj._lock(10.0, 0.0)
    locked.set()
    release.wait(20)
    obj._unlock()
    obj.close()


def dynamic_fetch(name: str, out: Any) -> None:
    """Mount a dynamic object (mapping whatever size it has now) and send its value."""
    obj = SharedDynamicObject(name, create=False)
    out.put(obj.fetch())
    obj.close()


def interruptible_wait(name: str, ready: Any, out: Any) -> None:
    """Wait without a timeout; Ctrl-C (SIGINT) must still get through."""
    obj = SharedObject(name, create=False)
    ready.set()
    try:
        obj.wait_modified()
        out.put("returned")
    except KeyboardInterrupt:
        out.put("interrupted")
