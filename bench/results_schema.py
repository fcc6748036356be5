"""One schema for every bench/results/*.json, and the helpers every bench writes it with.

    {
      "schema": 2,
      "bench": "shared_object",                       # the file's stem
      "run": {
        "date": "2026-11-29T23:40:00+0000",
        "machine": {"cpu_model": "AMD EPYC", "cores": 2, "l2_bytes": 524288,
                    "l3_bytes": 33554432, "platform": "...", "python": "3.11.7", ...versions},
        "repeats": 31,                                # samples behind each median
        "statistic": "median",
        "spread": "p10-p90",                          # what every *_spread pair is
        "loaded": true | false | null,                # other jobs ran meanwhile (null: unknown)
        "params": {...},                              # the bench's own knobs
        "notes": ["..."]
      },
      "metrics": [
        {"id": "assign_uint8_480x848x3", "label": "assign uint8 (480, 848, 3)", "unit": "us",
         "better": "lower" | "higher",
         "ours": 51.2, "ours_spread": [50.1, 52.3],
         "baseline_name": "raw np.copyto", "baseline": 48.5, "baseline_spread": [47.7, 49.0],
         "ratio": 1.05,                               # ours / baseline, same run
         "goal": {"op": "<=", "ratio": 1.1, "text": "<= 1.1x raw copy"} | null,
         "goal_met": true | null,
         "also": [{"name": "real-robot 0.2.1", "value": 60.8, "spread": [59.9, 61.5]}],
         "note": ""}
      ],
      "extra": {...}                                  # bench-specific raw data, optional
    }

`write_results(name, metrics, ...)` validates before writing; `load_results(name)` and
`validate(doc)` are what bench/summary.py and tests/foundation/test_bench_schema.py use.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 2
RESULTS_DIR = Path(__file__).resolve().parent / "results"
SPREADS = ("p10-p90", "min-max")
OPS = ("<=", ">=")
# ratio is rounded by some benches (3 decimals): accept that much disagreement
RATIO_ABS_TOL, RATIO_REL_TOL = 6e-4, 1e-3

SYSFS_CACHE = Path("/sys/devices/system/cpu/cpu0/cache")


# -- building ---------------------------------------------------------------------------------
def goal(op: str, ratio: float, text: str = "") -> dict[str, Any]:
    """A goal on ours/baseline, e.g. goal("<=", 1.1, "<= 1.1x raw copy")."""
    if op not in OPS:
        raise ValueError(f"goal op must be one of {OPS}, got {op!r}")
    return {"op": op, "ratio": float(ratio), "text": text or f"{op} {ratio:g}x baseline"}


def goal_met(g: dict[str, Any] | None, ratio: float | None) -> bool | None:
    if g is None or ratio is None:
        return None
    return ratio <= g["ratio"] if g["op"] == "<=" else ratio >= g["ratio"]


def metric(
    id: str,
    label: str,
    unit: str,
    ours: float | None,
    *,
    better: str,
    ours_spread: Iterable[float] | None = None,
    baseline_name: str | None = None,
    baseline: float | None = None,
    baseline_spread: Iterable[float] | None = None,
    goal: dict[str, Any] | None = None,
    also: list[dict[str, Any]] | None = None,
    note: str = "",
    ratio: float | None = None,
) -> dict[str, Any]:
    """One metric; the ratio (ours / baseline) and goal_met are computed unless a ratio is given."""
    if ratio is None and ours is not None and baseline:
        ratio = ours / baseline
    return {
        "id": id,
        "label": label,
        "unit": unit,
        "better": better,
        "ours": ours,
        "ours_spread": _pair(ours_spread),
        "baseline_name": baseline_name,
        "baseline": baseline,
        "baseline_spread": _pair(baseline_spread),
        "ratio": ratio,
        "goal": goal,
        "goal_met": goal_met(goal, ratio),
        "also": also or [],
        "note": note,
    }


def _pair(spread: Iterable[float] | None) -> list[float] | None:
    return None if spread is None else [float(v) for v in spread]


def cache_sizes(root: Path = SYSFS_CACHE) -> tuple[int | None, int | None]:
    """(per-core L2, shared L3) in bytes from sysfs; None where unknown."""
    found: dict[int, int | None] = {2: None, 3: None}
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    for index in sorted(root.glob("index*")):
        try:
            level = int((index / "level").read_text())
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip().upper()
            found[level] = int(size[:-1]) * units[size[-1]] if size[-1:] in units else int(size)
        except (OSError, ValueError, KeyError, IndexError):
            continue
        if kind not in ("Unified", "Data"):
            found[level] = None
    return found[2], found[3]


def cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine(**versions: str) -> dict[str, Any]:
    """The run header's machine: CPU model, cores, L2/L3 sizes, platform, Python, plus versions."""
    l2, l3 = cache_sizes()
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "l2_bytes": l2,
        "l3_bytes": l3,
        "platform": platform.platform(),
        "python": platform.python_version(),
        **versions,
    }


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def results_doc(
    name: str,
    metrics: list[dict[str, Any]],
    *,
    machine: dict[str, Any],
    repeats: int,
    spread: str,
    params: dict[str, Any] | None = None,
    notes: list[str] | None = None,
    loaded: bool | None = None,
    date: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    doc = {
        "schema": SCHEMA_VERSION,
        "bench": name,
        "run": {
            "date": date or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": machine,
            "repeats": repeats,
            "statistic": "median",
            "spread": spread,
            "loaded": loaded,
            "params": params or {},
            "notes": notes or [],
        },
        "metrics": metrics,
    }
    if extra:
        doc["extra"] = extra
    return doc


def write_results(name: str, metrics: list[dict[str, Any]], *, path: Path | None = None, **header: Any) -> Path:
    """Validate and write bench/results/<name>.json (or `path`); header: see results_doc."""
    doc = results_doc(name, metrics, **header)
    errors = validate(doc)
    if errors:
        raise ValueError(f"bench results {name!r} do not match the schema:\n  " + "\n  ".join(errors))
    path = path or RESULTS_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


# -- reading ----------------------------------------------------------------------------------
def load_results(name_or_path: str | Path) -> dict[str, Any]:
    """A results file (by bench name or path), validated; ValueError lists what is wrong."""
    path = Path(name_or_path)
    if not path.suffix:
        path = RESULTS_DIR / f"{name_or_path}.json"
    doc = json.loads(path.read_text())
    errors = validate(doc)
    if errors:
        raise ValueError(f"{path} does not match the bench results schema:\n  " + "\n  ".join(errors))
    return doc


def all_results(directory: Path = RESULTS_DIR) -> dict[str, dict[str, Any]]:
    return {p.stem: load_results(p) for p in sorted(directory.glob("*.json"))}


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check_spread(where: str, v: Any, errors: list[str]) -> None:
    if v is not None and not (isinstance(v, list) and len(v) == 2 and all(_num(x) for x in v) and v[0] <= v[1]):
        errors.append(f"{where}: must be null or [low, high] numbers, low <= high")


def validate(doc: Any) -> list[str]:
    """Everything that does not match the schema, as readable messages ([] = valid)."""
    errors: list[str] = []
    if not isinstance(doc, dict):
        return ["the document must be a JSON object"]
    if doc.get("schema") != SCHEMA_VERSION:
        errors.append(f"schema: must be {SCHEMA_VERSION}, got {doc.get('schema')!r}")
    if not isinstance(doc.get("bench"), str) or not doc.get("bench"):
        errors.append("bench: must be a non-empty string")
    extra = set(doc) - {"schema", "bench", "run", "metrics", "extra"}
    if extra:
        errors.append(f"unknown top-level keys {sorted(extra)}")
    run = doc.get("run")
    if not isinstance(run, dict):
        errors.append("run: must be an object")
    else:
        if not isinstance(run.get("date"), str) or not re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d", run.get("date", "")):
            errors.append("run.date: must be an ISO date-time string")
        m = run.get("machine")
        if not isinstance(m, dict):
            errors.append("run.machine: must be an object")
        else:
            for key in ("cpu_model", "cores", "l2_bytes", "l3_bytes", "platform", "python"):
                if key not in m:
                    errors.append(f"run.machine.{key}: missing (null if not recorded)")
            for key in ("cores", "l2_bytes", "l3_bytes"):
                if m.get(key) is not None and not (isinstance(m[key], int) and m[key] > 0):
                    errors.append(f"run.machine.{key}: must be a positive integer or null")
        if not (isinstance(run.get("repeats"), int) and run["repeats"] > 0):
            errors.append("run.repeats: must be a positive integer")
        if run.get("statistic") != "median":
            errors.append("run.statistic: must be 'median'")
        if run.get("spread") not in SPREADS:
            errors.append(f"run.spread: must be one of {SPREADS}")
        if run.get("loaded") not in (True, False, None):
            errors.append("run.loaded: must be true, false or null")
        if not isinstance(run.get("params"), dict):
            errors.append("run.params: must be an object")
        if not (isinstance(run.get("notes"), list) and all(isinstance(n, str) for n in run["notes"])):
            errors.append("run.notes: must be a list of strings")
    metrics = doc.get("metrics")
    if not (isinstance(metrics, list) and metrics):
        errors.append("metrics: must be a non-empty list")
        return errors
    seen: set[str] = set()
    for i, mt in enumerate(metrics):
        errors += _validate_metric(f"metrics[{i}]", mt, seen)
    return errors


METRIC_KEYS = {"id", "label", "unit", "better", "ours", "ours_spread", "baseline_name", "baseline",
               "baseline_spread", "ratio", "goal", "goal_met", "also", "note"}  # fmt: skip


def _validate_metric(where: str, mt: Any, seen: set[str]) -> list[str]:
    if not isinstance(mt, dict):
        return [f"{where}: must be an object"]
    errors = [f"{where}.{k}: missing" for k in sorted(METRIC_KEYS - set(mt))]
    errors += [f"{where}.{k}: unknown key" for k in sorted(set(mt) - METRIC_KEYS)]
    if errors:
        return errors
    where = f"{where} ({mt['id']!r})"
    if not isinstance(mt["id"], str) or not mt["id"] or mt["id"] in seen:
        errors.append(f"{where}.id: must be a unique non-empty string")
    seen.add(str(mt["id"]))
    for key in ("label", "unit"):
        if not isinstance(mt[key], str) or not mt[key]:
            errors.append(f"{where}.{key}: must be a non-empty string")
    if mt["better"] not in ("lower", "higher"):
        errors.append(f"{where}.better: must be 'lower' or 'higher'")
    for key in ("ours", "baseline", "ratio"):
        if mt[key] is not None and not _num(mt[key]):
            errors.append(f"{where}.{key}: must be a finite number or null")
    _check_spread(f"{where}.ours_spread", mt["ours_spread"], errors)
    _check_spread(f"{where}.baseline_spread", mt["baseline_spread"], errors)
    if (mt["baseline"] is None) != (mt["baseline_name"] is None):
        errors.append(f"{where}: baseline and baseline_name go together")
    if mt["ratio"] is not None and _num(mt["ours"]) and _num(mt["baseline"]) and mt["baseline"]:
        exact = mt["ours"] / mt["baseline"]
        if abs(mt["ratio"] - exact) > max(RATIO_ABS_TOL, RATIO_REL_TOL * abs(exact)):
            errors.append(f"{where}.ratio: {mt['ratio']} is not ours / baseline = {exact:.6g}")
    elif mt["ratio"] is not None:
        errors.append(f"{where}.ratio: needs ours and a non-zero baseline")
    g = mt["goal"]
    if g is not None:
        if not (isinstance(g, dict) and set(g) == {"op", "ratio", "text"} and g["op"] in OPS and _num(g["ratio"])
                and isinstance(g["text"], str)):  # fmt: skip
            errors.append(f"{where}.goal: must be null or {{op: '<=' | '>=', ratio: number, text: string}}")
        elif mt["goal_met"] != goal_met(g, mt["ratio"]):
            errors.append(f"{where}.goal_met: {mt['goal_met']} disagrees with ratio {mt['ratio']} {g['op']} {g['ratio']}")
    elif mt["goal_met"] is not None:
        errors.append(f"{where}.goal_met: must be null without a goal")
    if not isinstance(mt["also"], list):
        errors.append(f"{where}.also: must be a list")
    else:
        for j, a in enumerate(mt["also"]):
            if not (isinstance(a, dict) and set(a) == {"name", "value", "spread"} and isinstance(a["name"], str)
                    and (a["value"] is None or _num(a["value"]))):  # fmt: skip
                errors.append(f"{where}.also[{j}]: must be {{name, value, spread}}")
            else:
                _check_spread(f"{where}.also[{j}].spread", a["spread"], errors)
    if not isinstance(mt["note"], str):
        errors.append(f"{where}.note: must be a string")
    return errors


# -- the value/baseline_value tables bench_step.py and bench_env.py build -------------------
_GOAL_TEXT = re.compile(r"^\s*(<=|>=)\s*([0-9.]+)x\b")
HIGHER_IS_BETTER_UNITS = ("/s",)  # rates and bandwidths; times are lower-is-better


def better_for(unit: str) -> str:
    return "higher" if unit.endswith(HIGHER_IS_BETTER_UNITS) else "lower"


def metrics_from_value_table(table: dict[str, dict[str, Any]], numeric_goal_op: str = ">=") -> list[dict[str, Any]]:
    """Schema metrics from {id: {value, unit, spread, baseline, baseline_value, ratio, goal,
    goal_met, [label], [note]}} - the table bench_step.py and bench_env.py print.  A goal is
    either text ("<= 3x python_floor_median") or a number compared with `numeric_goal_op`;
    a baseline that names another row of the table takes that row's spread."""
    out = []
    for key, m in table.items():
        g = m.get("goal")
        if isinstance(g, str):
            found = _GOAL_TEXT.match(g)
            if not found:
                raise ValueError(f"metric {key!r}: cannot read goal {g!r}")
            g = goal(found[1], float(found[2]), g)
        elif g is not None:
            g = goal(numeric_goal_op, g, f"{numeric_goal_op} {g:g}x {m.get('baseline')}")
        base_row = table.get(m["baseline"]) if isinstance(m.get("baseline"), str) else None
        row = metric(
            key,
            m.get("label", key),
            m["unit"],
            m["value"],
            better=better_for(m["unit"]),
            ours_spread=m.get("spread"),
            baseline_name=m["baseline"] if m.get("baseline_value") is not None else None,
            baseline=m.get("baseline_value"),
            baseline_spread=base_row.get("spread") if base_row else None,
            goal=g,
            note=m.get("note", ""),
            ratio=m.get("ratio"),
        )
        if m.get("goal_met") is not None and row["goal_met"] != m["goal_met"]:
            raise ValueError(f"metric {key!r}: goal_met {m['goal_met']} disagrees with the goal {g}")
        out.append(row)
    return out
