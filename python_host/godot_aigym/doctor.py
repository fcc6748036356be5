"""`godot-aigym doctor`: which engine, libraries and Python are used, and why (text or JSON)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console

from . import __version__, locations
from .project_tools import build_stamp, library_sources
from .project_tools.libraries import library_path
from .runtime import GodotNotFoundError, cache_root, probe_version, resolve_godot, runtime_dir
from .runtime.resolve import ENV_VAR, MIN_VERSION, parse_version, search_order

out = Console(soft_wrap=True, highlight=False)


# ---- the extension libraries --------------------------------------------------------------------
def library_status(kind: str, target: str = "debug") -> dict[str, Any]:
    """Whether library `kind` (a name of `library_sources.LIBRARIES`) is built, and which of the
    files it is built from (its sources, their headers, its class reference) changed since."""
    lib = library_path(kind, target)
    status: dict[str, Any] = {"path": str(lib), "exists": lib.is_file(), "up_to_date": None, "newer_sources": []}
    if lib.is_file():
        tree = locations.extension_tree()
        changed = build_stamp.changed_library_sources(tree, kind, lib)  # by content, as scons judges
        if changed is not None:
            newer = [f"gdextension/{rel}" for rel in changed]
        else:  # not built by `godot-aigym setup` (no record of this very file): judged by file times
            gdextension = tree / "gdextension"
            sources = library_sources.inputs(gdextension, kind) if gdextension.is_dir() else []
            built = lib.stat().st_mtime
            newer = sorted(str(p.relative_to(tree)) for p in sources if p.stat().st_mtime > built)
        status["up_to_date"] = not newer
        status["newer_sources"] = newer
    return status


# ---- doctor -------------------------------------------------------------------------------------
def _survey(explicit: str | None) -> list[dict[str, Any]]:
    """Every engine the resolver could consider, in its order (`search_order`), probed one by one
    (the resolver stops at the first usable one)."""
    found = search_order(explicit)
    rows = []
    for source, path in found:
        row: dict[str, Any] = {"source": source, "path": path, "version": None, "usable": False, "reason": ""}
        if path is None:
            row["reason"] = "no `godot` executable on PATH"
        elif source == "cache" and not Path(path).exists():
            row["reason"] = "not provisioned yet"
        else:
            try:
                row["version"] = probe_version(path, retry_failed=False)  # the resolver's outcome, not a second timeout
                ok = (parse_version(row["version"]) or (0, 0)) >= MIN_VERSION
                row["usable"] = ok
                row["reason"] = "" if ok else f"older than {MIN_VERSION[0]}.{MIN_VERSION[1]}"
            except GodotNotFoundError as e:
                row["reason"] = str(e)
        rows.append(row)
    return rows


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def collect_doctor(godot: str | None = None, provision: bool = True, progress=None) -> dict[str, Any]:
    """Everything `doctor` reports, as one JSON-able dict (`ok` is False when no engine)."""
    lay = locations.layout()
    report: dict[str, Any] = {"godot_aigym": __version__, "layout": lay.kind,
                              "repo": str(lay.repo) if lay.repo else None, "ok": True}
    engine: dict[str, Any] = {"path": None, "version": None, "source": None, "notes": [], "error": None}
    try:
        rt = resolve_godot(godot, provision=provision, progress=progress)
        engine.update(path=str(rt.path), version=rt.version, source=rt.source, notes=list(rt.notes))
    except GodotNotFoundError as e:
        engine["error"] = str(e)
        report["ok"] = False
    report["engine"] = engine
    report["candidates"] = _survey(godot)
    report["cache"] = {"root": str(cache_root()), "runtime": str(runtime_dir()),
                       "override": "GODOT_AIGYM_CACHE"}
    report["extension"] = {
        "bin": str(locations.library_dir()),
        **{name: library_status(name) for name in library_sources.ADDON_LIBRARIES},
        "release": {name: library_status(name, "release") for name in library_sources.ADDON_LIBRARIES},
    }
    helpers = {m: importlib.util.find_spec(f"godot_aigym.shared_object.{m}") for m in ("_sync", "_slotcopy")}
    report["python"] = {
        "executable": sys.executable,
        "version": ".".join(map(str, sys.version_info[:3])),
        "prefix": sys.prefix,
        "venv": sys.prefix != sys.base_prefix,
        "packages": {name: _package_version(name) for name in
                     ("numpy", "torch", "gymnasium", "stable-baselines3", "rich", "scons", "godot-aigym")},
        "shared_object_helper": {"built": all(helpers.values()),
                                 "path": {m: spec.origin if spec else None for m, spec in helpers.items()}},
    }
    shm: dict[str, Any] = {"path": "/dev/shm", "free_bytes": None, "total_bytes": None, "aigym_chunks": None}
    try:
        usage = shutil.disk_usage("/dev/shm")
        shm.update(free_bytes=usage.free, total_bytes=usage.total,
                   aigym_chunks=len([n for n in os.listdir("/dev/shm") if n.startswith("aigym_")]))
    except OSError as e:
        shm["error"] = str(e)
    report["shm"] = shm
    return report


def _mib(n: int | None) -> str:
    return "?" if n is None else f"{n / (1 << 20):,.0f} MiB"


def _lib_line(status: dict[str, Any]) -> str:
    if not status["exists"]:
        return f"[red]missing[/] {status['path']}  (run `godot-aigym setup`; in a checkout `make build`)"
    if status["up_to_date"]:
        return f"[green]built[/] {status['path']}"
    shown = ", ".join(status["newer_sources"][:3]) + (" ..." if len(status["newer_sources"]) > 3 else "")
    return f"[yellow]stale[/] {status['path']}  (changed since: {shown}; run `godot-aigym setup`)"


def print_doctor(r: dict[str, Any]) -> None:
    where = f"checkout {r['repo']}" if r["repo"] else "installed package"
    out.print(f"[bold]godot-aigym {r['godot_aigym']}[/] doctor  ({where})")
    e = r["engine"]
    out.print("\n[bold]Godot engine[/]")
    if e["error"]:
        out.print(f"  [red]no usable engine[/]: {e['error']}")
    else:
        out.print(f"  using   [green]{e['path']}[/]")
        out.print(f"  version {e['version']}  (source: {e['source']})")
    for note in e["notes"]:
        out.print(f"  resolver: {note}")
    out.print("  engines considered, in the resolver's order:")
    for c in r["candidates"]:
        verdict = f"[green]usable[/] {c['version']}" if c["usable"] else f"[yellow]{c['reason']}[/]"
        out.print(f"    {c['source']:<9} {c['path'] or '-'}: {verdict}")
    out.print(f"  cache: {r['cache']['runtime']}  (override the folder with GODOT_AIGYM_CACHE; "
              f"use your own engine with {ENV_VAR}=/path/to/godot)")
    x = r["extension"]
    out.print("\n[bold]Extension libraries[/] (debug target; the editor build of Godot loads these)")
    for name in library_sources.ADDON_LIBRARIES:
        out.print(f"  {name:<13} {_lib_line(x[name])}")
    p = r["python"]
    out.print("\n[bold]Python[/]")
    out.print(f"  {p['executable']}  (Python {p['version']}{', venv' if p['venv'] else ''})")
    out.print("  " + ", ".join(f"{k} {v or '[red]missing[/]'}" for k, v in p["packages"].items()))
    helper = p["shared_object_helper"]
    for mod, path in helper["path"].items():
        out.print(f"  SharedObject C helper {mod}: " + (f"[green]built[/] {path}" if path
                                                        else "[red]not built[/] (reinstall godot-aigym)"))
    s = r["shm"]
    out.print("\n[bold]Shared memory[/]")
    if s.get("error"):
        out.print(f"  [red]{s['error']}[/]")
    else:
        low = s["free_bytes"] is not None and s["free_bytes"] < (256 << 20)
        free = f"[red]{_mib(s['free_bytes'])}[/]" if low else _mib(s["free_bytes"])
        out.print(f"  /dev/shm: {free} free of {_mib(s['total_bytes'])}; {s['aigym_chunks']} aigym_* chunk(s)")


