"""The demo's Godot project, ready to run: the checkout's, or the user's copy when installed.

From a checkout the demo runs in `demo_project/` with the libraries `make build` made. An
installed package ships the demo project as package data (read-only); the first run copies it
into the per-user cache (`locations.demo_project()`) and adds the addon there with `add`, which
builds the libraries on first use.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

from .. import locations
from ..runtime import GodotRuntime


class DemoProjectError(RuntimeError):
    """The demo project cannot be prepared (message says what to do)."""


def ready_demo_project(explicit: str | None, godot: GodotRuntime, say: Callable[[str], None]) -> Path:
    """The project the demo runs in, with built extension libraries and imported."""
    from ..engine import ensure_imported
    from ..project_tools import ProjectError, add_addon
    from ..project_tools.godot_project import open_project

    if explicit is None and not locations.is_checkout():
        project = locations.demo_project()
        if not (project / "project.godot").is_file():
            say(f"copying the demo project to {project}")
            staging = project.with_name(project.name + ".partial")
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(locations.layout().demo_project, staging)
            staging.rename(project)
        try:
            add_addon(project, godot, torch=True, do_import=False, say=say)
        except ProjectError as e:
            raise DemoProjectError(str(e)) from None
    else:
        project = Path(explicit).resolve() if explicit else locations.demo_project()
        try:
            open_project(project)  # a wrong --project is named as such, not as libraries to build
        except ProjectError as e:
            raise DemoProjectError(f"--project: {e}") from None
        bin_dir = project / "addons" / locations.ADDON_NAME / "bin"
        missing = [k for k in ("core", "torch") if not (bin_dir / f"libaigym_{k}.linux.debug.x86_64.so").is_file()]
        if missing:
            raise DemoProjectError(f"the extension libraries {missing} are not built in {bin_dir}: run `make build` "
                                   "(or `godot-aigym setup`)")
    ensure_imported(project, godot)
    return project
