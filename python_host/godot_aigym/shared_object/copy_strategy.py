"""Which copy the standby slot gets, chosen per array size for this machine's caches.

The mechanism is `_slotcopy.copy(dst, src, keep)`: all but the last `keep` bytes are
written with non-temporal (streaming) stores, `keep >= n` is a plain memcpy.  Which
is faster depends on the whole hierarchy, not on L2 alone (docs/SHARED_OBJECT_PERFORMANCE.md,
"Large arrays"): a writer that alternates between two slots touches 3n bytes per
assign where a raw copy touches 2n.

* 3n fits in L2: nothing to gain, plain memcpy.
* 3n exceeds half the L3 (the L3 is shared with the other cores and the readers):
  the slots cannot stay cached anywhere, so stream, keeping an ordinary-store tail
  of each slot that fits in L2 beside the source.
* In between it depends on how fast the L3 is against streaming to memory (a
  512 KiB-L2 / 32 MiB-L3 EPYC keeps the frame's slots in L3 and plain memcpy wins;
  the 2 MiB-L2 machine streamed a 1.2 MB frame at 1.05x the raw copy where memcpy
  took 1.25x) and on who else touches the slots (a reader process fetching every
  frame favours streaming).  So both copies are timed once per process and size
  class on private buffers (outside the writer lock, from `prepare`/`encode`) for a
  first guess, and a fixed array object then re-checks it on its own assigns
  (`SlotTuner`), only as often as the losing copy's cost allows (<= 0.5% of assigns).
  Streaming must be >= 5% faster to be chosen.

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
from typing import Any, NamedTuple

import numpy as np

from . import huge_pages
from .sync import slotcopy

MEMCPY, STREAM, CALIBRATE = "memcpy", "stream", "calibrate"
# Below this a copy is so short that neither the choice nor a calibration is worth it.
MIN_STREAM_BYTES = 64 * 1024
# Calibration: rounds of (2 warm-up copies, then TIMED copies) per candidate, interleaved;
# the candidates compare by the median of their per-round ratios (a frame: 132 copies,
# ~7 ms on an idle machine).  Not by each one's fastest round: that is the moment the
# other jobs left the L3 alone, which favours memcpy (on a loaded EPYC the 4.3 MB frame's
# fastest rounds chose memcpy, 2x the raw copy on the object's own assigns).
CALIBRATION_ROUNDS = 11
CALIBRATION_TIMED = 4
# Streaming must beat memcpy by this factor to be chosen: memcpy is what a raw copy does,
# and where streaming loses it loses a lot (1.4-1.6x the raw copy on the 32 MiB-L3 EPYC).
STREAM_MARGIN = 0.95
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
# (the raw copy's footprint, 2n), slot 1 goes to memory. Streaming chosen by timing means the
# caches hold 2n but not 3n, so there it streams one slot, not both ("Large arrays").
STREAM_SLOT1_ONLY = 1 << 62


def band_stream_keep(n: int, caches: Caches) -> int:
    """The streamed copy's keep where the timing decides: slot 1 streamed, slot 0 cached."""
    return stream_keep(n, caches) | STREAM_SLOT1_ONLY


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
        if forced not in (None, MEMCPY, STREAM):
            raise ValueError(f"forced must be None, {MEMCPY!r} or {STREAM!r}, got {forced!r}")
        self.caches, self.streaming, self.forced = caches, streaming, forced
        self.timer = timer or (lambda n, keeps: time_candidates(n, keeps, slotcopy().copy))
        self.chosen: dict[int, str] = {}  # size class -> MEMCPY | STREAM, from calibrations
        self.timings: dict[int, dict[str, float]] = {}

    def strategy(self, n: int) -> str:
        """MEMCPY or STREAM for an n-byte copy, calibrating its size class on first sight."""
        if self.forced is not None and self.streaming and n >= MIN_STREAM_BYTES:
            return self.forced
        decided = rule(n, self.caches, self.streaming)
        if decided != CALIBRATE:
            return decided
        size_class = n.bit_length()
        choice = self.chosen.get(size_class)
        if choice is None:
            timings = self.timer(n, {MEMCPY: n, STREAM: band_stream_keep(n, self.caches)})
            choice = STREAM if timings[STREAM] < STREAM_MARGIN * timings[MEMCPY] else MEMCPY
            self.chosen[size_class], self.timings[size_class] = choice, timings
        return choice

    def keep(self, n: int) -> int:
        """The `keep` argument of `_slotcopy.copy` for an n-byte standby-slot copy."""
        if self.strategy(n) != STREAM:
            return n
        banded = self.forced is None and rule(n, self.caches, self.streaming) == CALIBRATE
        return band_stream_keep(n, self.caches) if banded else stream_keep(n, self.caches)

    def tuner(self, n: int) -> SlotTuner | None:
        """A tuner for an object that copies n bytes per assign, where the caches alone do
        not decide (None elsewhere, and when a strategy is forced)."""
        if self.forced is not None or rule(n, self.caches, self.streaming) != CALIBRATE:
            return None
        choice = self.strategy(n)
        return SlotTuner({MEMCPY: n, STREAM: band_stream_keep(n, self.caches)}, choice, self.timings.get(n.bit_length()))


class SlotTuner:
    """Re-checks the choice on one object's own assigns, where the readers, the other jobs
    and the page placement are the real ones (with a reader process fetching every frame
    the 32 MiB-L3 EPYC measured streaming ~8% ahead in median, level in the lower quartile).

    An exploration runs BLOCKS blocks of BLOCK assigns per strategy, alternating, and
    times every copy but the first SETTLE of a block (switching strategy leaves the slots
    in the other one's cache state) in PAIRS of consecutive copies, one into each slot:
    the streamed candidate streams slot 1 only, so its copies alternate between fast
    (slot 0, cached) and slow (slot 1, to memory); a lower quartile of single copies
    picked the slot-0 ones, saw a tie where streaming was ~1.25x slower, and explored
    every FIRST assigns (the (480, 848, 3) frame: 1.15x the raw copy, 1.04x with memcpy
    forced).  The lower of the lower quartiles of the pairs wins (on a busy machine the
    median followed the other jobs and flip-flopped; streaming by STREAM_MARGIN).  Then
    `quiet` assigns go untimed until the next exploration.

    Exploring costs what the losing copy loses: its BLOCKS * BLOCK copies, each (r - 1)
    times slower, r = loser / winner, and the first copies after it (the slots are in the
    loser's cache state).  So the quiet interval is sized to keep the first part below
    EXPLORE_BUDGET of the assigns, within [FIRST, LONGEST]: near a tie the tuner looks
    every FIRST assigns, where memcpy beats streaming by 1.5x (the 32 MiB-L3 EPYC) every
    ~3200.  (At 1% the frame's object measured 1.06x where the same object with memcpy
    forced measured 1.02x, over ~1300 assigns: the first interval comes from the first
    guess, which underrates the loss.)  (Looking every 256, 512, ... 2048 assigns whatever the ratio cost the frame ~5%
    there.)  An object's C Writer makes the exploring copies too (timed in C, `pending_keeps`):
    on the Python path (~1.5 us more per assign) exploring every 256 assigns cost a 0.3 MB
    array near a tie ~10%; now one assign per exploration takes it.  The first interval comes
    from the process's first-guess timing, so a fresh object does not start by exploring."""

    BLOCK, SETTLE, BLOCKS = 8, 2, 4  # BLOCK - SETTLE even: the timed copies make whole pairs
    FIRST, LONGEST = 256, 16384
    EXPLORE_BUDGET = 0.005

    def __init__(
        self, keeps: dict[str, int], first: str, guess: dict[str, float] | None = None, counter: Any = None
    ) -> None:
        # `keep` and `quiet` live in `counter`: an object's C Writer, which copies and counts
        # the quiet assigns itself (its `keep`, `budget`); a plain holder otherwise.
        self.counter = counter if counter is not None else _Counter()
        self.keeps, self.choice, self.keep = keeps, first, keeps[first]
        self.timings: dict[str, float] = {}  # of the last exploration: lower quartile of pairs, ns per copy
        self.samples: dict[str, list[int]] | None = None  # of the exploration under way: ns per pair
        self.pair_first = 0  # ns of the first copy of the pair under way
        self.explorations = 0
        if guess:
            self.interval = self.quiet = self.next_interval(guess)
        else:
            self.interval = 0
            self._explore()

    @property
    def keep(self) -> int:
        """The `keep` of the next copy."""
        return self.counter.keep

    @keep.setter
    def keep(self, value: int) -> None:
        self.counter.keep = value

    @property
    def quiet(self) -> int:
        """Untimed assigns left before the next exploration (0: exploring)."""
        return self.counter.budget

    @quiet.setter
    def quiet(self, value: int) -> None:
        self.counter.budget = value

    @property
    def exploring(self) -> bool:
        return self.quiet == 0

    def pending_keeps(self) -> tuple[int, ...]:
        """The keeps of the exploration's copies still to make, in order: the rest of the one
        under way, or a whole next one (what an object's Writer runs, timed, after `quiet`)."""
        if self.samples is None:
            other = STREAM if self.choice == MEMCPY else MEMCPY
            return tuple(self.keeps[k] for k in [self.choice, other] * self.BLOCKS for _ in range(self.BLOCK))
        rest = [self.keeps[self.current]] * (self.BLOCK - self.count)
        return tuple(rest + [self.keeps[k] for k in self.schedule for _ in range(self.BLOCK)])

    def attach(self, counter: Any) -> None:
        """Move `keep` and the quiet count into `counter` (an object's C Writer)."""
        counter.keep, counter.budget = self.keep, self.quiet
        self.counter = counter

    def next_interval(self, timings: dict[str, float]) -> int:
        """Untimed assigns until the next exploration, given the two copies' times."""
        other = STREAM if self.choice == MEMCPY else MEMCPY
        loss = timings[other] / max(timings[self.choice], 1.0) - 1.0
        wanted = self.BLOCKS * self.BLOCK * loss / self.EXPLORE_BUDGET
        return int(round(min(max(wanted, self.FIRST), self.LONGEST)))

    def _explore(self) -> None:
        other = STREAM if self.choice == MEMCPY else MEMCPY
        self.schedule = [self.choice, other] * self.BLOCKS
        self.samples = {MEMCPY: [], STREAM: []}
        self.current, self.count, self.quiet = self.schedule.pop(0), 0, 0
        self.keep = self.keeps[self.current]

    def untimed(self) -> None:
        """Account one copy made outside an exploration (with `self.keep`)."""
        self.quiet -= 1
        if self.quiet == 0:
            self._explore()

    def record(self, ns: int) -> None:
        """Account one timed copy of an exploration, made with `self.keep`; moves
        `self.keep` on for the next copy."""
        if self.samples is None:  # the Writer ran the quiet count down: this copy opens one
            self._explore()  # (its first block is the current choice: the copy just made)
        self.count += 1
        if self.count > self.SETTLE:
            if (self.count - self.SETTLE) % 2:
                self.pair_first = ns
            else:  # one copy into each slot (assigns alternate between them)
                self.samples[self.current].append(self.pair_first + ns)
        if self.count < self.BLOCK:
            return
        self.count = 0
        if self.schedule:
            self.current = self.schedule.pop(0)
        else:
            # the lower quartile: other jobs only ever add time, and bursts of it hit one block
            self.timings = {k: float(statistics.quantiles(v, n=4)[0]) / 2 for k, v in self.samples.items()}
            fast_stream = self.timings[STREAM] < STREAM_MARGIN * self.timings[MEMCPY]
            self.choice = self.current = STREAM if fast_stream else MEMCPY
            self.explorations += 1
            self.interval = self.quiet = self.next_interval(self.timings)
            self.samples = None
        self.keep = self.keeps[self.current]


class _Counter:
    """A tuner's `keep` and quiet count when no C Writer holds them."""

    __slots__ = ("keep", "budget")

    def __init__(self) -> None:
        self.keep, self.budget = 0, 0


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
    """Within the block, arrays of MIN_STREAM_BYTES and more get `strategy` (MEMCPY or
    STREAM) in this process and in children forked meanwhile - for tests and benchmarks.
    An object keeps the copy chosen at its first assign."""
    global _planner
    saved = planner()
    _planner = CopyPlanner(saved.caches, saved.streaming, forced=strategy)
    try:
        yield _planner
    finally:
        _planner = saved
