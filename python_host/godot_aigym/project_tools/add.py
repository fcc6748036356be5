"""`godot-aigym add PROJECT_DIR`: put the addon, with built libraries, into a user's Godot project.

The new addon folder is staged completely next to the old one (same file system), then swapped
in with two renames, so a failure leaves the project as it was. A manifest
(`addons/godot_aigym/.installed.json`, hashes of what we wrote) tells our own unmodified files
from files the user changed: ours are updated, the user's are never overwritten without
`--force`, and files the user added to the folder are kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .. import __version__, locations
from ..owners import owner_tag, parse_owner_tag, sweep
from ..runtime import GodotRuntime
from .errors import ProjectError
from .godot_project import GodotProject, check_engine_major, open_project
from .libraries import ensure_libraries

# next to the addon while `add` runs, each followed by the process's owner tag (pid-start time)
STAGING_PREFIX = ".godot_aigym-staging-"
BACKUP_PREFIX = ".godot_aigym.old-"

ADDON_REL = Path("addons") / locations.ADDON_NAME
MANIFEST = ".installed.json"
IGNORED = shutil.ignore_patterns("bin", ".godot", "*.uid", "__pycache__", MANIFEST)


@dataclass
class AddResult:
    project: GodotProject
    addon: Path
    changed: list[str] = field(default_factory=list)  # files written or removed, relative to the addon
    registered: list[str] = field(default_factory=list)  # extensions newly listed in extension_list.cfg
    imported: bool = False


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()
            and p.name != MANIFEST}


def stage_addon(dest: Path, libraries: dict[str, Path]) -> dict[str, str]:
    """Write our addon (sources + libraries) into `dest`; return {relative path: sha256}."""
    # plain copies (no time stamps): the project's import must see the files as new
    shutil.copytree(locations.addon_source(), dest, ignore=IGNORED, copy_function=shutil.copy)
    (dest / "bin").mkdir()
    for lib in libraries.values():
        shutil.copy(lib, dest / "bin" / lib.name)
    if not any(name.startswith("libaigym_torch") for name in libraries):
        # without the TorchScript libraries, no extension entry that would fail to load at every start
        for gdext in dest.glob("*torch*.gdextension"):
            gdext.unlink()
    return {rel: _sha256(p) for rel, p in _files(dest).items()}


def _plan(current: Path, ours: dict[str, str], force: bool) -> tuple[list[str], list[str], list[str]]:
    """(files to write, our stale files to remove, conflicts: user's files that differ from ours)."""
    try:
        previous = json.loads((current / MANIFEST).read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        previous = {}
    existing = _files(current)
    write, conflicts = [], []
    for rel, digest in ours.items():
        if rel not in existing:
            write.append(rel)
            continue
        have = _sha256(existing[rel])
        if have == digest:
            continue
        (write if force or previous.get(rel) == have else conflicts).append(rel)
    remove = [rel for rel, p in existing.items() if rel not in ours and previous.get(rel) == _sha256(p)]
    return write, remove, conflicts


def _recover_killed_add(addon: Path) -> list[str]:
    """What an `add` killed midway (SIGKILL, power loss) left next to the addon, each named with
    its process's owner tag: a dead one's staging folder is removed; its backup of the previous
    addon is put back when the addon folder is missing (killed between the two renames of
    `_swap_in`: the user's files in it come back too), else removed. Returns what was done."""
    done: list[str] = []

    def inspect(entry: Path):
        prefix = next((p for p in (STAGING_PREFIX, BACKUP_PREFIX) if entry.name.startswith(p)), None)
        if prefix is None or entry.is_symlink() or not entry.is_dir() or entry.stat().st_uid != os.getuid():
            return None
        owner = parse_owner_tag(entry.name[len(prefix):].split(".")[0])
        return (owner, prefix) if owner is not None else None

    def remove(entry: Path, prefix: str) -> bool:
        if prefix == BACKUP_PREFIX and not addon.exists():
            os.rename(entry, addon)
            done.append(f"{addon.name} restored from {entry.name}")
        else:
            shutil.rmtree(entry)
            done.append(f"{entry.name} removed")
        return True

    if addon.parent.is_dir():
        sweep(sorted(addon.parent.iterdir()), inspect, remove)
    return done


def _swap_in(addon: Path, staged: Path) -> None:
    """Replace `addon` by `staged` with renames; on failure the old folder is back in place."""
    if not addon.exists():
        os.rename(staged, addon)
        return
    backup = addon.with_name(f"{BACKUP_PREFIX}{owner_tag()}")
    os.rename(addon, backup)
    try:
        os.rename(staged, addon)
    except BaseException:
        os.rename(backup, addon)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def add_addon(project_dir: str | os.PathLike, runtime: GodotRuntime, *, force: bool = False,
              torch: bool | None = None, do_import: bool = True, say: Callable[[str], None] = print) -> AddResult:
    """Install (or update) the addon in a Godot 4 project, register the extensions, import it."""
    from ..engine import ProjectImportError, ensure_imported
    from ..engine.project import seed_extension_list

    project = open_project(project_dir)
    check_engine_major(project, runtime.version_tuple)
    addon = project.path / ADDON_REL
    if addon.is_symlink() or (addon.exists() and not addon.is_dir()):
        raise ProjectError(f"{addon} exists and is not a plain folder: remove it or replace it by hand")
    libraries = ensure_libraries(runtime, torch=torch, say=say)
    result = AddResult(project, addon)
    addon.parent.mkdir(parents=True, exist_ok=True)
    recovered = _recover_killed_add(addon)
    if recovered:
        say(f"cleaned up after an interrupted `add`: {', '.join(recovered)}")
    with tempfile.TemporaryDirectory(prefix=f"{STAGING_PREFIX}{owner_tag()}.", dir=addon.parent) as tmp:
        staged = Path(tmp) / locations.ADDON_NAME
        ours = stage_addon(staged, libraries)
        write, remove, conflicts = _plan(addon, ours, force)
        if conflicts:
            raise ProjectError(
                f"{addon} has files that differ from godot-aigym {__version__}'s, changed since `add` wrote them "
                "or not written by it:\n  "
                + "\n  ".join(conflicts) + "\nnothing was changed; move your changes elsewhere, or replace these "
                "files with --force")
        if write or remove or not (addon / MANIFEST).is_file():
            # the user's own extra files in the folder stay: copy them into the staged folder
            for rel, path in _files(addon).items():
                if rel not in ours and rel not in remove:
                    (staged / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, staged / rel)  # the user's file, as it was
            (staged / MANIFEST).write_text(json.dumps({"godot_aigym": __version__, "files": ours}, indent=1) + "\n")
            _swap_in(addon, staged)
        result.changed = write + [f"{rel} (removed)" for rel in remove]
    result.registered = seed_extension_list(project.path)
    if do_import:
        try:
            result.imported = ensure_imported(project.path, runtime)
        except ProjectImportError as e:
            raise ProjectError(f"the addon is in place, but Godot's import of {project.path} failed: {e}") from None
    return result


# names only GodotAIGym's seed API has: a project whose own scripts use them is a port (not
# cTorchModel: a GymEnv game of ours uses it too, docs/TORCH.md; a port also has cSharedMemory)
SEED_API_NAMES = ("cSharedMemory", "cPersistentFloatTensor", "cPersistentIntTensor", "cPersistentUintTensor",
                  "cSharedMemorySemaphore")


def uses_seed_api(project_dir: Path) -> bool:
    """True when a script or scene of the project (outside addons/) uses GodotAIGym's seed API."""
    for path in project_dir.rglob("*"):
        rel = path.relative_to(project_dir).parts
        if path.suffix not in (".gd", ".tscn") or rel[0] in ("addons", ".godot") or not path.is_file():
            continue
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        if any(name in text for name in SEED_API_NAMES):
            return True
    return False


def next_steps(result: AddResult) -> str:
    p = result.project.path
    if uses_seed_api(Path(p)):  # a GodotAIGym project: its own driver and scripts run as they are
        return "\n".join([
            "Next steps (this project uses GodotAIGym's cSharedMemory API, which the addon keeps):",
            f"  1. review what Godot 3 -> 4 changed in its scripts ({locations.doc('PORTING.md')}, section 2)",
            "  2. run its Python driver as it is: `import _GodotEnv` with",
            "     PYTHONPATH=$(python -m godot_aigym.compat), or `import godot_aigym.compat as _GodotEnv`",
            f"  3. the game is the project folder:  GODOT_BIN_PATH = $(python -m godot_aigym.compat --godot), --path {p}",
            f"  See {locations.doc('PORTING.md')}; new environments are easier with the GymEnv node ({locations.doc('YOUR_GAME.md')}).",
        ])
    return "\n".join([
        "Next steps:",
        f"  1. an environment scene from the template:  godot-aigym new-env {p} my_env",
        "  2. fill in the agent script's callbacks (observation, action, reward, episode end)",
        f"  3. step it from Python:  GodotEnv(project=\"{p}\", scene=\"res://envs/my_env/my_env.tscn\")",
        f"  4. ship the game with its policy:  godot-aigym export {p} --out DIR --policy policy.jit",
        f"  See {locations.doc('YOUR_GAME.md')}.",
    ])
