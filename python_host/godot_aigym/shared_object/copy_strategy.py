"""Which copy the standby slot gets, chosen per array size for this machine's caches.

The mechanism is `_slotcopy.copy(dst, src, keep)`: all but the last `keep` bytes are
written with non-temporal (streaming) stores, `keep >= n` is a plain memcpy.  Which
is faster depends on the whole hierarchy, not on L2 alone (docs/SHARED_OBJECT_PERFORMANCE.md,
"Large arrays"): a writer that alternates between two slots touches 3n bytes per
assign where a raw copy touches 2n.

* 3n fits in L2: nothing to gain, plain memcpy.
* 3n exceeds half the L3 (the L3 is shared with the other cores and the readers):
  the slots cannot stay cached anywhere, so stream both, keeping an ordinary-store
  tail of each slot that fits in L2 beside the source.
* In between it depends on how fast the L3 is against streaming to memory and on how
  much of it this guest really gets (sysfs gives the host's: 480 MiB on a Xeon guest
  whose copies of 1.2 MB already run at memory speed), and on who else touches the
  slots.  So the three candidates of copy_choice.py (memcpy, slot 1 streamed, both
  streamed) are timed once per process and size class on private buffers (outside the
  writer lock, from `prepare`/`encode`) for a first guess, and a fixed array object
  then re-checks it on its own assigns (slot_tuner.SlotTuner), only as often as the
  losing copies' cost allows (<= 0.5% of assigns).

Cache sizes come from sysfs (`/sys/devices/system/cpu/cpu0/cache`), with `sysconf`
as the fallback: glibc's sysconf reports the L3 of the whole package on AMD EPYC
(256 MiB where one core's L3 is 32 MiB).
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import huge_pages
from .copy_choice import MEMCPY, STREAM, STREAM1, STREAM_MARGIN, choose  # noqa: F401 (STREAM_MARGIN: re-exported)
from .slot_tuner import SlotTuner
from .sync import slotcopy

CALIBRATE = "calibrate"
# Below this a copy is so short that neither the choice nor a calibration is worth it.
MIN_STREAM_BYTES = 64 * 1024
# Calibration: rounds of (2 warm-up copies, then TIMED copies) per candidate, interleaved;
# the candidates compare by the median of their per-round ratios (a 1.2 MB frame: 198
# copies of the three candidates, ~12 ms on an idle machine).  Not by each one's fastest round: that is the moment the
# other jobs left the L3 alone, which favours memcpy (on a loaded EPYC the 4.3 MB frame's
# fastest rounds chose memcpy, 2x the raw copy on the object's own assigns).
CALIBRATION_ROUNDS = 11
CALIBRATION_TIMED = 4
SYSFS_CACHE = Path("/sys/devices/system/cpu/cpu0/cache")


class Caches(NamedTuple):
    """Per-core L2 and the L3 shared by the cores, in bytes (0: unknown / none)."""

    l2: int
    l3: int


def _size(text: str) -> int:
    text = text.strip().upper()
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(text[:-1]) * units[text[-1]] if text[-1:] in units else int(text)


def caches_from_sysfs(root: Path = SYSFS_CACHE) -> Caches:
    """Unified/data L2 and L3 sizes of cpu0 from sysfs; zeros for what is not there."""
    found = {2: 0, 3: 0}
    for index in sorted(root.glob("index*")):
        try:
            level = int((index / "level").read_text())
            kind = (index / "type").read_text().strip()
            size = _size((index / "size").read_text())
        except (OSError, ValueError, IndexError):
            continue
        if level in found and kind in ("Unified", "Data"):
            found[level] = size
    return Caches(found[2], found[3])


def detect_caches() -> Caches:
    """This machine's caches: sysfs first, sysconf for what sysfs does not say."""
    l2, l3 = caches_from_sysfs()
    for level, name in ((2, "SC_LEVEL2_CACHE_SIZE"), (3, "SC_LEVEL3_CACHE_SIZE")):
        if (l2 if level == 2 else l3) == 0 and name in os.sysconf_names:
            try:
                value = max(0, os.sysconf(name))
            except (OSError, ValueError):
                value = 0
            l2, l3 = (value, l3) if level == 2 else (l2, value)
    return Caches(l2 if l2 >= MIN_STREAM_BYTES else 2 << 20, l3)


def stream_keep(n: int, caches: Caches) -> int:
    """Bytes at the end of a streamed slot written with ordinary stores: what still fits
    in L2 beside the source, (L2 - n) / 2, but at least L2/8 (measured on the 2 MiB-L2
    machine: this tail 1.02x the raw copy, L2/8 1.05x, none at all 1.3x)."""
    return max((caches.l2 - n) // 2, caches.l2 // 8, 0)


# A keep with this bit streams only slot 1 (slot_copy.h): slot 0 and the source stay cached
# (the raw copy's footprint, 2n), slot 1 goes to memory (copy_choice.STREAM1).
STREAM_SLOT1_ONLY = 1 << 62


def band_stream_keep(n: int, caches: Caches) -> int:
    """STREAM1's keep: slot 1 streamed (but for the L2 tail), slot 0 cached."""
    return stream_keep(n, caches) | STREAM_SLOT1_ONLY


def candidate_keeps(n: int, caches: Caches) -> dict[str, int]:
    """The `keep` of each candidate copy (copy_choice.py) for an n-byte slot."""
    return {MEMCPY: n, STREAM1: band_stream_keep(n, caches), STREAM: stream_keep(n, caches)}


def rule(n: int, caches: Caches, streaming: bool = True) -> str:
    """MEMCPY, STREAM, or CALIBRATE (the caches alone do not decide) for an n-byte slot copy."""
    if not streaming or n < MIN_STREAM_BYTES or 3 * n <= caches.l2:
        return MEMCPY
    if 3 * n > caches.l3 // 2:
        return STREAM
    return CALIBRATE


def time_candidates(n: int, keeps: dict[str, int], copy: Callable[..., None]) -> dict[str, float]:
    """Ns per copy of each candidate `keep` into two alternating private buffers: the first
    candidate's median round, the others' that times the median of their per-round ratios
    to it (a round's copies run within milliseconds of each other, so load that comes and
    goes cancels out of the ratio).

    Each round runs the candidates in a shuffled order, each after two untimed copies
    that bring the cache into that candidate's steady state (streaming evicts the
    slots a memcpy would find cached, so back-to-back timing would be unfair)."""
    src = np.frombuffer(os.urandom(min(n, 4096)) * (n // 4096 + 1), np.uint8, n)
    # Shared anonymous memory (tmpfs), on the slots' kind of page: huge pages where an object's
    # slots would be on them (huge_pages.py), else 4 KiB.
    huge = huge_pages.huge_page_size()
    stride = (n + huge - 1) & ~(huge - 1) if huge and n >= huge else n
    mapping = huge_pages.map_shared(-1, 2 * stride * len(keeps))
    pool = np.frombuffer(mapping, np.uint8)
    slots = {k: (pool[2 * i * stride : 2 * i * stride + n], pool[(2 * i + 1) * stride : (2 * i + 1) * stride + n])
             for i, k in enumerate(keeps)}
    for a, b in slots.values():
        a[:] = b[:] = 0  # pages faulted in, as an object's slots are at creation
        for slot in (a, b):
            huge_pages.collapse(mapping, slot.ctypes.data - pool.ctypes.data, n)
    times: dict[str, list[float]] = {k: [] for k in keeps}
    order = random.Random(n)  # not numpy.random: its first import costs ~0.1 s
    names = list(keeps)
    for _ in range(CALIBRATION_ROUNDS):
        order.shuffle(names)
        for name in names:
            a, b = slots[name]
            keep = keeps[name]
            copy(a, src, keep, False)
            copy(b, src, keep, True)
            t0 = time.perf_counter_ns()
            for i in range(CALIBRATION_TIMED):  # as an object copies: slot 1 backward
                copy(b if i & 1 else a, src, keep, i & 1)
            times[name].append((time.perf_counter_ns() - t0) / CALIBRATION_TIMED)
    del slots, pool, a, b, slot  # the mapping cannot close while views of it live
    huge_pages.close_mapping(mapping)
    first = next(iter(keeps))
    base = statistics.median(times[first])
    return {k: float(base * statistics.median(t / b for t, b in zip(v, times[first]))) for k, v in times.items()}


class CopyPlanner:
    """Chooses `keep` for each slot-copy size; calibrations are cached per size class
    (powers of two) for the life of the process."""

    def __init__(
        self,
        caches: Caches,
        streaming: bool,
        timer: Callable[..., dict[str, float]] | None = None,
        forced: str | None = None,
    ) -> None:
        if forced not in (None, MEMCPY, STREAM1, STREAM):
            raise ValueError(f"forced must be None, {MEMCPY!r}, {STREAM1!r} or {STREAM!r}, got {forced!r}")
        self.caches, self.streaming, self.forced = caches, streaming, forced
        self.timer = timer or (lambda n, keeps: time_candidates(n, keeps, slotcopy().copy))
        self.chosen: dict[int, str] = {}  # size class -> a candidate, from calibrations
        self.timings: dict[int, dict[str, float]] = {}

    def strategy(self, n: int) -> str:
        """MEMCPY, STREAM1 or STREAM for an n-byte copy, calibrating its size class on first sight."""
        if self.forced is not None and self.streaming and n >= MIN_STREAM_BYTES:
            return self.forced
        decided = rule(n, self.caches, self.streaming)
        if decided != CALIBRATE:
            return decided
        size_class = n.bit_length()
        choice = self.chosen.get(size_class)
        if choice is None:
            timings = self.timer(n, candidate_keeps(n, self.caches))
            choice = choose(timings)
            self.chosen[size_class], self.timings[size_class] = choice, timings
        return choice

    def keep(self, n: int) -> int:
        """The `keep` argument of `_slotcopy.copy` for an n-byte standby-slot copy."""
        return candidate_keeps(n, self.caches)[self.strategy(n)]

    def tuner(self, n: int) -> SlotTuner | None:
        """A tuner for an object that copies n bytes per assign, where the caches alone do
        not decide (None elsewhere, and when a strategy is forced)."""
        if self.forced is not None or rule(n, self.caches, self.streaming) != CALIBRATE:
            return None
        choice = self.strategy(n)
        return SlotTuner(candidate_keeps(n, self.caches), choice, self.timings.get(n.bit_length()))


_planner: CopyPlanner | None = None


def planner() -> CopyPlanner:
    """This process's planner (cache sizes detected once)."""
    global _planner
    if _planner is None:
        _planner = CopyPlanner(detect_caches(), bool(slotcopy().STREAMING))
    return _planner


def keep_bytes(n: int) -> int:
    """`keep` for an n-byte standby-slot copy on this machine (may calibrate on first sight
    of a size class: call it outside the writer lock)."""
    return n if n < MIN_STREAM_BYTES else planner().keep(n)


@contextmanager
def forced(strategy: str) -> Iterator[CopyPlanner]:
    """Within the block, arrays of MIN_STREAM_BYTES and more get `strategy` (MEMCPY, STREAM1
    or STREAM) in this process and in children forked meanwhile - for tests and benchmarks.
    An object keeps the copy chosen at its first assign."""
    global _planner
    saved = planner()
    _planner = CopyPlanner(saved.caches, saved.streaming, forced=strategy)
    try:
        yield _planner
    finally:
        _planner = saved
