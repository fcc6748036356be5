"""The `godot-aigym` command.

    godot-aigym doctor [--json] [--godot PATH] [--no-provision]   what was found, and why
    godot-aigym setup [--release] [--no-torch] [--godot PATH]     engine + extension build (+ the checkout's imports)
    godot-aigym smoke [--godot PATH]                              the demo project's smoke scene, headless
    godot-aigym demo [ARGS...]                                    the demo (needs the `demo` extra)
    godot-aigym add PROJECT_DIR [--force] [--no-torch]            the addon into your Godot project
    godot-aigym new-env PROJECT_DIR NAME [--force]                an environment scene from a template
    godot-aigym export PROJECT_DIR --out DIR --policy FILE        the game + policy, runnable without Python

Every command works from an installed package (the extension is built on first use into the
per-user cache) and from a source checkout (`make build` builds it in demo_project/).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from rich.console import Console

from . import __version__, locations
from .doctor import collect_doctor, print_doctor
from .project_tools import ProjectError
from .project_tools.libraries import build_libraries
from .runtime import GodotNotFoundError, GodotRuntime, resolve_godot
from .runtime.resolve import ENV_VAR

SMOKE_SCENE = "res://smoke/smoke.tscn"

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


class CliError(Exception):
    """A failure with a message for the user (printed without a traceback)."""


def _say(msg: str) -> None:
    out.print(f"    [dim]{msg}[/]")


def _resolve(godot: str | None) -> GodotRuntime:
    try:
        return resolve_godot(godot, progress=_say)
    except GodotNotFoundError as e:
        raise CliError(str(e)) from None


def import_project(project: Path, runtime: GodotRuntime) -> bool:
    """`ensure_imported` (which seeds the extension list first); True if an import ran."""
    from .engine import ProjectImportError, ensure_imported

    try:
        return ensure_imported(project, runtime)
    except ProjectImportError as e:
        raise CliError(str(e)) from None


# ---- doctor -------------------------------------------------------------------------------------
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


# ---- setup --------------------------------------------------------------------------------------
def cmd_setup(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    out.print("[bold]==> Godot engine[/]")
    rt = _resolve(args.godot)
    out.print(f"    Godot {rt.version} ({rt.source}): {rt.path}")
    out.print("[bold]==> Extension build (scons)[/]")
    build_libraries(rt, release=args.release, torch=not args.no_torch, say=_say)
    lay = locations.layout()
    if lay.repo is not None:
        out.print("[bold]==> Project import[/]")
        for project in (lay.demo_project, lay.repo / "tests" / "project"):
            if not (project / "project.godot").is_file():
                continue
            t = time.monotonic()
            ran = import_project(project, rt)
            what = f"imported ({time.monotonic() - t:.1f} s)" if ran else "up to date"
            out.print(f"    {project.relative_to(lay.repo)}: {what}")
    out.print(f"[green]setup done[/] in {time.monotonic() - t0:.1f} s")
    return 0


# ---- smoke --------------------------------------------------------------------------------------
@dataclass
class SmokeResult:
    code: int
    output: str
    engine: str | None
    extension: str | None


def run_smoke(runtime: GodotRuntime, project: Path, timeout: float = 120.0) -> SmokeResult:
    """Run the demo project's smoke scene headless; parse its AIGYM_* lines."""
    from .engine import LaunchOptions, run_godot

    import_project(project, runtime)
    code, output = run_godot(LaunchOptions(project=project, scene=SMOKE_SCENE), timeout=timeout, godot=runtime)
    engine = extension = None
    for line in output.splitlines():
        if line.startswith("AIGYM_ENGINE "):
            engine = line.split(" ", 1)[1].strip()
        elif line.startswith("AIGYM_EXTENSION "):
            extension = line.split(" ", 1)[1].strip()
    return SmokeResult(code, output, engine, extension)


def cmd_smoke(args: argparse.Namespace) -> int:
    from .demo.project import DemoProjectError, ready_demo_project

    rt = _resolve(getattr(args, "godot", None))
    try:
        project = ready_demo_project(None, rt, say=_say)
    except DemoProjectError as e:
        raise CliError(str(e)) from None
    res = run_smoke(rt, project)
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
def cmd_demo(extra: Sequence[str]) -> int:
    from .demo import main as demo_main

    missing = [m for m in ("torch", "stable_baselines3", "matplotlib") if not _importable(m)]
    if missing:
        raise CliError(f"the demo needs {', '.join(missing)}: pip install 'godot-aigym[demo]'")
    result = demo_main(list(extra))
    return result if isinstance(result, int) else 0


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# ---- your own project ---------------------------------------------------------------------------
def cmd_add(args: argparse.Namespace) -> int:
    from .project_tools import add_addon, next_steps

    rt = _resolve(args.godot)
    out.print(f"[bold]==> Adding godot-aigym {__version__} to {Path(args.project).expanduser()}[/] "
              f"(Godot {rt.version})")
    result = add_addon(args.project, rt, force=args.force, torch=False if args.no_torch else None, say=_say)
    if result.changed:
        out.print(f"    {result.addon}: {len(result.changed)} file(s) written")
    else:
        out.print(f"    {result.addon}: already up to date")
    if result.registered:
        out.print(f"    registered in .godot/extension_list.cfg: {', '.join(result.registered)}")
    out.print(f"    import: {'done' if result.imported else 'up to date'}")
    out.print(next_steps(result))
    return 0


def cmd_new_env(args: argparse.Namespace) -> int:
    from .project_tools import new_env

    result = new_env(args.project, args.name, force=args.force)
    for path in result.files:
        out.print(f"    wrote {path}")
    project = Path(args.project).expanduser().resolve()
    out.print(f"Step it from Python:\n    from godot_aigym import GodotEnv\n"
              f"    env = GodotEnv(project=\"{project}\", scene=\"{result.scene}\")\n"
              "    obs, info = env.reset(seed=0); obs, reward, terminated, truncated, info = env.step(env.action_space.sample())")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .project_tools import export_game

    rt = _resolve(args.godot)
    result = export_game(args.project, args.out, rt, policy=args.policy, no_policy=args.no_policy, scene=args.scene,
                         engine=args.engine, force=args.force, copy=args.copy, headless_only=args.headless_only,
                         say=_say)
    out.print(f"[green]exported[/] {result.out}: {result.size / 1e6:,.0f} MB in {result.files} files; engine: {result.engine}")
    if result.missing_system_libs:
        out.print(f"    [yellow]not in the engine's runtime, taken from the system where the game runs:[/] "
                  f"{', '.join(result.missing_system_libs)}")
    out.print(f"Run it from anywhere: {result.out / 'run.sh'} --headless   (arguments go to Godot)")
    return 0


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

    p = sub.add_parser("setup", help="get the engine, build the extension (in a checkout: import the projects)")
    p.add_argument("--release", action="store_true", help="build the release libraries (export templates load "
                   "these; the editor build of Godot loads the debug ones)")
    p.add_argument("--no-torch", action="store_true", help="skip the libtorch library")
    p.add_argument("--godot", metavar="PATH", help=godot_help)

    p = sub.add_parser("smoke", help="run the demo project's smoke scene headless")
    p.add_argument("--godot", metavar="PATH", help=godot_help)

    sub.add_parser("demo", help="the demo: train in Godot, play in Godot (`godot-aigym demo --help`)", add_help=False)

    p = sub.add_parser("add", help="add the addon (with built libraries) to your Godot project and import it")
    p.add_argument("project", metavar="PROJECT_DIR", help="the folder with your project.godot")
    p.add_argument("--force", action="store_true", help="replace addon files you changed (listed otherwise)")
    p.add_argument("--no-torch", action="store_true", help="without the TorchScript library (no policies in-game)")
    p.add_argument("--godot", metavar="PATH", help=godot_help)

    p = sub.add_parser("new-env", help="write an environment scene and agent script from a template")
    p.add_argument("project", metavar="PROJECT_DIR", help="the folder with your project.godot")
    p.add_argument("name", metavar="NAME", help="environment name: envs/NAME/NAME.tscn (lower_case)")
    p.add_argument("--force", action="store_true", help="overwrite existing files of that name")

    p = sub.add_parser("export", help="a folder that runs the game with its policy, without Python")
    p.add_argument("project", metavar="PROJECT_DIR", help="the folder with your project.godot")
    p.add_argument("--out", required=True, metavar="DIR", help="the folder to create (outside the project)")
    which = p.add_mutually_exclusive_group()  # both: one of them is ignored
    which.add_argument("--policy", metavar="FILE", help="the TorchScript policy (godot_aigym.export_policy)")
    which.add_argument("--no-policy", action="store_true", help="ship a game that runs without a policy")
    p.add_argument("--scene", metavar="RES_PATH", help="scene to run (default: the project's main scene)")
    p.add_argument("--engine", choices=("auto", "template", "runtime"), default="auto",
                   help="auto: your Linux export template for this Godot version if installed, else the engine")
    p.add_argument("--force", action="store_true", help="replace DIR if it exists")
    p.add_argument("--headless-only", action="store_true",
                   help="leave the provisioned engine's GL libraries out (about 235 MB): the game runs --headless")
    p.add_argument("--copy", action="store_true",
                   help="copy libtorch's libraries (default: hard links to this venv's torch where the file "
                        "system allows; they share its content, so use --copy if you will edit them in place)")
    p.add_argument("--godot", metavar="PATH", help=godot_help)
    return ap


COMMANDS = {"doctor": cmd_doctor, "setup": cmd_setup, "smoke": cmd_smoke, "add": cmd_add, "new-env": cmd_new_env,
            "export": cmd_export}
PROJECT_COMMANDS = ("add", "new-env", "export")  # they write into a project or folder the user names


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
        if args.command == "demo":
            return cmd_demo(extra)
        return COMMANDS[args.command](args)
    except (CliError, ProjectError) as e:
        err.print(f"[red]error:[/] {e}")
        return 1
    except PermissionError as e:  # a project or folder of another user: was a traceback
        if args.command not in PROJECT_COMMANDS or e.filename is None:
            raise  # elsewhere (a run, our ...NotPrivate errors) the traceback and own message matter
        err.print(f"[red]error:[/] permission denied: {e.filename} ({e.strerror}): run `godot-aigym {args.command}` as a "
                  "user who may write there, or give a folder of yours")
        return 1
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
