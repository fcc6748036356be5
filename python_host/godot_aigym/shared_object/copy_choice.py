"""The standby-slot copies a SharedObject chooses among, and the choice from their timings.

Three candidates (docs/SHARED_OBJECT_PERFORMANCE.md, "Large arrays"), by how much of the 3n
bytes a writer's assigns touch (source, two slots) stays in its caches:

* MEMCPY: ordinary stores into both slots (3n cached), what a raw copy does;
* STREAM1: slot 1 streamed, slot 0 ordinary (2n cached, the raw copy's footprint);
* STREAM: both slots streamed but for a tail that fits in L2 (about n cached).

Which is fastest depends on every cache level and on how much of the L3 a guest really
gets: a 512 KiB-L2 / 32 MiB-L3 EPYC keeps a 1.2 MB frame's slots in L3 (MEMCPY; STREAM
1.4-1.6x the raw copy), a 4.3 MB frame there wants STREAM1 (1.15x, STREAM 1.25x, MEMCPY
1.33x), and a 2 MiB-L2 Xeon whose sysfs says 480 MiB of L3 streams the 1.2 MB frame's both
slots fastest (0.90x, STREAM1 0.98x, MEMCPY 1.12x).  So where the cache sizes do not decide,
all three are timed (copy_strategy.time_candidates, then SlotTuner on the object's own
assigns) and `choose` picks.
"""

from __future__ import annotations

MEMCPY, STREAM1, STREAM = "memcpy", "stream1", "stream"  # stream1: slot 1 streamed
FOOTPRINT = (STREAM, STREAM1, MEMCPY)  # smallest cached footprint first
# A candidate that caches more must beat one that caches less by this factor to be chosen.
# Timings are taken where nothing else competes for the cache (private buffers; blocks of
# consecutive copies, whose dirty lines the next candidate writes back), and whatever else
# uses it (readers, the application, other objects) only ever takes from it: on the Xeon
# guest a 9.8 MB array's three copies timed level in the first guess (678 / 679 / 691 us)
# and in the object's first look (653 / 654 / 657) while memcpy ran 1.22x slower than both
# slots streamed beside the benchmark's other buffers.  Where a bigger footprint pays it
# pays clearly (the 1.2 MB frame on the 32 MiB-L3 EPYC: memcpy 1.13-1.26x ahead).
STREAM_MARGIN = 0.95


def choose(timings: dict[str, float]) -> str:
    """The candidate to copy with, from ns per copy (any subset of the three): the one of
    smallest footprint within STREAM_MARGIN of the fastest."""
    fastest = min(timings.values())
    return next(k for k in FOOTPRINT if k in timings and STREAM_MARGIN * timings[k] <= fastest)


def exploring_loss(timings: dict[str, float], choice: str) -> float:
    """Per copy of each candidate, what the other candidates cost more than `choice`, summed
    (an exploration copies with every candidate; faster ones within the margin cost nothing)."""
    base = max(timings[choice], 1.0)
    return sum(max(t / base - 1.0, 0.0) for k, t in timings.items() if k != choice)
