"""How `GodotAsyncVectorEnv` waits for its engines' answers: `AsyncAnswerWaits`, its base class.

`recv` polls the engines in flight round-robin from the one after the engine it returned last (a
fast engine cannot starve the others); when too few have answered it sleeps until the first of
them posts (`shm.semaphore.wait_any`: futex_waitv on their answer semaphores, GIL released) and
polls again; after 0.1 s without an answer, or without futex_waitv, it hands them to their waiter
threads (one per engine: it waits for the answer with the GIL released, watching for the engine's
death and the step timeout, and queues its index) and blocks until one reports. An engine is
polled or waited for by one thread at a time.

The state these methods share lives on the env (set up in its ``__init__``): ``links``,
``n_engines``, ``fast_wait``, ``_answers`` (each engine's answer semaphore), ``_in_flight``,
``_waiting``, ``_sent_ns``, ``_answered``, ``_next``, ``_inboxes``, ``_ready``; the env provides
``_batch`` (answers to a step's arrays) and ``_fail`` (close everything after a failure).
"""

from __future__ import annotations

import time

from ..shm.semaphore import wait_any
from .link import EngineLink


class AsyncAnswerWaits:
    """The answer-collecting half of `GodotAsyncVectorEnv` (a base class: one responsibility per
    file; the env's commands, batching and lifetime stay in async_vector_env.py)."""

    FAST_SLICE = 0.1  # seconds recv waits in its own thread before handing the engines to their waiters
    _FAST_SLICE_NS = int(FAST_SLICE * 1e9)  # also: the longest an engine stays in flight unwatched

    def _wait_for_answers(self, k: int, link: EngineLink) -> None:
        """Engine k's waiter: for every command sent, wait for its answer and queue k (or the
        error). Touches nothing but the link's wait: the caller's thread owns everything else."""
        inbox, ready = self._inboxes[k], self._ready
        while inbox.get() is not None:
            try:
                link.receive(report=False)
            except BaseException as e:  # EngineDiedError / EngineTimeoutError: the link closed itself
                ready.put((k, e))
                return
            ready.put((k, None))

    def _first_answer(self) -> int | None:
        """`_collect(1)` in the fewest calls (a rendering engine's CPU runs them, caches cold): the
        first engine in flight that answered (polled from `_next`, else after wait_any), taken;
        None when `_collect` must: nothing in flight, answers or waiters about, one overdue, a slice
        without an answer, or no futex_waitv."""
        in_flight, m = self._in_flight, self.n_engines
        if self._answered or True in self._waiting or True not in in_flight or not self.fast_wait:
            return None
        now, sent, late = time.monotonic_ns(), self._sent_ns, self._FAST_SLICE_NS
        for k in range(m):
            if in_flight[k] and now - sent[k] > late:
                return None  # overdue: _collect hands it to its waiter, the watcher of death and timeout
        sems, start = self._answers, self._next
        while True:
            for j in range(m):
                k = start + j - m if start + j >= m else start + j
                if in_flight[k] and sems[k].try_wait():
                    in_flight[k] = False
                    self._next = k + 1 if k + 1 < m else 0
                    return k
            if not self._wait_first():
                return None  # a slice without an answer: _collect hands the engines to their waiters

    def _wait_first(self) -> bool:
        """Sleep until an engine in flight may have answered; False: a slice passed without one."""
        try:
            return wait_any([self._answers[k] for k in range(self.n_engines) if self._in_flight[k]], self.FAST_SLICE)
        except Exception as e:  # a corrupted semaphore, a chunk closed meanwhile: as a waiter's failure
            self._fail(e)
            raise

    def _collect(self, count: int):
        """Wait for ``count`` engines' answers (those already in first) and batch them."""
        pending = len(self._answered) + sum(self._in_flight)
        if pending < count:
            raise RuntimeError(f"recv() needs answers from {count} engine(s) but only {pending} have a command "
                               "pending: send() first")
        self._poll()  # answers already in first (also after a long pause between recv calls)
        self._watch_overdue()
        self._take_reports()  # what the waiters reported meanwhile (a failure raises)
        fast = self.fast_wait and not any(self._waiting)
        while len(self._answered) < count:
            if fast:  # wait for the first of the engines in flight here (a wake-up, not three)
                if self._watch_overdue():
                    fast = False
                    continue
                fast = self._wait_first()
                self._poll()
                continue  # a slice without an answer: the waiters, who watch for deaths and timeouts
            for k in range(self.n_engines):  # hand the engines in flight to their waiters
                if self._in_flight[k] and not self._waiting[k]:
                    self._waiting[k] = True
                    self._inboxes[k].put(True)
            self._take(*self._ready.get())  # blocks (GIL released) until a waiter reports
            self._take_reports()
            self._poll()
        engines, self._answered = self._answered[:count], self._answered[count:]
        self._next = (engines[-1] + 1) % self.n_engines
        for k in engines:
            if self.links[k].errors_pending:
                self.links[k].report_errors(stacklevel=4)  # GodotScriptError or a warning (engine_errors)
        return self._batch(engines)

    def _watch_overdue(self) -> bool:
        """Hand every engine in flight for longer than a slice to its waiter, the only watcher of
        death and step_timeout: with a batch smaller than the env, recv() can go on returning other
        engines' answers, and a dead or hung engine must still surface. True if any was handed."""
        now, handed = time.monotonic_ns(), False
        for k in range(self.n_engines):
            if self._in_flight[k] and not self._waiting[k] and now - self._sent_ns[k] > self._FAST_SLICE_NS:
                self._waiting[k] = handed = True
                self._inboxes[k].put(True)
        return handed

    def _poll(self) -> None:
        """Take the answers already in from the engines in flight that no waiter waits for,
        round-robin from `_next`."""
        m, in_flight, waiting = self.n_engines, self._in_flight, self._waiting
        for j in range(m):
            k = (self._next + j) % m
            if in_flight[k] and not waiting[k] and self.links[k].try_receive() is not None:
                self._in_flight[k] = False
                self._answered.append(k)

    def _take_reports(self) -> None:
        """Every waiter report already queued (without waiting)."""
        while not self._ready.empty():
            self._take(*self._ready.get())

    def _take(self, k: int, error: BaseException | None) -> None:
        """A waiter's report: engine k answered, or failed (then everything is closed)."""
        self._in_flight[k] = self._waiting[k] = False
        if error is not None:
            self._fail(error)
            raise error
        self._answered.append(k)
