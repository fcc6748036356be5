"""Which CPUs a new engine runs on (``cpus=``), given the engines this process already runs."""

from __future__ import annotations

import os
import weakref
from typing import Any

from ..engine import check_cpus

PINNED_SPIN_US = 1000  # both sides spin this long when the engine has a CPU of its own

# live EngineLinks (anything with `.cpus` and `.closed`): what "auto" balances against
_running: "weakref.WeakSet[Any]" = weakref.WeakSet()


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
