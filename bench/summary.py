"""One table of every bench/results/*.json (schema: bench/results_schema.py).

    .venv/bin/python bench/summary.py [--markdown] [--dir bench/results]

Per metric: our value, the baseline measured in the same run, their ratio, the goal and
whether it is met; per bench, the machine and date of its run.  Exits 1 if a file does
not match the schema.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results_schema import RESULTS_DIR, all_results  # noqa: E402


def fmt_value(v: float | None, spread: list[float] | None = None) -> str:
    if v is None:
        return "-"
    text = f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
    if spread:
        lo, hi = (f"{s:,.0f}" if abs(s) >= 1000 else f"{s:.3g}" if abs(s) < 10 else f"{s:.1f}" for s in spread)
        text += f" [{lo}-{hi}]"
    return text


def fmt_bytes(n: int | None) -> str:
    if not n:
        return "?"
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


def machine_line(name: str, doc: dict[str, Any]) -> str:
    run, m = doc["run"], doc["run"]["machine"]
    loaded = {True: ", loaded machine", False: ", idle machine", None: ""}[run["loaded"]]
    return (f"{name}: {run['date']}, {m['cpu_model'] or 'CPU not recorded'}, {m['cores']} cores, "
            f"L2 {fmt_bytes(m['l2_bytes'])} / L3 {fmt_bytes(m['l3_bytes'])}, median of {run['repeats']} "
            f"({run['spread']} spread){loaded}")


def rows(results: dict[str, dict[str, Any]]) -> list[list[str]]:
    out = []
    for name, doc in results.items():
        for m in doc["metrics"]:
            met = {True: "yes", False: "NO", None: ""}[m["goal_met"]]
            base = f"{m['baseline_name']}: {fmt_value(m['baseline'])}" if m["baseline_name"] else "-"
            out.append([name, m["label"], f"{fmt_value(m['ours'], m['ours_spread'])} {m['unit']}", base,
                        "-" if m["ratio"] is None else f"{m['ratio']:.2f}x",
                        m["goal"]["text"] if m["goal"] else "", met])  # fmt: skip
    return out


HEADER = ["bench", "metric", "ours [spread]", "baseline (same run)", "ratio", "goal", "met"]


def print_markdown(table: list[list[str]]) -> None:
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "|".join(" --- " for _ in HEADER) + "|")
    for r in table:
        print("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")


def print_plain(table: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [HEADER, *table]) for i in range(len(HEADER))]
    for r in [HEADER, ["-" * w for w in widths], *table]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", type=Path, default=RESULTS_DIR, help="directory of results files")
    ap.add_argument("--markdown", action="store_true", help="a Markdown table (for README)")
    args = ap.parse_args(argv)
    try:
        results = all_results(args.dir)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    if not results:
        print(f"no results in {args.dir}", file=sys.stderr)
        return 1
    table = rows(results)
    (print_markdown if args.markdown else print_plain)(table)
    print()
    for name, doc in results.items():
        print(("- " if args.markdown else "") + machine_line(name, doc))
    unmet = sum(r[-1] == "NO" for r in table)
    print(f"\n{len(table)} metrics, {sum(r[-1] == 'yes' for r in table)} goals met, {unmet} not met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
