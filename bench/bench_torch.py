"""Benchmark cTorchModel called from GDScript against the same TorchScript model in Python.

    .venv/bin/python bench/bench_torch.py [--quick]

For each model (exported with godot_aigym.export_policy), one process each way, single thread:
  * latency of one `cTorchModel.run()` call from GDScript (a typed call in a loop timed with
    Time.get_ticks_usec) vs one forward of the `torch.jit.load`ed model in Python
    (torch.set_num_threads(1), torch.inference_mode(), the input tensor built once);
  * throughput of `run_batch()` on 256 rows vs the Python forward of a (256, n) tensor.
Godot runs and Python measurements alternate (--rounds), so machine noise hits both alike;
each side reports the median and the p10-p90 spread of all its repeats.

Goal: GDScript run() no slower than Python (ratio ours/Python <= 1.0); batch throughput at
least Python's (ratio >= 1.0). Prints a table and writes bench/results/torch.json
(schema: bench/results_schema.py; bench/summary.py prints all results).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python_host"))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
import results_schema as schema  # noqa: E402
import torch  # noqa: E402

from godot_aigym import export_policy  # noqa: E402
from godot_aigym.engine import LaunchOptions, ensure_imported, run_godot  # noqa: E402
from godot_aigym.runtime import resolve_godot  # noqa: E402

warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=DeprecationWarning)

PROJECT = ROOT / "tests" / "project"
SCRIPT = "res://torch/bench_torch.gd"
RESULTS = ROOT / "bench" / "results" / "torch.json"
BATCH_ROWS = 256


def make_models() -> dict[str, tuple[torch.nn.Module, int]]:
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(4, 64), torch.nn.Tanh(), torch.nn.Linear(64, 2))
    policy = torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64), torch.nn.Tanh(),
                                 torch.nn.Linear(64, 3), torch.nn.Tanh())
    return {"mlp 4-64-2": (mlp, 4), "policy 8-64-64-3 tanh": (policy, 8)}


def inputs(in_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The same inputs bench_torch.gd builds (float32 sin patterns)."""
    x = np.sin(np.arange(in_size, dtype=np.float64) * 0.7) * 0.9
    b = np.sin(np.arange(BATCH_ROWS * in_size, dtype=np.float64) * 0.31) * 1.3
    return (torch.from_numpy(x.astype(np.float32)).reshape(1, in_size),
            torch.from_numpy(b.astype(np.float32)).reshape(BATCH_ROWS, in_size))


def measure_python(path: Path, in_size: int, calls: int, repeats: int, batch_calls: int) -> dict:
    torch.set_num_threads(1)
    model = torch.jit.load(str(path))
    model.eval()
    x, batch = inputs(in_size)
    run_us, batch_us = [], []
    with torch.inference_mode():
        for _ in range(2000):
            model(x)
        for _ in range(50):
            model(batch)
        for _ in range(repeats):
            t0 = time.perf_counter_ns()
            for _ in range(calls):
                model(x)
            run_us.append((time.perf_counter_ns() - t0) / 1e3 / calls)
        for _ in range(repeats):
            t0 = time.perf_counter_ns()
            for _ in range(batch_calls):
                model(batch)
            batch_us.append((time.perf_counter_ns() - t0) / 1e3 / batch_calls)
        out = model(x).reshape(-1).tolist()
        batch_head = model(batch).reshape(-1)[:8].tolist()
    return {"run_us": run_us, "batch_us": batch_us, "out": out, "batch_out_head": batch_head}


def measure_godot(path: Path, in_size: int, calls: int, repeats: int, batch_calls: int, godot) -> dict:
    code, output = run_godot(LaunchOptions(project=PROJECT, script=SCRIPT, user_args=(
        str(path), str(in_size), str(calls), str(repeats), str(BATCH_ROWS), str(batch_calls))), timeout=600, godot=godot)
    results = {}
    for line in output.splitlines():
        if line.startswith("RESULT "):
            item = json.loads(line[7:])
            results[item["name"]] = item["value"]
    if code != 0 or "run_us" not in results or "ERROR" in output:
        raise SystemExit(f"the Godot bench failed (exit {code}):\n{output[-3000:]}")
    return results


def summary(values: list[float]) -> tuple[float, list[float]]:
    qs = np.percentile(values, [10, 90]).tolist()
    return statistics.median(values), [round(q, 3) for q in qs]


def run(args: argparse.Namespace) -> dict:
    godot = resolve_godot()
    ensure_imported(PROJECT, godot)
    metrics: list[dict] = []
    checks: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="aigym-bench-torch-") as tmp:
        for name, (module, in_size) in make_models().items():
            path = export_policy(module, torch.zeros(1, in_size), Path(tmp) / "model.jit")
            ours = {"run_us": [], "batch_us": []}
            base = {"run_us": [], "batch_us": []}
            for _ in range(args.rounds):
                g = measure_godot(path, in_size, args.calls, args.repeats, args.batch_calls, godot)
                p = measure_python(path, in_size, args.calls, args.repeats, args.batch_calls)
                for key in ours:
                    ours[key] += g[key]
                    base[key] += p[key]
            checks[name] = max(float(np.max(np.abs(np.array(g["out"]) - np.array(p["out"])))),
                               float(np.max(np.abs(np.array(g["batch_out_head"]) - np.array(p["batch_out_head"])))))

            o, o_spread = summary(ours["run_us"])
            b, b_spread = summary(base["run_us"])
            label = f"run() latency, {name}"
            metrics.append(schema.metric(
                slug(label), label, "us/call", o, better="lower", ours_spread=o_spread,
                baseline_name="Python torch.jit forward", baseline=b, baseline_spread=b_spread,
                goal=schema.goal("<=", 1.0, "<= 1.0x Python")))  # fmt: skip
            o, o_spread = summary([BATCH_ROWS / us * 1e6 for us in ours["batch_us"]])
            b, b_spread = summary([BATCH_ROWS / us * 1e6 for us in base["batch_us"]])
            label = f"run_batch({BATCH_ROWS}) throughput, {name}"
            metrics.append(schema.metric(
                slug(label), label, "rows/s", o, better="higher", ours_spread=o_spread,
                baseline_name=f"Python torch.jit forward of ({BATCH_ROWS}, n)", baseline=b, baseline_spread=b_spread,
                goal=schema.goal(">=", 1.0, ">= 1.0x Python")))  # fmt: skip
    return {
        "metrics": metrics,
        "machine": schema.machine(torch=torch.__version__, godot=godot.version),
        "repeats": args.rounds * args.repeats,
        "spread": "p10-p90",
        "params": {"calls": args.calls, "repeats": args.repeats, "rounds": args.rounds, "batch_rows": BATCH_ROWS,
                   "batch_calls": args.batch_calls, "threads": 1},
        "extra": {"output_max_abs_diff": checks},
    }


def slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def print_table(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    p = result["params"]
    table = Table(title=f"cTorchModel from GDScript vs Python torch.jit (1 thread; median of {p['rounds']}x{p['repeats']} "
                        f"repeats, p10-p90)")
    for col in ("metric", "ours (GDScript)", "Python torch.jit", "ratio", "goal", "pass"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for m in result["metrics"]:
        def fmt(v, spread):
            if m["unit"] == "rows/s":
                return f"{v / 1e6:.2f} M/s [{spread[0] / 1e6:.2f}-{spread[1] / 1e6:.2f}]"
            return f"{v:.2f} us [{spread[0]:.2f}-{spread[1]:.2f}]"
        table.add_row(m["label"], fmt(m["ours"], m["ours_spread"]), fmt(m["baseline"], m["baseline_spread"]),
                      f"{m['ratio']:.2f}", m["goal"]["text"], "[green]yes[/]" if m["goal_met"] else "[red]no[/]")
    Console(width=150).print(table)
    diffs = result["extra"]["output_max_abs_diff"]
    print("max |GDScript - Python| output difference:", {k: f"{v:.1e}" for k, v in diffs.items()})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and one round (a smoke run)")
    parser.add_argument("--calls", type=int, default=20000, help="run() calls per repeat")
    parser.add_argument("--batch-calls", type=int, default=1000, help="run_batch() calls per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="alternations of Godot and Python")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.batch_calls, args.repeats, args.rounds = 3000, 200, 3, 1
    result = run(args)
    print_table(result)
    if not args.quick:
        schema.write_results("torch", result["metrics"], path=args.out,
                             **{k: v for k, v in result.items() if k != "metrics"})  # fmt: skip
        print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0 if all(m["goal_met"] for m in result["metrics"]) else 1


if __name__ == "__main__":
    sys.exit(main())
