"""SlotTuner: a fixed array object re-checks its standby-slot copy on its own assigns.

copy_strategy.py gives a first guess, timed once per process on private buffers; this is where
the readers, the other jobs and the page placement are the real ones (with a reader process
fetching every frame the 32 MiB-L3 EPYC measured streaming ~8% ahead in median, level in the
lower quartile).  The candidates and the choice among their timings are copy_choice.py's.
"""

from __future__ import annotations

import statistics
from typing import Any

from .copy_choice import choose, exploring_loss


class SlotTuner:
    """An exploration runs BLOCKS rounds of one BLOCK of assigns per candidate, in turn, and
    times every copy but the first SETTLE of a block (switching candidate leaves the slots
    in the other one's cache state) in PAIRS of consecutive copies, one into each slot:
    the slot-1 streamed candidate's copies alternate between fast (slot 0, cached) and slow
    (slot 1, to memory); a lower quartile of single copies picked the slot-0 ones, saw a
    tie where streaming was ~1.25x slower, and explored every FIRST assigns (the
    (480, 848, 3) frame: 1.15x the raw copy, 1.04x with memcpy forced).  Each candidate's
    lower quartile of pairs is its time (on a busy machine the median followed the other
    jobs and flip-flopped) and `copy_choice.choose` picks.  Then `quiet` assigns go untimed
    until the next exploration.

    Exploring costs what the losing copies lose: BLOCKS * BLOCK copies of each, (r - 1)
    times slower, r = loser / winner, and the first copies after it (the slots are in the
    loser's cache state).  So the quiet interval is sized to keep the first part below
    EXPLORE_BUDGET of the assigns, within [FIRST, LONGEST]: near a tie the tuner looks
    every FIRST assigns, where memcpy beats streaming by 1.5x (the 32 MiB-L3 EPYC) every
    few thousand.  (At 1% the frame's object measured 1.06x where the same object with
    memcpy forced measured 1.02x, over ~1300 assigns.)  An object's C Writer makes the
    exploring copies too (timed in C, `pending_keeps`): on the Python path (~1.5 us more
    per assign) exploring every 256 assigns cost a 0.3 MB array near a tie ~10%.  The first
    interval comes from the process's first-guess timing, so a fresh object does not start
    by exploring, and by the same budget, within [FIRST_LOOK, LONGEST]: where the guess saw
    a tie, looking is cheap and the guess is the least sure (private buffers, no readers, no
    other objects: on the 2 MiB-L2 Xeon guest it timed a 9.8 MB array's memcpy level with
    streaming, 0.68 ms, where the object's own memcpy took 0.87 ms and streaming 0.69), so
    the object looks after FIRST_LOOK assigns instead of FIRST.  That first look, a check on
    the guess, runs FIRST_BLOCKS rounds, not BLOCKS (half the cost, so by the same budget it
    comes twice as early); the later ones, BLOCKS, correct what it got wrong."""

    BLOCK, SETTLE, BLOCKS, FIRST_BLOCKS = 8, 2, 4, 2  # BLOCK - SETTLE even: the timed copies make whole pairs
    FIRST_LOOK, FIRST, LONGEST = 32, 256, 16384
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
            self.blocks = self.FIRST_BLOCKS  # of the next exploration
            self.interval = self.quiet = self.next_interval(guess, self.FIRST_LOOK)
        else:
            self.blocks = self.BLOCKS
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

    @property
    def exploration_copies(self) -> int:
        """Copies of the next (or current) exploration: a BLOCK per candidate and round."""
        return len(self.keeps) * self.blocks * self.BLOCK

    def _rounds(self) -> list[str]:
        """The candidates' blocks of an exploration, in order: the current choice first."""
        return [self.choice, *(k for k in self.keeps if k != self.choice)] * self.blocks

    def pending_keeps(self) -> tuple[int, ...]:
        """The keeps of the exploration's copies still to make, in order: the rest of the one
        under way, or a whole next one (what an object's Writer runs, timed, after `quiet`)."""
        if self.samples is None:
            return tuple(self.keeps[k] for k in self._rounds() for _ in range(self.BLOCK))
        rest = [self.keeps[self.current]] * (self.BLOCK - self.count)
        return tuple(rest + [self.keeps[k] for k in self.schedule for _ in range(self.BLOCK)])

    def attach(self, counter: Any) -> None:
        """Move `keep` and the quiet count into `counter` (an object's C Writer)."""
        counter.keep, counter.budget = self.keep, self.quiet
        self.counter = counter

    def next_interval(self, timings: dict[str, float], shortest: int | None = None) -> int:
        """Untimed assigns until the next exploration, given the candidates' times (at least
        `shortest`, FIRST unless given)."""
        wanted = self.blocks * self.BLOCK * exploring_loss(timings, self.choice) / self.EXPLORE_BUDGET
        return int(round(min(max(wanted, self.FIRST if shortest is None else shortest), self.LONGEST)))

    def _explore(self) -> None:
        self.schedule = self._rounds()
        self.samples = {k: [] for k in self.keeps}
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
            self.choice = self.current = choose(self.timings)
            self.explorations += 1
            self.blocks = self.BLOCKS  # the next is a full one
            self.interval = self.quiet = self.next_interval(self.timings)
            self.samples = None
        self.keep = self.keeps[self.current]


class _Counter:
    """A tuner's `keep` and quiet count when no C Writer holds them."""

    __slots__ = ("keep", "budget")

    def __init__(self) -> None:
        self.keep, self.budget = 0, 0
