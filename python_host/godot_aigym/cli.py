"""The `godot-aigym` command: doctor, setup, smoke and demo.

    godot-aigym doctor [--json] [--godot PATH] [--no-provision]   what was found, and why
    godot-aigym setup [--release] [--no-torch] [--godot PATH]     engine + extension build + project import
    godot-aigym smoke [--godot PATH]                              the demo project's smoke scene, headless
    godot-aigym demo [ARGS...]                                    godot_aigym.demo.main(ARGS), else smoke

`setup`, `smoke` and `demo` work from a source checkout (they need SConstruct and
demo_project/ next to python_host/); `doctor` works anywhere.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

from rich.console import Console

from . import __version__
from .runtime import GodotNotFoundError, GodotRuntime, cache_root, probe_version, resolve_godot, runtime_dir
from .runtime.resolve import ENV_VAR, MIN_VERSION, parse_version

REPO = Path(__file__).resolve().parents[2]
DEMO_PROJECT = REPO / "demo_project"
TEST_PROJECT = REPO / "tests" / "project"
GDEXTENSION = REPO / "gdextension"
ADDON_BIN = DEMO_PROJECT / "addons" / "godot_aigym" / "bin"
SMOKE_SCENE = "res://smoke/smoke.tscn"
SOURCE_SUFFIXES = (".cpp", ".h", ".hpp", ".c", ".inc")

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


class CliError(Exception):
    """A failure with a message for the user (printed without a traceback)."""


# ---- the extension libraries --------------------------------------------------------------------
def library_path(kind: str, target: str = "debug") -> Path:
    """demo_project/addons/godot_aigym/bin/libaigym_<kind>.linux.<target>.x86_64.so"""
    return ADDON_BIN / f"libaigym_{kind}.linux.{target}.x86_64.so"


def _library_sources(kind: str) -> list[Path]:
    """Source files a library is built from (approximate: core = all but torch, torch = binding + torch)."""
    if not GDEXTENSION.is_dir():
        return []
    files = [p for p in GDEXTENSION.rglob("*") if p.is_file() and p.suffix in SOURCE_SUFFIXES]
    rel = lambda p: p.relative_to(GDEXTENSION).parts  # noqa: E731
    if kind == "torch":
        return [p for p in files if rel(p)[0] in ("binding", "torch", "torch_library.cpp", "version.h")]
    return [p for p in files if rel(p)[0] not in ("torch", "torch_library.cpp", "tools")]


def library_status(kind: str, target: str = "debug") -> dict[str, Any]:
    lib = library_path(kind, target)
    status: dict[str, Any] = {"path": str(lib), "exists": lib.is_file(), "up_to_date": None, "newer_sources": []}
    sources = _library_sources(kind)
    if lib.is_file():
        built = lib.stat().st_mtime
        newer = sorted(str(p.relative_to(REPO)) for p in sources if p.stat().st_mtime > built)
        status["up_to_date"] = not newer
        status["newer_sources"] = newer
    return status


# ---- doctor -------------------------------------------------------------------------------------
def _survey(explicit: str | None) -> list[dict[str, Any]]:
    """Every engine the resolver could consider, probed one by one (the resolver stops at the first)."""
    found: list[tuple[str, str | None]] = []
    if explicit:
        found.append(("explicit", explicit))
    if os.environ.get(ENV_VAR):
        found.append((ENV_VAR, os.environ[ENV_VAR]))
    found.append(("PATH", shutil.which("godot")))
    found.append(("cache", str(runtime_dir() / "bin" / "godot")))
    rows = []
    for source, path in found:
        row: dict[str, Any] = {"source": source, "path": path, "version": None, "usable": False, "reason": ""}
        if path is None:
            row["reason"] = "no `godot` executable on PATH"
        elif source == "cache" and not Path(path).exists():
            row["reason"] = "not provisioned yet"
        else:
            try:
                row["version"] = probe_version(path)
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
    report: dict[str, Any] = {"godot_aigym": __version__, "repo": str(REPO), "ok": True}
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
        "bin": str(ADDON_BIN),
        "core": library_status("core"),
        "torch": library_status("torch"),
        "release": {"core": library_status("core", "release"), "torch": library_status("torch", "release")},
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
        return f"[red]missing[/] {status['path']}  (run `make build` or `godot-aigym setup`)"
    if status["up_to_date"]:
        return f"[green]built[/] {status['path']}"
    shown = ", ".join(status["newer_sources"][:3]) + (" ..." if len(status["newer_sources"]) > 3 else "")
    return f"[yellow]stale[/] {status['path']}  (newer: {shown}; run `make build`)"


def print_doctor(r: dict[str, Any]) -> None:
    out.print(f"[bold]godot-aigym {r['godot_aigym']}[/] doctor  (repo {r['repo']})")
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
    out.print(f"  core  {_lib_line(x['core'])}")
    out.print(f"  torch {_lib_line(x['torch'])}")
    p = r["python"]
    out.print("\n[bold]Python[/]")
    out.print(f"  {p['executable']}  (Python {p['version']}{', venv' if p['venv'] else ''})")
    out.print("  " + ", ".join(f"{k} {v or '[red]missing[/]'}" for k, v in p["packages"].items()))
    helper = p["shared_object_helper"]
    for mod, path in helper["path"].items():
        out.print(f"  SharedObject C helper {mod}: " + (f"[green]built[/] {path}" if path
                                                        else "[red]not built[/] (run `pip install -e .`)"))
    s = r["shm"]
    out.print("\n[bold]Shared memory[/]")
    if s.get("error"):
        out.print(f"  [red]{s['error']}[/]")
    else:
        low = s["free_bytes"] is not None and s["free_bytes"] < (256 << 20)
        free = f"[red]{_mib(s['free_bytes'])}[/]" if low else _mib(s["free_bytes"])
        out.print(f"  /dev/shm: {free} free of {_mib(s['total_bytes'])}; {s['aigym_chunks']} aigym_* chunk(s)")


def cmd_doctor(args: argparse.Namespace) -> int:
    progress = (lambda msg: err.print(f"[dim]{msg}[/]")) if args.json else (lambda msg: out.print(f"[dim]{msg}[/]"))
    report = collect_doctor(args.godot, provision=not args.no_provision, progress=progress)
    if args.json:
        print(json.dumps(report, indent=2), flush=True)
    else:
        print_doctor(report)
    if not report["ok"]:
        err.print(f"[red]error:[/] {report['engine']['error']}")
        return 1
    return 0


# ---- project import -----------------------------------------------------------------------------
def import_project(project: Path, runtime: GodotRuntime) -> bool:
    """`ensure_imported` with the extension list seeded first; True if an import ran."""
    from .engine import ProjectImportError, ensure_imported

    try:
        return ensure_imported(project, runtime)
    except ProjectImportError as e:
        raise CliError(str(e)) from None


# ---- setup --------------------------------------------------------------------------------------
def _require_checkout() -> None:
    if not (REPO / "SConstruct").is_file() or not DEMO_PROJECT.is_dir():
        raise CliError(f"this command needs the godot-aigym source checkout (no SConstruct/demo_project in {REPO}); "
                       "install with `pip install -e .` from a clone")


def _resolve(godot: str | None) -> GodotRuntime:
    try:
        return resolve_godot(godot, progress=lambda msg: out.print(f"    [dim]{msg}[/]"))
    except GodotNotFoundError as e:
        raise CliError(str(e)) from None


def scons_command(runtime: GodotRuntime, release: bool = False, torch: bool = True) -> list[str]:
    return [sys.executable, "-m", "SCons", "-Q", f"-j{os.cpu_count() or 2}",
            f"target={'release' if release else 'debug'}", f"torch={'yes' if torch else 'no'}",
            f"godot={runtime.path}"]


def cmd_setup(args: argparse.Namespace) -> int:
    _require_checkout()
    t0 = time.monotonic()
    out.print("[bold]==> Godot engine[/]")
    rt = _resolve(args.godot)
    out.print(f"    Godot {rt.version} ({rt.source}): {rt.path}")

    out.print("[bold]==> Extension build (scons)[/]")
    if importlib.util.find_spec("SCons") is None:
        raise CliError(f"scons is not installed in {sys.executable}: pip install -r requirements.txt")
    torch = not args.no_torch
    if torch and importlib.util.find_spec("torch") is None:
        raise CliError("torch is not installed in this Python: pip install -r requirements.txt "
                       "(torch==2.13.0, CPU), or `godot-aigym setup --no-torch`")
    cmd = scons_command(rt, release=args.release, torch=torch)
    t = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise CliError(f"scons failed (exit {proc.returncode}): {' '.join(cmd)}")
    out.print(f"    libraries in {ADDON_BIN.relative_to(REPO)}/ ({time.monotonic() - t:.1f} s)")

    out.print("[bold]==> Project import[/]")
    for project in (DEMO_PROJECT, TEST_PROJECT):
        if not (project / "project.godot").is_file():
            continue
        t = time.monotonic()
        ran = import_project(project, rt)
        what = f"imported ({time.monotonic() - t:.1f} s)" if ran else "up to date"
        out.print(f"    {project.relative_to(REPO)}: {what}")
    out.print(f"[green]setup done[/] in {time.monotonic() - t0:.1f} s")
    return 0


# ---- smoke --------------------------------------------------------------------------------------
@dataclass
class SmokeResult:
    code: int
    output: str
    engine: str | None
    extension: str | None


def run_smoke(runtime: GodotRuntime, timeout: float = 120.0) -> SmokeResult:
    """Run the demo project's smoke scene headless; parse its AIGYM_* lines."""
    from .engine import LaunchOptions, run_godot

    import_project(DEMO_PROJECT, runtime)
    code, output = run_godot(LaunchOptions(project=DEMO_PROJECT, scene=SMOKE_SCENE), timeout=timeout, godot=runtime)
    engine = extension = None
    for line in output.splitlines():
        if line.startswith("AIGYM_ENGINE "):
            engine = line.split(" ", 1)[1].strip()
        elif line.startswith("AIGYM_EXTENSION "):
            extension = line.split(" ", 1)[1].strip()
    return SmokeResult(code, output, engine, extension)


def cmd_smoke(args: argparse.Namespace) -> int:
    _require_checkout()
    rt = _resolve(getattr(args, "godot", None))
    core = library_path("core")
    if not core.is_file():
        raise CliError(f"the extension is not built ({core} missing): run `make build` or `godot-aigym setup`")
    res = run_smoke(rt)
    out.print(f"Godot engine: {rt.version} ({rt.source}: {rt.path})")
    if res.engine:
        out.print(f"Engine reports: {res.engine}")
    if res.extension is None or res.code != 0:
        tail = "\n".join(res.output.splitlines()[-25:])
        err.print(f"[red]error:[/] the smoke scene did not print the extension line (exit {res.code}); "
                  f"engine output:\n{tail}")
        return 1
    out.print(f"Extension: {res.extension}")
    return 0


# ---- demo ---------------------------------------------------------------------------------------
def _demo_main():
    """godot_aigym.demo.main if that module exists and has it, else None."""
    if importlib.util.find_spec("godot_aigym.demo") is None:
        return None
    return getattr(importlib.import_module("godot_aigym.demo"), "main", None)


def cmd_demo(args: argparse.Namespace, extra: Sequence[str]) -> int:
    main = _demo_main()
    if main is not None:
        result = main(list(extra))
        return result if isinstance(result, int) else 0
    if extra:
        raise CliError(f"unexpected arguments for the smoke demo: {' '.join(extra)}")
    out.print("[dim]godot_aigym.demo is not there yet: running the smoke scene[/]")
    return cmd_smoke(args)


# ---- entry point --------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="godot-aigym", description="Godot 4 scenes as fast RL environments.")
    ap.add_argument("--version", action="version", version=f"godot-aigym {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")

    godot_help = f"Godot engine to use (default: ${ENV_VAR}, `godot` on PATH >= 4.3, the cached or a provisioned one)"
    p = sub.add_parser("doctor", help="show which engine, libraries and Python are used, and why")
    p.add_argument("--json", action="store_true", help="print one JSON object (for scripts)")
    p.add_argument("--godot", metavar="PATH", help=godot_help)
    p.add_argument("--no-provision", action="store_true", help="do not download Godot if none is found")

    p = sub.add_parser("setup", help="get the engine, build the extension, import the projects (idempotent)")
    p.add_argument("--release", action="store_true", help="build the release libraries (export templates load "
                   "these; the editor build of Godot loads the debug ones)")
    p.add_argument("--no-torch", action="store_true", help="skip the libtorch library")
    p.add_argument("--godot", metavar="PATH", help=godot_help)

    p = sub.add_parser("smoke", help="run the demo project's smoke scene headless")
    p.add_argument("--godot", metavar="PATH", help=godot_help)

    sub.add_parser("demo", help="the demo: godot_aigym.demo.main(ARGS) when present, else the smoke scene",
                   add_help=False)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = build_parser()
    if argv[:1] == ["demo"]:  # everything after `demo` belongs to the demo
        args, extra = ap.parse_args(argv[:1]), argv[1:]
    else:
        args, extra = ap.parse_args(argv), []
    if args.command is None:
        ap.print_help()
        return 2
    try:
        if args.command == "doctor":
            return cmd_doctor(args)
        if args.command == "setup":
            return cmd_setup(args)
        if args.command == "smoke":
            return cmd_smoke(args)
        return cmd_demo(args, extra)
    except CliError as e:
        err.print(f"[red]error:[/] {e}")
        return 1
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
