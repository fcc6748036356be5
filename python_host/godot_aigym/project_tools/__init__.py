"""godot-aigym in a user's own Godot project: `add` the addon, `new-env` from a template, `export` the game.

Each command checks the project first (`godot_project`), stages what it writes and moves it into
place at the end, and reports problems as `ProjectError` naming the thing and the fix.
"""

from .add import AddResult, add_addon, next_steps
from .errors import ProjectError
from .export import ExportResult, export_game
from .godot_project import GodotProject, open_project
from .libraries import build_libraries, ensure_libraries, library_path
from .new_env import NewEnvResult, new_env

__all__ = ["AddResult", "ExportResult", "GodotProject", "NewEnvResult", "ProjectError", "add_addon",
           "build_libraries", "ensure_libraries", "export_game", "library_path", "new_env", "next_steps",
           "open_project"]
