"""The Godot project an environment runs in: where the demo is, its import, its physics rate."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

from .. import locations
from ..engine import check_project as engine_check_project
from ..engine import ensure_imported

_imported: set[Path] = set()
_import_lock = threading.Lock()


def demo_project() -> Path:
    """The demo Godot project (env GODOT_AIGYM_DEMO_PROJECT overrides the repository copy)."""
    return locations.demo_project()


def check_project(project: str | os.PathLike | None, scene: str | None) -> tuple[Path, str | None]:
    """`engine.check_project`, with the demo project when `project` is None."""
    return engine_check_project(demo_project() if project is None else project, scene)


def prepare_project(project: Path, godot=None) -> None:
    """`ensure_imported` once per process and project (class_name scripts, extension list)."""
    with _import_lock:
        if project in _imported:
            return
        ensure_imported(project, godot)
        _imported.add(project)


_TICKS_RE = re.compile(r"^\s*common/physics_ticks_per_second\s*=\s*(\d+)", re.M)


def project_physics_fps(project: Path) -> int:
    """physics/common/physics_ticks_per_second of the project (Godot's default: 60)."""
    text = (project / "project.godot").read_text(errors="replace")
    section = re.search(r"^\[physics\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    if section:
        m = _TICKS_RE.search(section.group(1))
        if m:
            return int(m.group(1))
    return 60
