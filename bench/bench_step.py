#!/usr/bin/env python3
"""Step round-trip and bandwidth benchmark of the godot-aigym shared memory.

Round trip (one environment step): the host writes 16 floats to "act" and posts
"act_ready"; the engine waits, reads them, writes 16 floats to "obs" and posts "obs_ready";
the host waits and reads "obs". Measured, in the same run:

  * Godot (GDScript engine)            -- measure_godot_round_trip(), filled in by the lead
  * C floor: bench/c/pingpong_floor.c, two C processes using the header's spin-then-block wait
  * Python floor: two Python processes using SharedMemory + SharedMemorySemaphore
  * 1 MB tensor write / read bandwidth next to numpy's np.copyto memcpy of 1 MB

Goals: Godot median round trip <= 3x the Python floor; 1 MB transfers >= 0.5x memcpy.
Results: a rich table and bench/results/step.json (value, baseline, ratio, goal per metric).

    PYTHONPATH=python_host .venv/bin/python bench/bench_step.py [--repeats 5] [--round-trips 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python_host"))
sys.path.insert(0, str(REPO / "bench"))

from results_schema import machine, metrics_from_value_table, write_results  # noqa: E402

from godot_aigym.shm import (SharedFloatTensor, SharedMemory, SharedMemorySemaphore,  # noqa: E402
                             set_default_spin_us)

FLOATS = 16
MB = 1 << 20
RESULTS = REPO / "bench" / "results" / "step.json"


# ---- the step protocol, shared by every engine ----------------------------------------------------
@dataclass
class Channel:
    """The four entries of the step protocol (the same names in every engine)."""

    mem: SharedMemory
    act: SharedFloatTensor
    obs: SharedFloatTensor
    act_ready: SharedMemorySemaphore
    obs_ready: SharedMemorySemaphore


def make_channel(mem: SharedMemory) -> Channel:
    """Create "act"/"obs" (16 float32 each) and "act_ready"/"obs_ready" (value 0) in ``mem``."""
    return Channel(mem, mem.newFloatTensor("act", FLOATS), mem.newFloatTensor("obs", FLOATS),
                   mem.newSemaphore("act_ready", 0), mem.newSemaphore("obs_ready", 0))


def host_round_trips(ch: Channel, round_trips: int, warmup: int, timeout: float = 30.0) -> list[int]:
    """Run the host side of the protocol; return the round-trip times (ns) after ``warmup``.

    Checks that every answer is act + 1, which is what every engine in this bench replies."""
    act = np.zeros(FLOATS, np.float32)
    lat: list[int] = []
    clock = time.perf_counter_ns
    for k in range(warmup + round_trips):
        act[:] = k
        t0 = clock()
        ch.act.write(act)
        ch.act_ready.post()
        ch.obs_ready.wait(timeout)
        obs = ch.obs.read()
        t1 = clock()
        if obs[0] != k + 1 or obs[-1] != k + 1:
            raise RuntimeError(f"round trip {k}: engine answered {obs[0]}, expected {k + 1}")
        if k >= warmup:
            lat.append(t1 - t0)
    return lat


def summarize_latencies(lat_ns: list[int]) -> dict:
    """median / p99 / mean in nanoseconds."""
    s = sorted(lat_ns)
    return {"round_trips": len(s), "median_ns": s[len(s) // 2], "p99_ns": s[min(len(s) - 1, int(len(s) * 0.99))],
            "mean_ns": int(statistics.fmean(s))}


# ---- engines ----------------------------------------------------------------------------------------
def measure_godot_round_trip(round_trips: int, warmup: int, spin_us: float) -> dict:
    """The step round trip with a GDScript engine: tests/project/bench/step_engine.gd in Godot."""
    from godot_aigym.engine import GodotProcess, LaunchOptions, ensure_imported

    project = REPO / "tests" / "project"
    ensure_imported(project)
    set_default_spin_us(spin_us)
    with SharedMemory(size=1 << 16) as mem:
        ch = make_channel(mem)
        opts = LaunchOptions(project=project, script="res://bench/step_engine.gd", handle=mem.handle,
                             user_args=[str(warmup + round_trips), str(int(spin_us))])
        with GodotProcess(opts) as proc:
            mem.set_peer(proc.popen)
            lat = host_round_trips(ch, round_trips, warmup)
            if proc.wait(timeout=60) != 0:
                raise RuntimeError(f"Godot engine failed:\n{proc.log_tail()}")
    return summarize_latencies(lat)


PY_ENGINE = """
    import sys
    import numpy as np
    from godot_aigym.shm import SharedMemory, set_default_spin_us
    set_default_spin_us(float(sys.argv[3]))
    if sys.argv[4] != "-":
        import os; os.sched_setaffinity(0, {int(sys.argv[4])})
    mem = SharedMemory.attach(sys.argv[1], as_engine=True)
    act, obs = mem.findFloatTensor("act"), mem.findFloatTensor("obs")
    act_ready, obs_ready = mem.find_semaphore("act_ready"), mem.find_semaphore("obs_ready")
    print("ready", flush=True)
    for _ in range(int(sys.argv[2])):
        act_ready.wait(30)
        obs.write(act.read() + np.float32(1))
        obs_ready.post()
"""


def _engine_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "python_host") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def measure_python_floor(round_trips: int, warmup: int, spin_us: float, pin: tuple[int, int] | None) -> dict:
    """Python host <-> Python engine, both through the public API."""
    set_default_spin_us(spin_us)
    with SharedMemory(size=1 << 16) as mem:
        ch = make_channel(mem)
        proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(PY_ENGINE), mem.handle,
                                 str(round_trips + warmup), str(spin_us), str(pin[1]) if pin else "-"],
                                stdout=subprocess.PIPE, text=True, env=_engine_env())
        try:
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("python engine failed to start")
            mem.set_peer(proc)
            old = os.sched_getaffinity(0)
            if pin:
                os.sched_setaffinity(0, {pin[0]})
            try:
                lat = host_round_trips(ch, round_trips, warmup)
            finally:
                os.sched_setaffinity(0, old)
            if proc.wait(30) != 0:
                raise RuntimeError(f"python engine exited with {proc.returncode}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return summarize_latencies(lat)


def build_c_floor(out_dir: Path) -> Path:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        raise RuntimeError("gcc is needed for the C floor")
    exe = out_dir / "pingpong_floor"
    subprocess.run([gcc, "-std=c11", "-O2", "-Wall", "-Wextra", f"-I{REPO / 'gdextension' / 'shm'}",
                    str(REPO / "bench" / "c" / "pingpong_floor.c"), "-o", str(exe)], check=True)
    return exe


def measure_c_floor(exe: Path, round_trips: int, warmup: int, spin_us: float, pin: tuple[int, int] | None) -> dict:
    """Two C processes (fork) on a chunk created here, using aigym_sem_wait."""
    with SharedMemory(size=1 << 16) as mem:
        make_channel(mem)
        cmd = [str(exe), mem.handle, str(round_trips), str(int(spin_us)), str(warmup)]
        if pin:
            cmd.append(f"{pin[0]},{pin[1]}")
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"pingpong_floor failed: {out.stderr.strip()}")
    res = json.loads(out.stdout)
    return {k: res[k] for k in ("round_trips", "median_ns", "p99_ns", "mean_ns")}


# ---- bandwidth ----------------------------------------------------------------------------------------
def _best_ns(fn, iters: int, batches: int = 7) -> float:
    """Median over batches of the mean time of one call (ns)."""
    per = []
    for _ in range(batches):
        t0 = time.perf_counter_ns()
        for _ in range(iters):
            fn()
        per.append((time.perf_counter_ns() - t0) / iters)
    return statistics.median(per)


def measure_bandwidth(nbytes: int = MB, iters: int = 300) -> dict:
    """GB/s of 1 MB tensor write / read() / read(out=) next to np.copyto between private arrays."""
    n = nbytes // 4
    src = np.random.default_rng(0).random(n, dtype=np.float32)
    dst = np.empty_like(src)
    with SharedMemory(size=4 * nbytes) as mem:
        t = mem.newFloatTensor("big", n)
        out = np.empty(n, np.float32)
        for _ in range(20):  # warm up: fault in the pages on both sides
            np.copyto(dst, src)
            t.write(src)
            t.read(out=out)
            t.read()
        ns = {
            "memcpy": _best_ns(lambda: np.copyto(dst, src), iters),
            "write": _best_ns(lambda: t.write(src), iters),
            "read": _best_ns(lambda: t.read(), iters),
            "read_into": _best_ns(lambda: t.read(out=out), iters),
        }
        assert np.array_equal(t.read(), src)
    return {k: nbytes / v for k, v in ns.items()}  # bytes per ns == GB/s


# ---- report --------------------------------------------------------------------------------------------
def _median_spread(values: list[float]) -> tuple[float, list[float]]:
    return statistics.median(values), [min(values), max(values)]


def run(args: argparse.Namespace) -> dict:
    pin = tuple(int(c) for c in args.pin.split(",")) if args.pin else None
    runs: dict[str, list[dict]] = {"godot": [], "c": [], "python": [], "bandwidth": []}
    godot_error = None
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_c_floor(Path(tmp))
        for r in range(args.repeats):
            if godot_error is None:
                try:
                    runs["godot"].append(measure_godot_round_trip(args.round_trips, args.warmup, args.spin_us))
                except NotImplementedError as exc:
                    godot_error = f"not measured: {exc}"
            runs["c"].append(measure_c_floor(exe, args.round_trips, args.warmup, args.spin_us, pin))
            runs["python"].append(measure_python_floor(args.round_trips, args.warmup, args.spin_us, pin))
            runs["bandwidth"].append(measure_bandwidth())
            print(f"repeat {r + 1}/{args.repeats}: C {runs['c'][-1]['median_ns'] / 1e3:.2f} us, "
                  f"Python {runs['python'][-1]['median_ns'] / 1e3:.2f} us", file=sys.stderr)

    metrics: dict[str, dict] = {}

    def latency(name: str, key: str, source: str, baseline: str | None, goal: float | None, note: str = ""):
        vals = [x[key] / 1e3 for x in runs[source]]
        value, spread = _median_spread(vals) if vals else (None, None)
        base = metrics[baseline]["value"] if baseline else None
        ratio = value / base if value is not None and base else None
        metrics[name] = {"value": value, "unit": "us", "spread": spread, "baseline": baseline,
                         "baseline_value": base, "ratio": ratio,
                         "goal": f"<= {goal:g}x {baseline}" if goal else None,
                         "goal_met": (ratio <= goal) if goal and ratio is not None else None}
        if note:
            metrics[name]["note"] = note

    latency("c_floor_median", "median_ns", "c", None, None)
    latency("c_floor_p99", "p99_ns", "c", None, None)
    latency("python_floor_median", "median_ns", "python", "c_floor_median", None)
    latency("python_floor_p99", "p99_ns", "python", "c_floor_p99", None)
    latency("godot_round_trip_median", "median_ns", "godot", "python_floor_median", 3.0, godot_error or "")
    latency("godot_round_trip_p99", "p99_ns", "godot", "python_floor_p99", None, godot_error or "")

    memcpy, memcpy_spread = _median_spread([b["memcpy"] for b in runs["bandwidth"]])
    for key, label in (("write", "write_1mb"), ("read", "read_1mb"), ("read_into", "read_into_1mb")):
        value, spread = _median_spread([b[key] for b in runs["bandwidth"]])
        metrics[label] = {"value": value, "unit": "GB/s", "spread": spread, "baseline": "memcpy_1mb",
                          "baseline_value": memcpy, "ratio": value / memcpy, "goal": ">= 0.5x memcpy_1mb",
                          "goal_met": value / memcpy >= 0.5}
    metrics["memcpy_1mb"] = {"value": memcpy, "unit": "GB/s", "spread": memcpy_spread, "baseline": None,
                             "baseline_value": None, "ratio": None, "goal": None, "goal_met": None}

    return {
        "schema": 1,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "numpy": np.__version__},
        "params": {"round_trips": args.round_trips, "warmup": args.warmup, "repeats": args.repeats,
                   "spin_us": args.spin_us, "pin": args.pin or "none", "floats_per_message": FLOATS,
                   "bandwidth_bytes": MB},
        "metrics": metrics,
        "runs": runs,
    }


def print_table(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"godot-aigym step bench (median of {result['params']['repeats']} repeats, "
                        f"spin {result['params']['spin_us']:g} us, pin {result['params']['pin']})")
    for col in ("metric", "value", "spread", "baseline", "ratio", "goal", "met"):
        table.add_column(col, justify="left" if col in ("metric", "baseline", "goal") else "right")

    def fmt(v, unit=""):
        return "-" if v is None else f"{v:.2f}{(' ' + unit) if unit else ''}"

    for name, m in result["metrics"].items():
        spread = "-" if not m["spread"] else f"{m['spread'][0]:.2f}..{m['spread'][1]:.2f}"
        base = "-" if m["baseline"] is None else f"{m['baseline']} ({fmt(m['baseline_value'])})"
        met = {True: "[green]yes[/]", False: "[red]no[/]", None: "-"}[m["goal_met"]]
        value = fmt(m["value"], m["unit"]) if m["value"] is not None else "[yellow]not measured[/]"
        table.add_row(name, value, spread, base, fmt(m["ratio"]) + ("x" if m["ratio"] is not None else ""),
                      m["goal"] or "-", met)
    Console(width=max(150, shutil.get_terminal_size().columns)).print(table)
    for name, m in result["metrics"].items():
        if m.get("note"):
            print(f"{name}: {m['note']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--round-trips", type=int, default=20_000)
    ap.add_argument("--warmup", type=int, default=2_000)
    ap.add_argument("--spin-us", type=float, default=50.0)
    ap.add_argument("--pin", default="", help="'H,E': pin host to CPU H and engine to CPU E (floors only)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    result = run(args)
    write_results("step", metrics_from_value_table(result["metrics"]), path=args.out,  # bench/results_schema.py
                  machine=machine(numpy=np.__version__), repeats=args.repeats, spread="min-max",
                  params=result["params"], extra={"runs": result["runs"]})
    print_table(result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
