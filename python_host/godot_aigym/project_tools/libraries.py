"""The extension libraries: found where they were built, or built on first use against the engine.

In a checkout `make build` builds them into `demo_project/addons/godot_aigym/bin/`. An installed
wheel carries the sources instead (`locations.extension_sources()`); the first `godot-aigym
setup`/`add`/`export` copies them into the per-user build folder (`locations.extension_tree()`)
and runs scons there against the resolved engine, with its output on the terminal. scons is
incremental, so later calls cost a couple of seconds, and `add`/`smoke`/`export` skip it while
the build is provably current (build_stamp.py); a lock serialises concurrent builds.
"""

from __future__ import annotations

import fcntl
import filecmp
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from .. import locations
from ..runtime import GodotRuntime
from . import build_stamp
from .library_sources import ADDON_LIBRARIES
from .errors import ProjectError

KINDS = ("core", "torch")  # the libraries the .gdextension files name
LIBTORCH_RECORD = "libtorch_dir.txt"  # where the build's libtorch is (development only, never shipped)


def library_name(kind: str, target: str = "debug") -> str:
    return f"libaigym_{kind}.linux.{target}.x86_64.so"


def library_path(kind: str, target: str = "debug") -> Path:
    return locations.library_dir() / library_name(kind, target)


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def scons_command(runtime: GodotRuntime, release: bool = False, torch: bool = True) -> list[str]:
    return [sys.executable, "-m", "SCons", "-Q", f"-j{os.cpu_count() or 2}",
            f"target={'release' if release else 'debug'}", f"torch={'yes' if torch else 'no'}",
            f"godot={runtime.path}"]


def _mirror(src: Path, dest: Path) -> int:
    """Make `dest` hold exactly the files of `src` (unchanged files keep their time stamps); count the copies."""
    copied = 0
    wanted = set()
    for root, dirs, files in os.walk(src):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            rel = Path(root, name).relative_to(src)
            wanted.add(rel)
            target = dest / rel
            if not target.is_file() or not filecmp.cmp(Path(root, name), target, shallow=False):
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(Path(root, name), target)
                copied += 1
    for root, _dirs, files in os.walk(dest):
        for name in files:
            if Path(root, name).relative_to(dest) not in wanted:
                os.unlink(Path(root, name))
    return copied


def _sync_sources(tree: Path) -> None:
    """Copy the shipped SConstruct and gdextension/ into the build folder (installed layout only)."""
    src = locations.extension_sources()
    tree.mkdir(parents=True, exist_ok=True)
    dest = tree / "SConstruct"
    if not dest.is_file() or not filecmp.cmp(src / "SConstruct", dest, shallow=False):
        shutil.copy2(src / "SConstruct", dest)
    _mirror(src / "gdextension", tree / "gdextension")


def build_libraries(runtime: GodotRuntime, *, release: bool = False, torch: bool = True,
                    skip_when_current: bool = False, say: Callable[[str], None] = print) -> Path:
    """Run scons in the build tree (incremental); return the folder holding the libraries.
    `skip_when_current`: not when an installed package's build is provably current (build_stamp)."""
    if importlib.util.find_spec("SCons") is None:
        raise ProjectError(f"scons is not installed in {sys.executable}: pip install scons")
    if torch and not torch_available():
        raise ProjectError("torch is not installed in this Python, so the TorchScript library cannot be built: "
                           "pip install 'godot-aigym[torch]' (or build without it: --no-torch)")
    if shutil.which(os.environ.get("CXX", "g++")) is None:
        raise ProjectError("a C++ compiler is needed to build the extension libraries on first use: "
                           "sudo apt-get install g++ (or set CXX)")
    tree = locations.extension_tree()
    (tree / "build").mkdir(parents=True, exist_ok=True)
    with open(tree / "build" / "godot-aigym.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another `godot-aigym` building the same tree: wait for it
        if not locations.is_checkout():
            _sync_sources(tree)
        cmd = scons_command(runtime, release=release, torch=torch)
        if not locations.is_checkout():  # only the addon's libraries (a checkout also builds the test probe)
            cmd.append(str(locations.library_dir().relative_to(tree)))
        target = "release" if release else "debug"
        stamp = inputs = None
        if not locations.is_checkout():  # a checkout's sources are edited: scons decides there
            stamp = build_stamp.stamp_path(tree, release, torch)
            inputs = build_stamp.build_inputs(tree, cmd, runtime.path, torch)
            if skip_when_current and build_stamp.is_current(stamp, inputs, locations.library_dir()):
                return locations.library_dir()
            build_stamp.forget(stamp)
        say(f"building the extension libraries ({target}{', with libtorch' if torch else ''}) against Godot "
            f"{runtime.version} in {tree} (the first build takes a few minutes; later ones seconds)")
        t0 = time.monotonic()
        proc = subprocess.run(cmd, cwd=tree, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise ProjectError(f"building the extension failed (scons exit {proc.returncode}; its output is above): "
                               f"{' '.join(cmd)} in {tree}")
        if stamp is not None:
            build_stamp.record(stamp, inputs, locations.library_dir())
        built = ADDON_LIBRARIES if torch else ("core",)  # torch=no leaves the others as they were, and their record
        build_stamp.record_library_sources(tree, {name: library_path(name, target) for name in built})
        say(f"libraries ready in {locations.library_dir()} ({time.monotonic() - t0:.1f} s)")
    return locations.library_dir()


def built_libraries(target: str = "debug") -> dict[str, Path]:
    """{file name: path} of the built extension libraries of `target` (core, the torch loader and
    the TorchScript library it loads, ...), plus the build's libtorch record when there is one."""
    folder = locations.library_dir()
    files = {p.name: p for p in sorted(folder.glob(f"libaigym_*.linux.{target}.x86_64.so"))}
    if (folder / LIBTORCH_RECORD).is_file():
        files[LIBTORCH_RECORD] = folder / LIBTORCH_RECORD
    return files


def ensure_libraries(runtime: GodotRuntime, *, release: bool = False, torch: bool | None = None,
                     say: Callable[[str], None] = print) -> dict[str, Path]:
    """The built libraries (`built_libraries`); built first when one is missing (torch: None = if installed).

    A checkout's libraries are `make build`'s: used as they are when present. An installed
    package lets scons check its build tree unless the last build is provably current
    (build_stamp: same sources, engine, compilers, torch, and the libraries untouched since).
    Without torch, the torch libraries are left out even where they were built.
    """
    target = "release" if release else "debug"
    want_torch = torch_available() if torch is None else torch
    kinds = KINDS if want_torch else ("core",)
    missing = [k for k in kinds if not library_path(k, target).is_file()]
    if missing or not locations.is_checkout():
        build_libraries(runtime, release=release, torch=want_torch, skip_when_current=True, say=say)
    missing = [k for k in kinds if not library_path(k, target).is_file()]
    if missing:
        raise ProjectError(f"the build produced no {', '.join(library_name(k, target) for k in missing)} "
                           f"in {locations.library_dir()}")
    files = built_libraries(target)
    if not want_torch:
        files = {name: path for name, path in files.items() if "torch" not in name}
    return files
