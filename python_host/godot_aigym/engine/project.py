"""Prepare a Godot project for headless runs.

Godot loads GDExtensions listed in `.godot/extension_list.cfg` and resolves `class_name`
scripts from `.godot/global_script_class_cache.cfg`; both are written by an editor import.
We run `--import` once, and again whenever a script, scene or extension file is newer than the
last import (a stamp file records it), so a second run costs nothing.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ..runtime import GodotRuntime, resolve_godot
from .launch import spawn
from .logs import create_log, remove_log

WATCHED_SUFFIXES = (".gd", ".tscn", ".tres", ".gdextension", ".godot", ".so", ".jit")
STAMP = ".godot/godot_aigym_import.stamp"


class ProjectImportError(RuntimeError):
    """The editor import of a project failed."""


def _newest_source_mtime(project: Path) -> float:
    newest = 0.0
    for root, dirs, files in os.walk(project, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.endswith(WATCHED_SUFFIXES):
                newest = max(newest, os.stat(os.path.join(root, name)).st_mtime)
    return newest


def seed_extension_list(project: Path) -> list[str]:
    """List every .gdextension of `project` in .godot/extension_list.cfg; return those added.

    A headless editor session that discovers a GDExtension for the first time crashes at exit
    (SIGSEGV, exit 134) after a complete import (godotengine/godot#111048 and #123511; seen with
    Godot 4.6.3 on every fresh import of the demo and test projects). Listed beforehand, the
    extensions load at start-up, as on every later run, and the import exits cleanly.
    """
    found = []
    for root, dirs, files in os.walk(project, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [f"res://{Path(root, f).relative_to(project).as_posix()}" for f in sorted(files)
                  if f.endswith(".gdextension")]
    cfg = project / ".godot" / "extension_list.cfg"
    listed = cfg.read_text().split() if cfg.exists() else []
    missing = [f for f in found if f not in listed]
    if missing:
        cfg.parent.mkdir(exist_ok=True)
        cfg.write_text("".join(f"{line}\n" for line in listed + missing))
    return missing


def needs_import(project: Path) -> bool:
    stamp = project / STAMP
    if not stamp.exists() or not (project / ".godot/extension_list.cfg").exists():
        return True
    return _newest_source_mtime(project) > stamp.stat().st_mtime


def ensure_imported(project: str | os.PathLike, godot: GodotRuntime | str | os.PathLike | None = None,
                    timeout: float = 300) -> bool:
    """Import `project` if anything changed since the last import; True if it ran."""
    project = Path(project).resolve()
    if not (project / "project.godot").is_file():
        raise ProjectImportError(f"not a Godot project (no project.godot): {project}")
    if not needs_import(project):
        return False
    godot = godot if isinstance(godot, GodotRuntime) else resolve_godot(godot)
    seed_extension_list(project)
    # through the launcher like every engine we start: it dies with us (a host killed during a
    # first import must not leave the import running), its output in a private temporary log
    fd, log = create_log()
    try:
        proc = spawn([str(godot.path), "--headless", "--path", str(project), "--import"],
                     stdout=fd, stderr=subprocess.STDOUT)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            if proc.poll() is None:  # timed out or interrupted: never leave the import running
                proc.kill()
                proc.wait()
        output = os.pread(fd, 4000, max(0, os.fstat(fd).st_size - 4000)).decode(errors="replace")
    finally:
        os.close(fd)
        remove_log(log)
    if code is None:
        raise ProjectImportError(f"Godot import of {project} did not finish within {timeout:g} s; killed it:\n{output}")
    if code != 0:
        raise ProjectImportError(f"Godot import of {project} failed (exit {code}):\n{output}")
    (project / STAMP).write_text(godot.version + "\n")
    return True
