"""Which CPUs a new engine runs on (``cpus=``), given the engines this process already runs."""

from __future__ import annotations

import os
import weakref
from typing import Any

from ..engine import check_cpus

PINNED_SPIN_US = 1000  # both sides spin this long when the engine has a CPU of its own

# live EngineLinks (anything with `.cpus` and `.closed`): what "auto" balances against
_running: "weakref.WeakSet[Any]" = weakref.WeakSet()


def spin_budgets(n_engines: int, pinned: bool, spin_us: float | None = None, engine_spin_us: int | None = None,
                 usable: int | None = None, cpus: set[int] | None = None) -> tuple[float | None, int | None]:
    """(host spin_us, engine --spin-us) for one engine (on ``cpus``) of an env of ``n_engines``
    engines and one host thread.

    Every waiter that spins keeps a CPU busy, so spinning only pays while it does not take the
    CPU of the peer that must answer. With ``n_engines + 1`` waiters (the host and its engines)
    and ``usable`` CPUs (``os.sched_getaffinity``: the CPUs we may actually run on, not the
    machine's count):
      * one CPU: nobody spins (0, 0) -- the peer can only answer once we give the CPU up;
      * a CPU for everyone (``n_engines < usable``), engine pinned: PINNED_SPIN_US on both
        sides (a blocking wake-up across CPUs costs ~55 us, more than a whole physics step);
      * one waiter too many (``n_engines == usable``, engines pinned one per CPU by "auto",
        the host's CPU last): the engine on the host's CPU (`host_cpu`) and the host, waiting
        for it, both block at once (0, 0) -- they hand that CPU to each other with same-CPU
        wake-ups, which are cheap -- while every other engine has its CPU to itself and
        spins with the host (PINNED_SPIN_US). The vector env sends to the spinning engines
        first and waits for the blocking one first (`engine_links.send_order/wait_order`);
      * more engines than CPUs: as with a CPU for everyone (not measured otherwise);
      * unpinned: None, the module defaults (host AIGYM_SPIN_US, engine 50 us).
    Values the user passed (``spin_us`` / ``engine_spin_us`` not None) are kept as they are.
    """
    allowed = os.sched_getaffinity(0)
    usable = len(allowed) if usable is None else usable
    host: float | None = float(PINNED_SPIN_US) if pinned else None
    engine: int | None = PINNED_SPIN_US if pinned else None
    if usable < 2:
        host, engine = 0.0, 0
    elif pinned and n_engines == usable and cpus is not None and set(cpus) == {host_cpu(allowed)}:
        host, engine = 0.0, 0
    return (host if spin_us is None else spin_us, engine if engine_spin_us is None else engine_spin_us)


def host_cpu(allowed: set[int] | None = None) -> int:
    """The CPU the host is expected to run on: the one "auto" gives an engine last (the lowest)."""
    return min(os.sched_getaffinity(0) if allowed is None else allowed)


def register(engine: Any) -> None:
    _running.add(engine)


def unregister(engine: Any) -> None:
    _running.discard(engine)


def running() -> list[Any]:
    return list(_running)


def engine_cpus(spec: Any, index: int | None = None) -> set[int] | None:
    """The CPUs a new engine may run on.

    "auto" (default): one CPU, the one with the fewest engines of this process on it (the
    highest-numbered on a tie), when we may use at least two. Godot's physics hands every step
    to its worker threads; on a single CPU those hand-offs are cheap context switches instead
    of cross-CPU wake-ups (measured on 2 vCPUs: 3x faster physics steps), and the other CPU
    stays free for Python. ``index`` (engine k of a vector env) is only a tie-breaker.
    None/False: no pinning. An int or a list of ints: exactly those CPUs.
    """
    if spec is None or spec is False:
        return None
    if isinstance(spec, str):
        if spec != "auto":
            raise ValueError(f"cpus must be 'auto', None, a CPU number or a list of them, got {spec!r}")
        allowed = sorted(os.sched_getaffinity(0))
        if len(allowed) < 2:
            return None
        load = {c: 0 for c in allowed}
        for engine in running():
            if engine.cpus and len(engine.cpus) == 1 and not engine.closed:
                (c,) = engine.cpus
                if c in load:
                    load[c] += 1
        order = allowed[::-1]
        if index:
            order = order[index % len(order):] + order[:index % len(order)]
        return {min(order, key=lambda c: load[c])}
    return set(check_cpus(spec))  # InvalidCpusError names the CPUs that exist
