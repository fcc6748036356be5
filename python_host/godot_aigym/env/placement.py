"""Which CPUs a new engine runs on (``cpus=``), given the engines this process already runs."""

from __future__ import annotations

import os
import weakref
from typing import Any

from ..engine import check_cpus
from . import placement_registry

PINNED_SPIN_US = 1000  # both sides spin this long when the engine has a CPU of its own
# The host spins this long for a rendering engine's answer when a CPU is free for it: a whole
# 84x84 frame (0.3-3 ms for 1-16 cameras on llvmpipe), so it never blocks on a frame.
RENDER_HOST_SPIN_US = 5000

# live EngineLinks (anything with `.cpus` and `.closed`): what "auto" balances against
_running: "weakref.WeakSet[Any]" = weakref.WeakSet()


def spin_budgets(n_engines: int, pinned: bool, spin_us: float | None = None, engine_spin_us: int | None = None,
                 usable: int | None = None, foreign: list[list] | None = None,
                 rendering: bool = False) -> tuple[float | None, int | None]:
    """(host spin_us, engine --spin-us) for one engine of an env of ``n_engines`` engines and one
    host thread: the same for every pinned engine of the env, whichever CPU it is on.

    Every waiter that spins keeps a CPU busy, so spinning only pays while it does not take the
    CPU of the peer that must answer. With ``n_engines + 1`` waiters (the host and its engines)
    and ``usable`` CPUs (``os.sched_getaffinity``: the CPUs we may actually run on, not the
    machine's count):
      * one CPU: nobody spins (0, 0) -- the peer can only answer once we give the CPU up;
      * a CPU for everyone (``n_engines < usable``), engine pinned: PINNED_SPIN_US on both
        sides (a blocking wake-up across CPUs costs ~55 us, more than a whole physics step);
      * one waiter too many (``n_engines == usable``, e.g. 2 engines on 2 CPUs, one per CPU by
        "auto"): as with a CPU for everyone -- every side spins, yielding the CPU at each spin
        iteration, so the host and the engine that share a CPU hand it over with a sched_yield
        instead of a futex sleep and wake-up. Whatever the placement, one CPU must switch
        between two processes at least twice per step; on the 2-vCPU KVM guest a same-CPU
        switch costs ~2-3.5 us in a bare C ping-pong (yield / futex) but ~12-16 us here, the
        woken process finding its caches and predictors cold; the host's step for its engines
        then runs in one C call that yields at once (host_yields_at_once), which took the
        trivial 2 x 16 from ~1.0x to ~1.2x 1 x 16 on the Xeon guest. Quiet interleaved A/B against the engine on the host's CPU and
        the host blocking (the policy before 2026-11-30 12:00 UTC), 2 x 16 vs 1 x 16, three
        runs of 5-7 alternations: trivial 0.77x / 0.73x / 0.71x vs 0.69x / 0.68x / 0.68x,
        cart-pole 1.54x / 1.43x vs 1.35x / 1.36x (two later runs: trivial 0.75x / 0.72x vs
        0.84x / 0.74x, cart-pole 1.46x vs 1.45x: for trivial within this guest's noise,
        docs/ENVIRONMENTS_PERFORMANCE.md); everyone blocking 0.56x, engine 1
        unpinned 0.71-0.77x, both engines on one CPU 0.60-0.65x (trivial); nine variants in
        short paired windows (bench/ab_two_engines.py, 13:55-14:54 UTC: who blocks, post and
        wait order, the host pinned, one CPU) beat it in no run more than they lost in another,
        nor did four more (19:33-19:41 UTC: answers taken as they come, the host blocking on its
        CPU's engine first or on both, nothing pinned);
      * more engines than CPUs: as with a CPU for everyone -- engines that share a CPU spin
        and yield to each other (quiet 2 CPUs, 3 and 4 engines x 16, spinning vs all blocking:
        trivial 300k vs 244k and 273k vs 191k agent-steps/s, cart-pole 1.35x vs 0.94x and 1.51x
        vs 1.13x one engine);
      * other hosts run engines on this machine (``foreign``: placement_registry.others(), one
        list of engine CPU sets per host) and all waiters, theirs and ours, outnumber the
        usable CPUs: our engine blocks, the host spins (PINNED_SPIN_US, 0) -- engines of
        different hosts are not stepped in lockstep, so a spinning engine takes the CPU from
        one that has work (quiet 2 CPUs, two hosts x 1 engine x 16, one engine per CPU: host
        spinning and engines blocking 1.20x trivial, 2.06x cart-pole vs both on one CPU
        spinning, against 1.01x / 1.75x spinning everywhere and 0.97x / 1.80x all blocking; with
        the other host's env idle, blocking costs 0.98x / 0.93x of spinning);
      * unpinned: None, the module defaults (host AIGYM_SPIN_US, engine 50 us). Rendering
        engines (never pinned by "auto") too: 2 x 16 Reach cameras with the engines spinning
        1,000 us measured 0.97-1.03x the default (quiet, 4 runs of 9-11 interleaved rounds, the
        envs' creation order alternated: it alone moved a run by ~5%); nobody spinning, the host
        alone not spinning, or 1 x 1 engines spinning 1,000 us: within the noise too (2026-11-30
        17:10, paired windows, docs/RENDERING.md): a rendering step waits for its slower engine's
        frame, not for a wake-up.
      * ``rendering`` with a CPU free for the host (``n_engines < usable`` and the other hosts'
        waiters do not fill the CPUs): the host spins RENDER_HOST_SPIN_US, a whole frame. An idle
        vCPU is slow to wake on a KVM guest, and everything the frame needs (the X server's round
        trips, the engine's own wake-ups) pays for it: on the 2-vCPU Xeon guest (2026-12-01
        02:25 UTC, quiet, 16 paired windows) 1 x 1 Reach ran 1.85-1.99x (1.20-2.55x, better in
        16 of 16) and 1 x 16 1.07-1.08x (16 of 16) the same env with the host blocking; a nice-19
        busy loop beside the engine's own in-engine loop raised that loop 2,194 -> 3,264 frames/s,
        the same effect. On the EPYC guest a full-frame spin was within the noise (RENDERING.md);
        it never holds off the engine or the X server (each spin iteration after the first
        1 us of pure spin yields the CPU: BUSY_SPIN_NS in shm/_futexsem.c).
      * ``rendering`` otherwise: the host does not spin (0) for the answer: a 50 us spin never
        finds a frame and only takes a CPU the engines and the X server need (the engine's budget
        stays as above: the host's turnaround after an answer can be shorter than it). Paired windows,
        quiet, 2 x 16 Reach cameras through GodotAsyncVectorEnv (2026-11-30 22:41 UTC, 10 pairs):
        0.906x [0.79-1.08] the in-engine rate vs 0.850x [0.73-0.95] with the host spinning 50 us,
        host CPU per image 29 vs 33 us, engine main threads 446 vs 480 us (the waiter threads'
        spin ran on an engine's CPU); 1 x 1 GodotVectorEnv: 0.933x vs 0.854x (10 pairs), 0.906x vs
        0.893x (16 pairs).
    Values the user passed (``spin_us`` / ``engine_spin_us`` not None) are kept as they are.
    """
    allowed = os.sched_getaffinity(0)
    usable = len(allowed) if usable is None else usable
    host: float | None = float(PINNED_SPIN_US) if pinned else None
    engine: int | None = PINNED_SPIN_US if pinned else None
    if (pinned or rendering) and usable >= 2:  # the only cases the other hosts' engines can change
        foreign = foreign_engines() if foreign is None else foreign
    # every waiter on the machine: our engines and host, every other host and its engines
    waiters = n_engines + 1 + sum(len(engines) + 1 for engines in foreign or [])
    if usable < 2:
        host, engine = 0.0, 0
    elif pinned and foreign and waiters > usable:
        engine = 0
    if rendering:  # a whole frame only with a CPU free for the host (waiters <= usable: engines < CPUs)
        host = float(RENDER_HOST_SPIN_US) if waiters <= usable else 0.0
    return (host if spin_us is None else spin_us, engine if engine_spin_us is None else engine_spin_us)


def host_yields_at_once(n_engines: int, usable: int | None = None) -> bool:
    """Whether the host's wait for the answers of an env's ``n_engines`` engines yields its CPU
    before its first look (``shm.relay.relay``'s ``yield_at_once``) instead of spinning
    BUSY_SPIN_NS (1 us) first: when the host and its engines outnumber the ``usable`` CPUs
    (``os.sched_getaffinity``), so the host shares a CPU with an engine that has its whole frame
    to run before it can answer -- every microsecond of the host's spin is then taken from that
    frame. 2 x 16 on the 2-vCPU Xeon guest (2026-12-01 03:45 UTC, quiet, 16 paired windows vs
    1 x 16, bench/ab_two_engines.py): trivial 1.05x (posts and waits in one C call, pure spin
    first) -> 1.18x (yielding at once), cart-pole 1.75x -> 1.72x (within its spread). With a
    CPU for everyone the engine answers from another CPU: a yield would only delay the look."""
    usable = len(os.sched_getaffinity(0)) if usable is None else usable
    return usable >= 2 and n_engines + 1 > usable


def foreign_engines() -> list[list[set[int] | None]]:
    """The engines of the other hosts on this machine (placement_registry), one list per host."""
    return placement_registry.others()


def register(engine: Any) -> None:
    _running.add(engine)
    _publish()


def unregister(engine: Any) -> None:
    _running.discard(engine)
    _publish()


def _publish() -> None:
    """This host's record for the other hosts' "auto" and spin policy: its live engines' CPUs."""
    placement_registry.publish([e.cpus for e in running() if not e.closed])


def running() -> list[Any]:
    return list(_running)


def engine_cpus(spec: Any, index: int | None = None, foreign: list[list] | None = None) -> set[int] | None:
    """The CPUs a new engine may run on.

    "auto" (default): one CPU, the one with the fewest engines on it -- this process's and the
    other hosts' (placement_registry) -- the highest-numbered on a tie (the host is expected on
    the lowest), when we may use at least two. Godot's physics hands every step
    to its worker threads; on a single CPU those hand-offs are cheap context switches instead
    of cross-CPU wake-ups (measured on 2 vCPUs: 3x faster physics steps), and the other CPU
    stays free for Python. ``index`` (engine k of a vector env) is only a tie-breaker;
    ``foreign``: `foreign_engines()` if the caller already read it (read here otherwise).
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
        pinned = [e.cpus for e in running() if not e.closed]
        pinned += [c for host in (foreign_engines() if foreign is None else foreign) for c in host]
        for cpus in pinned:
            if cpus and len(cpus) == 1:
                (c,) = cpus
                if c in load:
                    load[c] += 1
        order = allowed[::-1]
        if index:
            order = order[index % len(order):] + order[:index % len(order)]
        return {min(order, key=lambda c: load[c])}
    return set(check_cpus(spec))  # InvalidCpusError names the CPUs that exist
