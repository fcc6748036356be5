"""The cross-process parts of bench_shared_object.py (run in spawned children): the
trigger -> wake-up ping-pong and assigning while a reader process keeps fetching; plus
the real-robot baseline loader and the sample statistics both files use."""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from godot_aigym.shared_object import SharedObject

RR_VERSION = "0.2.1"
INSTALL_HINT = f".venv/bin/pip install real-robot=={RR_VERSION}"


def load_real_robot() -> Any:
    """real-robot's SharedObject class, or exit with install instructions."""
    os.environ.setdefault("REAL_ROBOT_LOG", "ERROR")  # silence its 'no sapien' warning
    try:
        from importlib.metadata import version

        from real_robot.utils.multiprocessing import SharedObject as RRSharedObject
    except ImportError:
        print(
            f"\nThe baseline real-robot=={RR_VERSION} is not installed. Install it for the benchmark only:\n"
            f"    {INSTALL_HINT}\n(it is not a dependency of godot-aigym).",
            file=sys.stderr,
        )
        sys.exit(2)
    got = version("real_robot")
    if got != RR_VERSION:
        print(f"warning: real-robot {got} installed, the goals refer to {RR_VERSION}", file=sys.stderr)
    return RRSharedObject


def stats(samples: list[float]) -> dict[str, float]:
    a = np.asarray(samples)
    return {
        "median": float(np.median(a)),
        "p10": float(np.percentile(a, 10)),
        "p90": float(np.percentile(a, 90)),
        "samples": len(a),
    }


# -- cross-process ping-pong --------------------------------------------------------------------
def _echo_ours(ping_name: str, pong_name: str, n: int, ready: Any) -> None:
    ping, pong = SharedObject(ping_name, create=False), SharedObject(pong_name, create=False)
    ready.set()
    for _ in range(n):
        if not ping.wait_modified(timeout=10.0):
            return
        ping.fetch()
        pong.trigger()


def _echo_rr(ping_name: str, pong_name: str, n: int, ready: Any) -> None:
    rr = load_real_robot()
    ping, pong = rr(ping_name), rr(pong_name)
    ready.set()
    for _ in range(n):
        deadline = time.monotonic() + 10.0
        spins = 0
        while not ping.modified:
            spins += 1
            if spins % 4096 == 0 and time.monotonic() > deadline:
                return
        ping.fetch()
        pong.trigger()


def pingpong(kind: str, n: int, warmup: int) -> dict[str, float]:
    """Round-trip times (us) of trigger -> other process wakes, fetches, triggers back."""
    tag = f"{os.getpid()}-{kind}"
    ping_name, pong_name = f"gaso-bench-ping-{tag}", f"gaso-bench-pong-{tag}"
    if kind == "ours":
        ping, pong = SharedObject(ping_name, create=True), SharedObject(pong_name, create=True)
        target = _echo_ours

        def wait_pong() -> None:
            if not pong.wait_modified(timeout=10.0):
                raise TimeoutError("echo process stopped answering")
            pong.fetch()
    else:
        rr = load_real_robot()
        ping, pong = rr(ping_name), rr(pong_name)
        target = _echo_rr

        def wait_pong() -> None:
            deadline = time.monotonic() + 10.0
            spins = 0
            while not pong.modified:
                spins += 1
                if spins % 4096 == 0 and time.monotonic() > deadline:
                    raise TimeoutError("echo process stopped answering")
            pong.fetch()

    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    child = ctx.Process(target=target, args=(ping_name, pong_name, n + warmup, ready))
    child.start()
    rtts = []
    try:
        # A trigger published before the child mounted would be lost (a fresh handle has seen
        # the current version): wait until it has mounted.
        if not ready.wait(60):
            raise TimeoutError("echo process did not start")
        gc.disable()
        for i in range(n + warmup):
            t0 = time.perf_counter_ns()
            ping.trigger()
            wait_pong()
            if i >= warmup:
                rtts.append((time.perf_counter_ns() - t0) / 1e3)
    finally:
        gc.enable()
        child.join(15)
        if child.is_alive():
            child.kill()
            child.join(5)
        for obj in (ping, pong):
            obj.unlink()
            obj.close()
    return stats(rtts)


# -- assign with a live reader in another process ------------------------------------------------
def _reader_loop(kind: str, name: str, shape: tuple[int, ...], dtype: str, ready: Any, go: Any, stop: Any) -> None:
    """Fetch continuously (like a consumer polling the latest frame) while `go` is set, until
    told to stop; blocked (no CPU) while another implementation has its turn."""
    if kind == "ours":
        fetch = SharedObject(name, create=False).fetch
    elif kind == "real_robot":
        fetch = load_real_robot()(name).fetch
    else:
        shm = shared_memory.SharedMemory(name)  # spawn children share the parent's resource tracker
        fetch = np.ndarray(shape, np.dtype(dtype), buffer=shm.buf).copy
    ready.set()
    deadline = time.monotonic() + 300  # a safety net: the parent sets `stop`
    while not stop.is_set() and time.monotonic() < deadline:
        if go.wait(0.1):
            fetch()


def assign_with_readers(
    impls: dict[str, tuple[str, str, Callable[[np.ndarray], Any]]],
    frames: list[np.ndarray],
    rounds: int,
    block: int,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Per-assign times (us) of a stream of frames while another process keeps reading, for
    each implementation (key -> (reader kind, object name, assign)); each has its own reader
    process, and they take turns in blocks of `block` frames, in a shuffled order every round
    (only the current one's reader runs), so load that comes and goes hits all alike.  The
    first tenth of each block (the reader waking, the caches changing hands) is not kept."""
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    shape, dtype = frames[0].shape, frames[0].dtype.str
    gos = {k: ctx.Event() for k in impls}
    readies = {k: ctx.Event() for k in impls}
    readers = [ctx.Process(target=_reader_loop, args=(kind, name, shape, dtype, readies[k], gos[k], stop))
               for k, (kind, name, _) in impls.items()]  # fmt: skip
    for r in readers:
        r.start()
    times: dict[str, list[float]] = {k: [] for k in impls}
    order = np.random.default_rng(seed)
    try:
        for k, ready in readies.items():
            if not ready.wait(60):
                raise TimeoutError(f"reader process of {k!r} did not start")
        i = 0
        for _ in range(rounds):
            for k in order.permutation(list(impls)):
                assign, kept = impls[k][2], times[k]
                gos[k].set()
                for j in range(block):
                    frame = frames[i % len(frames)]
                    i += 1
                    t0 = time.perf_counter_ns()
                    assign(frame)
                    if j >= block // 10:
                        kept.append((time.perf_counter_ns() - t0) / 1e3)
                    time.sleep(0.0005)  # a producer at ~1.5 kHz: the reader gets the lines in between
                gos[k].clear()
    finally:
        stop.set()
        for r in readers:
            r.join(15)
            if r.is_alive():
                r.kill()
                r.join(5)
    return times
