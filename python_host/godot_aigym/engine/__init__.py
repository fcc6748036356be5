"""Starting, supervising and preparing Godot engine processes."""

from .errors import GodotProcessError, InvalidCpusError
from .launch import check_cpus, spawn, usable_cpus
from .logs import sweep_stale_logs
from .process import GodotProcess, LaunchOptions, check_project, run_godot
from .project import ProjectImportError, ensure_imported, needs_import

__all__ = ["GodotProcess", "GodotProcessError", "InvalidCpusError", "LaunchOptions", "check_project", "check_cpus",
           "run_godot", "spawn", "sweep_stale_logs", "usable_cpus", "ProjectImportError", "ensure_imported",
           "needs_import"]
