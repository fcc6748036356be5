"""Where godot-aigym's non-Python parts are: the addon, the extension sources, the demo project.

Two layouts, one answer for each question:

* **installed** (a wheel, `pip install PATH`): the wheel carries them as package data in
  `godot_aigym/_data/` (`addon/`, `demo_project/`, `extension/` with `SConstruct` and
  `gdextension/`, `docs/`), copied there by `setup.py` at wheel-build time. The extension libraries are
  built on first use into the per-user cache (`cache_root()/build/<version>/`), and the demo
  runs from a writable copy of the demo project in the same cache.
* **checkout** (`pip install -e .`, `make`): the files are where they are in the repository;
  the libraries are built into `demo_project/addons/godot_aigym/bin/` by `make build`.

The checkout is recognised by its files (`SConstruct`, `gdextension/`, `demo_project/`) in a
folder above this package, never by a fixed number of parent folders.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .runtime import cache_root

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "_data"
ADDON_NAME = "godot_aigym"
DEMO_PROJECT_ENV = "GODOT_AIGYM_DEMO_PROJECT"


class LocationError(RuntimeError):
    """A part of godot-aigym that should come with the package is not where it should be."""


@dataclass(frozen=True)
class Layout:
    kind: str  # "installed" or "checkout"
    addon: Path  # the addon folder (GDScript, .gdextension files), read-only source of `add`
    demo_project: Path  # the demo Godot project as shipped (a read-only template when installed)
    extension_tree: Path  # the folder holding SConstruct and gdextension/
    repo: Path | None  # the checkout's root, None when installed
    docs: Path  # the documentation (docs/*.md), which the CLI's hints name by full path


def _is_checkout(folder: Path) -> bool:
    return ((folder / "SConstruct").is_file() and (folder / "gdextension").is_dir()
            and (folder / "demo_project" / "project.godot").is_file())


@lru_cache(maxsize=None)
def layout() -> Layout:
    """The layout this package runs from (package data first: an installed wheel is what it is)."""
    if (DATA_DIR / "addon").is_dir():
        return Layout("installed", DATA_DIR / "addon", DATA_DIR / "demo_project", DATA_DIR / "extension", None,
                      DATA_DIR / "docs")
    for folder in PACKAGE_DIR.parents:
        if _is_checkout(folder):
            return Layout("checkout", folder / "demo_project" / "addons" / ADDON_NAME, folder / "demo_project",
                          folder, folder, folder / "docs")
    raise LocationError(
        f"godot-aigym's data files are missing: neither {DATA_DIR} (an installed wheel) nor a source checkout "
        f"above {PACKAGE_DIR}. Reinstall with `pip install godot-aigym` (or `pip install PATH_TO_CHECKOUT`).")


def is_checkout() -> bool:
    return layout().kind == "checkout"


def doc(name: str) -> Path:
    """A document by file name (``doc("PORTING.md")``): where a hint can send the user, installed or not."""
    return layout().docs / name


def addon_source() -> Path:
    """The addon as shipped: `addons/godot_aigym/` without built libraries."""
    return layout().addon


def extension_tree() -> Path:
    """Where scons runs: the checkout, or the per-user build folder for this version when installed."""
    lay = layout()
    if lay.kind == "checkout":
        return lay.extension_tree
    from . import __version__

    return cache_root() / "build" / __version__


def extension_sources() -> Path:
    """The folder with SConstruct and gdextension/ as shipped (copied into extension_tree())."""
    return layout().extension_tree


def library_dir() -> Path:
    """Where the extension libraries are built (`bin/` of the addon in the build tree)."""
    return extension_tree() / "demo_project" / "addons" / ADDON_NAME / "bin"


def demo_project() -> Path:
    """The demo project to run: $GODOT_AIGYM_DEMO_PROJECT, the checkout's, or the user's copy in the cache."""
    env = os.environ.get(DEMO_PROJECT_ENV)
    if env:
        return Path(env).resolve()
    lay = layout()
    if lay.kind == "checkout":
        return lay.demo_project
    from . import __version__

    return cache_root() / "demo" / __version__ / "demo_project"
