"""`godot-aigym export PROJECT_DIR --out DIR --policy FILE`: a folder that runs the game, no Python.

    DIR/run.sh        starts the game from any directory (checks the folder is complete first)
    DIR/game.pck      the project, packed by Godot's --export-pack (no export templates needed)
    DIR/policy.jit    the TorchScript policy, passed to the game as `--policy` (GymEnv's play mode)
    DIR/bin/          the engine (an export template if the user has one for this version, else the
                      runtime engine, the provisioned one with its own loader and libraries), our
                      libraries and exactly the libtorch libraries they need, all found via $ORIGIN;
                      libtorch's are hard links to the venv's torch on the same file system
                      (they share its content: `--copy` makes real copies; ship.py says why)

The policy is loaded by the engine first, with the libraries the game ships (policy_check.py).
The folder is staged next to DIR and renamed into place, so a failure leaves nothing behind;
the project gets a temporary Linux preset in export_presets.cfg when it has none, removed after
(and by the next export if this one is killed: export_preset.py).
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..owners import owner_tag, parse_owner_tag, sweep
from ..runtime import GodotRuntime
from .add import ADDON_REL
from .bundle import EngineBundle, bundle_engine, bundle_extension
from .errors import ProjectError
from .export_preset import linux_preset, recover_killed_export
from .godot_project import GodotProject, check_engine_major, open_project, run_engine
from .libraries import ensure_libraries
from .policy_check import check_policy_loads, require_policy_file

EXPORT_TIMEOUT = 900.0

RUN_SH = """#!/bin/sh
# Starts {name} with its policy: made by `godot-aigym export`; works from any directory.
# Arguments go to Godot (e.g. --headless); the policy is passed as `--policy` to GymEnv.
HERE=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd -P) || exit 1
BIN="$HERE/bin"
while read -r f; do
  [ -e "$BIN/$f" ] || {{ echo "run.sh: $BIN/$f is missing (engine, extension or libtorch library): copy the whole folder, or export again with godot-aigym export" >&2; exit 1; }}
done < "$BIN/needed.txt"
data=${{XDG_DATA_HOME:-${{HOME:-/nonexistent}}/.local/share}}
if ! mkdir -p "$data/godot" 2>/dev/null || [ ! -w "$data/godot" ]; then
  echo "run.sh: Godot keeps the game's user data and logs in $data/godot, which cannot be written: set HOME or XDG_DATA_HOME to a writable folder" >&2
  exit 1
fi
exec {engine} --main-pack "$HERE/game.pck" {scene}"$@"{policy}
"""


@dataclass
class ExportResult:
    out: Path
    size: int
    engine: str
    files: int
    missing_system_libs: list[str]


def find_export_template(runtime: GodotRuntime) -> Path | None:
    """Godot's Linux release export template for the engine's version, where the user installed one."""
    m = re.match(r"(\d+\.\d+(?:\.\d+)?\.[a-z0-9]+)", runtime.version)
    if not m:
        return None
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    template = base / "godot" / "export_templates" / m.group(1) / "linux_release.x86_64"
    return template if template.is_file() else None


def export_pack(project: Path, runtime: GodotRuntime, pck: Path, say: Callable[[str], None] = print) -> None:
    with linux_preset(project) as preset:
        # said once the preset is in place: a test kills the export here (test_export_recovery.py)
        say(f"packing {project} with Godot {runtime.version} (--export-pack, preset '{preset}')")
        code, out, err = run_engine(
            [str(runtime.path), "--headless", "--path", str(project), "--export-pack", preset, str(pck)],
            EXPORT_TIMEOUT, f"Godot's --export-pack of {project} did not finish within {EXPORT_TIMEOUT:g} s")
    if code != 0 or not pck.is_file():
        tail = "\n".join((out + err).splitlines()[-20:])
        raise ProjectError(f"Godot's --export-pack of {project} failed (exit {code}):\n{tail}")


def _du(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _partial_prefix(out: Path) -> str:
    return f".{out.name}.partial-"  # then the exporting process's owner tag and a random suffix


def _remove_dead_partials(out: Path, say: Callable[[str], None]) -> None:
    """Staging folders of exports into `out` that were killed (up to ~1 GB each): removed once
    their process is gone."""
    prefix = _partial_prefix(out)

    def inspect(entry: Path):
        if not entry.name.startswith(prefix) or entry.is_symlink() or entry.stat().st_uid != os.getuid():
            return None
        owner = parse_owner_tag(entry.name[len(prefix):].split(".")[0])
        return (owner, None) if owner is not None else None

    def remove(entry: Path, _detail) -> bool:
        shutil.rmtree(entry)
        say(f"removed {entry}, left by an interrupted export")
        return True

    if out.parent.is_dir():
        sweep(sorted(out.parent.iterdir()), inspect, remove)


def _umask() -> int:
    """This process's umask, read without changing it (os.umask would, for every thread)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _check_writable_parent(out: Path) -> None:
    """Refuse, before any work, an --out whose nearest existing ancestor is not a folder we may
    write (a file in the path, a read-only folder)."""
    ancestor = out.parent
    try:
        while not ancestor.exists():
            ancestor = ancestor.parent
    except PermissionError:  # a folder on the way that this user may not enter
        raise ProjectError(f"cannot export to {out}: {ancestor} cannot be reached by this user; "
                           "choose a writable --out") from None
    if not ancestor.is_dir():
        raise ProjectError(f"cannot export to {out}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ProjectError(f"cannot export to {out}: {ancestor} is not writable by this user; choose a writable --out")


def check_start_scene(project: GodotProject, scene: str | None, say: Callable[[str], None]) -> None:
    """ProjectError unless `scene` is one Godot can load from the pack: else a 960 MB folder whose
    run.sh fails ("Cannot open file", "Failed loading scene"). Without a scene and a main scene
    run.sh needs one on its command line: said, not refused (a launcher may pass it)."""
    if scene is None:
        if project.main_scene is None:
            say(f"note: {project.path} has no main scene (application/run/main_scene) and no --scene was given: "
                "run.sh then needs the scene first on its command line (run.sh res://envs/my_env/my_env.tscn "
                "--headless); export with --scene res://... to build it in")
        return
    if not scene.startswith("res://"):
        raise ProjectError(f"--scene takes a res:// path (e.g. res://envs/my_env/my_env.tscn), not {scene!r}")
    rel = scene.removeprefix("res://")
    scene_file = (project.path / rel).resolve()
    if project.path.resolve() not in scene_file.parents or not scene_file.is_file():
        raise ProjectError(f"--scene {scene}: no such scene in {project.path} (looked for {scene_file})")
    if posixpath.normpath(rel).startswith(".."):  # res://../my_game/x.tscn: found here, not by Godot
        raise ProjectError(f"--scene {scene} climbs above res:// (the project folder), which Godot cannot load; "
                           f"write {project.res_path(scene_file)}")
    if scene_file.suffix not in (".tscn", ".scn"):
        raise ProjectError(f"--scene {scene} is not a scene (a .tscn or .scn file): give the scene that holds "
                           "your GymEnv node")


def _refuse_one_policy_for_groups(project: GodotProject, scene: str | None) -> None:
    """ProjectError when the scene the game starts is a GymGroupEnv: run.sh passes one --policy file,
    which a scene with agent groups refuses ("--policy must map groups to policies"), after a
    726 MB export. (A scene whose script only extends GymGroupEnv is not recognised here.)"""
    start = scene or project.main_scene
    if start is None or not start.startswith("res://"):
        return
    scene_file = project.path / start.removeprefix("res://")
    if scene_file.is_file() and "addons/godot_aigym/env/gym_group_env.gd" in scene_file.read_text(errors="replace"):
        raise ProjectError(f"{start} has agent groups (a GymGroupEnv): the game plays one policy per group, not one "
                           "--policy file; set each GymAgentGroup's policy_path to its .jit in the project and "
                           "export with --no-policy")


def export_game(project_dir: str | os.PathLike, out: str | os.PathLike, runtime: GodotRuntime, *,
                policy: str | os.PathLike | None = None, no_policy: bool = False, scene: str | None = None,
                engine: str = "auto", force: bool = False, copy: bool = False, headless_only: bool = False,
                say: Callable[[str], None] = print) -> ExportResult:
    """Export the project into `out` (see the module doc); returns what was written. `copy`: real
    copies of the libtorch libraries even where they could be hard-linked to the venv's torch.
    `headless_only`: leave the provisioned runtime's GL stack out (the game then runs --headless)."""
    from ..engine import ProjectImportError, ensure_imported

    project = open_project(project_dir)
    for line in recover_killed_export(project.path):
        say(line)
    check_engine_major(project, runtime.version_tuple)
    if not (project.path / ADDON_REL).is_dir():
        raise ProjectError(f"{project.path} has no godot-aigym addon: run `godot-aigym add {project.path}` first")
    if policy is None and not no_policy:
        raise ProjectError("no policy given: pass --policy FILE (a TorchScript file from godot_aigym.export_policy), "
                           "or --no-policy to ship a game that runs without one")
    policy_path = Path(policy).expanduser().resolve() if policy is not None else None
    if policy_path is not None:
        require_policy_file(policy_path)  # loaded by the engine below, before the import and the pack
        if not any((project.path / ADDON_REL).glob("*torch*.gdextension")):  # else run.sh: "needs cTorchModel"
            raise ProjectError(f"the addon in {project.path} was added without the TorchScript library (add --no-torch), "
                               "so the game cannot play a policy: run `godot-aigym add "
                               f"{project.path}` (without --no-torch) first, or export --no-policy")
    check_start_scene(project, scene, say)
    if policy_path is not None:
        _refuse_one_policy_for_groups(project, scene)
    out = Path(out).expanduser().resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        what = "is not empty" if out.is_dir() else "is a file"
        raise ProjectError(f"{out} exists and {what}: choose another --out, or replace it with --force")
    _check_writable_parent(out)
    _remove_dead_partials(out, say)
    if out == project.path or project.path in out.parents:
        raise ProjectError(f"--out {out} is inside the project: Godot would pack the export into the game; "
                           "choose a folder outside it")
    template = find_export_template(runtime) if engine in ("auto", "template") else None
    if engine == "template" and template is None:
        raise ProjectError(f"no Linux export template for Godot {runtime.version} in ~/.local/share/godot/"
                           "export_templates: install it from the Godot editor (Editor > Manage Export Templates)")

    libraries = ensure_libraries(runtime, release=template is not None, torch=None, say=say)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{_partial_prefix(out)}{owner_tag()}.", dir=out.parent))
    except OSError as e:
        raise ProjectError(f"cannot write the export next to {out} ({e.strerror or e}): choose a writable --out") from None
    try:
        if policy_path is not None:  # the engine loads it with the libraries we ship
            check_policy_loads(policy_path, runtime, libraries, staging / "policy_check")
            shutil.rmtree(staging / "policy_check")
        try:
            ensure_imported(project.path, runtime)
        except ProjectImportError as e:
            raise ProjectError(str(e)) from None
        export_pack(project.path, runtime, staging / "game.pck", say)
        bin_dir = staging / "bin"
        bin_dir.mkdir()
        if template is not None:
            shutil.copy2(template, bin_dir / "godot")
            bundle = EngineBundle('"$BIN/godot"', ["godot"], f"export template {template}", [])
        else:
            bundle = bundle_engine(runtime, bin_dir, rendering=not headless_only)
        ours = bundle_extension(libraries, bin_dir, link_libtorch=not copy)
        (bin_dir / "needed.txt").write_text("".join(f"{f}\n" for f in bundle.files + ours))
        if policy_path is not None:
            shutil.copy2(policy_path, staging / "policy.jit")
            (staging / "policy.jit").chmod(0o666 & ~_umask())  # readable by whoever runs the game, as the rest
        run_sh = staging / "run.sh"
        run_sh.write_text(RUN_SH.format(name=project.name, engine=bundle.command,
                                        scene=f'"{scene}" ' if scene else "",
                                        policy=' -- --policy "$HERE/policy.jit"' if policy_path else ""))
        run_sh.chmod(0o755)
        staging.chmod(0o777 & ~_umask())  # mkdtemp made it 0700: the shipped folder is for everyone to run
        if out.is_dir() and not out.is_symlink():
            shutil.rmtree(out)  # --force (or an empty folder)
        elif out.exists() or out.is_symlink():
            out.unlink()  # --force over a file
        os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportResult(out, _du(out), bundle.kind, sum(1 for p in out.rglob("*") if p.is_file()), bundle.missing)
