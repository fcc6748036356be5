"""Projects for the `add` / `new-env` / `export` tests (test_project_tools.py,
test_project_export.py): a bare project.godot, and `add` without the engine."""

from __future__ import annotations

from pathlib import Path

from godot_aigym.project_tools import add_addon
from godot_aigym.runtime import GodotRuntime

# a runtime that is only a name and a version: add and export check it, nothing runs it
GODOT_46 = GodotRuntime(Path("/nonexistent/godot"), "4.6.3.stable", "explicit")


def make_project(folder: Path, features: str | None = '"4.6"', config_version: int = 5) -> Path:
    folder.mkdir(parents=True)
    text = f'config_version={config_version}\n\n[application]\n\nconfig/name="{folder.name}"\n'
    if features:
        text += f"config/features=PackedStringArray({features})\n"
    (folder / "project.godot").write_text(text)
    return folder


def add(project: Path, **kw):
    return add_addon(project, GODOT_46, do_import=False, say=lambda msg: None, **kw)
