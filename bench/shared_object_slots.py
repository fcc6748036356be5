"""Where a large assign's time goes: each slot's copy timed on its own, beside the raw copy.

    .venv/bin/python bench/shared_object_slots.py [--shape 900,1600,3] [--rounds 25]

A SharedObject writer alternates between two slots (a writer killed mid-copy must leave the
published value intact, so the next value goes to the other slot), so repeated assigns touch the
source and both slots, 3n bytes, where a raw copy into one buffer touches 2n. This times, per copy
and per slot, interleaved in a shuffled order every round (docs/SHARED_OBJECT_PERFORMANCE.md,
"Sixth pass"):

* raw: np.copyto into one buffer of the slots' kind of memory (shared, 4 KiB pages), as the
  benchmark's baseline; "raw after idle": the same copy after the CPU idled as long as a streamed
  slot copy takes (what the other tenants of a shared L3 take from lines left alone meanwhile);
* the standby-slot copies of `_slotcopy.copy` into two alternating slots on the slots' pages
  (huge pages where the kernel gives them, as an object's large slots): both with ordinary stores
  (`memcpy`); slot 1 streamed (the candidate `copy_strategy` times where the caches do not
  decide); both slots half streamed (the same cached footprint, 2n, with the memory writes split
  evenly between the assigns).

Slot 0 is copied forward, slot 1 backward, as an object copies. Prints medians [p10-p90] in us of
each slot's copy and the median of the per-round ratios of a pair's mean to the raw copy's.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python_host"))

from godot_aigym.shared_object import copy_strategy, huge_pages  # noqa: E402
from godot_aigym.shared_object.sync import slotcopy  # noqa: E402

WARM, TIMED = 3, 4  # pairs per candidate and round: untimed (the cache settles), then timed


def buffers(count: int, n: int, huge: bool) -> tuple[object, list[np.ndarray]]:
    """`count` n-byte buffers of shared memory, written once (faulted in, as an object's slots at
    creation); on huge pages (each at a huge-page-aligned offset) if `huge` and the kernel agrees."""
    page = huge_pages.huge_page_size() if huge else 0
    stride = (n + page - 1) & ~(page - 1) if page and n >= page else n
    mapping = huge_pages.map_shared(-1, count * stride)
    pool = np.frombuffer(mapping, np.uint8)
    views = [pool[i * stride : i * stride + n] for i in range(count)]
    for view in views:
        view[:] = 1
        if huge:
            huge_pages.collapse(mapping, view.ctypes.data - pool.ctypes.data, n)
    return mapping, views


def spin_us(us: float) -> None:
    end = time.perf_counter_ns() + int(us * 1000)
    while time.perf_counter_ns() < end:
        pass


class Candidates:
    """name -> copy(slot) for slot 0 and 1 (the raw ones ignore the slot), and what runs untimed
    before a copy (`before`: the idle gap of "raw after idle")."""

    def __init__(self, n: int) -> None:
        copy = slotcopy().copy
        caches = copy_strategy.detect_caches()
        src = np.random.default_rng(0).integers(0, 255, n, dtype=np.uint8)
        self.idle_us = 0.0
        self.mappings: list[object] = []  # alive as long as the views
        raw = self._buffers(1, n, huge=False)[0]
        self.copies: dict[str, Callable[[int], None]] = {
            "raw copy": lambda slot: np.copyto(raw, src),
            "raw after idle": lambda slot: np.copyto(raw, src),
        }
        keeps = {
            "memcpy, both slots": n,
            "slot 1 streamed": copy_strategy.band_stream_keep(n, caches),
            "both streamed": copy_strategy.stream_keep(n, caches),
            "both half streamed": (n // 2) & ~4095,
        }
        for name, keep in keeps.items():
            slots = self._buffers(2, n, huge=True)
            self.copies[name] = lambda slot, k=keep, s=slots: copy(s[slot], src, k, bool(slot))

    def before(self, name: str, slot: int) -> None:
        if name == "raw after idle" and slot:
            spin_us(self.idle_us)

    def _buffers(self, count: int, n: int, huge: bool) -> list[np.ndarray]:
        mapping, views = buffers(count, n, huge)
        self.mappings.append(mapping)
        return views


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="900,1600,3", help="uint8 array shape, comma-separated")
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args()
    n = int(np.prod([int(x) for x in args.shape.split(",")]))
    cands = Candidates(n)
    times: dict[str, list[list[float]]] = {k: [[], []] for k in cands.copies}
    rounds: dict[str, list[float]] = {k: [] for k in cands.copies}
    order, names = random.Random(n), list(cands.copies)
    for _ in range(args.rounds):
        order.shuffle(names)
        for name in names:
            run = cands.copies[name]
            for _ in range(WARM):
                for slot in (0, 1):
                    cands.before(name, slot)
                    run(slot)
            pair = []
            for _ in range(TIMED):
                for slot in (0, 1):
                    cands.before(name, slot)
                    t0 = time.perf_counter_ns()
                    run(slot)
                    t = (time.perf_counter_ns() - t0) / 1000
                    times[name][slot].append(t)
                    pair.append(t)
            rounds[name].append(statistics.mean(pair))
        cands.idle_us = statistics.median(times["slot 1 streamed"][1])  # one streamed copy, so far
    caches = copy_strategy.detect_caches()
    print(f"{n} bytes, L2 {caches.l2 >> 10} KiB, L3 {caches.l3 >> 20} MiB, {args.rounds} rounds x {TIMED} pairs")
    base = rounds["raw copy"]
    for name in cands.copies:
        cells = []
        for slot in (0, 1):
            v = times[name][slot]
            q = statistics.quantiles(v, n=10)
            cells.append(f"slot {slot} {statistics.median(v):7.1f} [{q[0]:.1f}-{q[-1]:.1f}]")
        ratio = statistics.median(r / b for r, b in zip(rounds[name], base))
        print(f"{name:28s} {'   '.join(cells)}   pair {ratio:.3f}x raw")
    print(f"(raw after idle: slot 1 is the copy after {cands.idle_us:.0f} us of spinning; slot 0 is back-to-back)")


if __name__ == "__main__":
    main()
