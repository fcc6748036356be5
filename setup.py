"""Wheel-build step of godot-aigym: the non-Python parts become package data.

Everything else is in pyproject.toml. A wheel (and so `pip install PATH`) carries, under
`godot_aigym/_data/`, copies of files that stay where they are in the repository:

    addon/          demo_project/addons/godot_aigym/ (GDScript, .gdextension files; no bin/)
    demo_project/   the demo project (for `godot-aigym demo`; no bin/, no .godot/)
    extension/      SConstruct and gdextension/ (the libraries are built on first use)
    docs/           docs/*.md (the CLI's hints name them by full path)

An editable install (`pip install -e .`, the checkout's set-up) copies nothing: the package
then finds the files in the checkout (`godot_aigym.locations`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# Build outputs, editor and import caches: never package data.
IGNORED = shutil.ignore_patterns("bin", ".godot", "*.uid", "*.so", "*.o", "*.os", "__pycache__", "*.pyc",
                                 ".sconsign*", "build")


class BuildPyWithGodotData(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        data = Path(self.build_lib) / "godot_aigym" / "_data"
        if data.exists():
            shutil.rmtree(data)
        copies = {
            "addon": ROOT / "demo_project" / "addons" / "godot_aigym",
            "demo_project": ROOT / "demo_project",
            "extension/gdextension": ROOT / "gdextension",
            "docs": ROOT / "docs",
        }
        for dest, src in copies.items():
            if not src.is_dir():
                raise SystemExit(f"godot-aigym wheel: {src} is missing (build from a complete source tree)")
            shutil.copytree(src, data / dest, ignore=IGNORED, symlinks=False)
        shutil.copy2(ROOT / "SConstruct", data / "extension" / "SConstruct")


setup(cmdclass={"build_py": BuildPyWithGodotData})
