"""Starting, supervising and preparing Godot engine processes."""

from .process import GodotProcess, GodotProcessError, LaunchOptions, check_project, run_godot
from .project import ProjectImportError, ensure_imported, needs_import

__all__ = ["GodotProcess", "GodotProcessError", "LaunchOptions", "check_project", "run_godot", "ProjectImportError", "ensure_imported", "needs_import"]
