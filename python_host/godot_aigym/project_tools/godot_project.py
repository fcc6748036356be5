"""A user's Godot project as `add`, `new-env` and `export` see it: checked before anything is written."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..engine.launch import spawn
from .errors import ProjectError

_FEATURES_RE = re.compile(r'^\s*config/features\s*=\s*PackedStringArray\((.*?)\)', re.M)
_CONFIG_VERSION_RE = re.compile(r"^\s*config_version\s*=\s*(\d+)", re.M)
_MAIN_SCENE_RE = re.compile(r'^\s*run/main_scene\s*=\s*"([^"]*)"', re.M)
_NAME_RE = re.compile(r'^\s*config/name\s*=\s*"([^"]*)"', re.M)


@dataclass(frozen=True)
class GodotProject:
    path: Path
    config_version: int | None
    features: tuple[str, ...]
    main_scene: str | None
    name: str

    @property
    def engine_major(self) -> int | None:
        """The Godot major version the project was made with: from config/features, else config_version."""
        for feature in self.features:
            m = re.fullmatch(r"(\d+)\.\d+", feature)
            if m:
                return int(m.group(1))
        if self.config_version is not None:
            return 4 if self.config_version >= 5 else 3  # Godot 4 writes config_version=5
        return None

    def res_path(self, path: Path) -> str:
        return "res://" + path.resolve().relative_to(self.path).as_posix()


def open_project(project_dir: str | os.PathLike) -> GodotProject:
    """The project in `project_dir`, or ProjectError naming what is wrong and what to do."""
    path = Path(project_dir).expanduser()
    if not path.exists():
        raise ProjectError(f"{path} does not exist: give the folder of your Godot project (the one with project.godot)")
    if not path.is_dir():
        raise ProjectError(f"{path} is not a folder: give the folder of your Godot project (the one with project.godot)")
    path = path.resolve()
    cfg = path / "project.godot"
    if not cfg.is_file():
        raise ProjectError(f"{path} is not a Godot project (no project.godot in it): create the project in the Godot "
                           "editor first, or give the folder that holds project.godot")
    text = cfg.read_text(encoding="utf-8-sig", errors="replace")  # a BOM hid config_version from the regexes
    m = _CONFIG_VERSION_RE.search(text)
    features = _FEATURES_RE.search(text)
    scene = _MAIN_SCENE_RE.search(text)
    name = _NAME_RE.search(text)
    return GodotProject(path, int(m.group(1)) if m else None,
                        tuple(re.findall(r'"([^"]*)"', features.group(1))) if features else (),
                        scene.group(1) if scene and scene.group(1) else None,
                        name.group(1) if name else path.name)


def check_engine_major(project: GodotProject, engine_version: tuple[int, int]) -> None:
    """Refuse a project of a different Godot major version than the engine we run it with."""
    major = project.engine_major
    if major is not None and major != engine_version[0]:
        raise ProjectError(
            f"{project.path} is a Godot {major} project, but the engine is Godot {engine_version[0]}.{engine_version[1]}: "
            f"godot-aigym needs a Godot 4 (>= 4.3) project; convert it in the Godot 4 editor "
            "(Project > Tools > Upgrade Project Files) or pick another project")


def run_engine(command: list[str], timeout: float, timed_out: str, **popen) -> tuple[int, str, str]:
    """Run an engine command to its end: (exit code, stdout, stderr; stderr is "" when merged with
    ``stderr=subprocess.STDOUT``). Started like every engine (engine.launch: it dies with us);
    past `timeout` a ProjectError saying `timed_out`, and the engine is never left running."""
    proc = spawn(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                 stderr=popen.pop("stderr", subprocess.PIPE), text=True, errors="replace", **popen)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ProjectError(timed_out) from None
    finally:
        if proc.poll() is None:  # timed out or interrupted
            proc.kill()
            proc.communicate()
    return proc.returncode, out or "", err or ""
