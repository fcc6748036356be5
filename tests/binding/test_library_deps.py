"""Every built library resolves its dependencies relative to itself: its dynamic section (read
with binutils' readelf, independently of godot_aigym.ship's own reader) holds no empty RUNPATH
entry (which makes the loader search the current directory) and no absolute path into the
machine that built it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from godot_aigym.ship import read_dynamic_section

REPO = Path(__file__).resolve().parents[2]
LIBRARY_FOLDERS = [REPO / "demo_project/addons/godot_aigym/bin", REPO / "tests/project/binding/bin"]
EXPECTED = ["libaigym_core", "libaigym_torch", "libaigym_torch_model", "libaigym_torch_runtime", "libaigym_probe"]


def built_libraries() -> list[Path]:
    return sorted(p for folder in LIBRARY_FOLDERS if folder.is_dir() for p in folder.glob("libaigym_*.so"))


def readelf_dynamic(lib: Path) -> tuple[list[str], list[str]]:
    """(DT_NEEDED names, RUNPATH/RPATH entries) as readelf prints them."""
    readelf = shutil.which("readelf")
    assert readelf, "readelf (binutils) is needed to check the built libraries"
    out = subprocess.run([readelf, "-d", str(lib)], capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]", out)
    paths = [entry for value in re.findall(r"\((?:RUNPATH|RPATH)\)\s+Library r(?:un)?path: \[(.*)\]", out)
             for entry in value.split(":")]
    return needed, paths


def test_every_library_is_built():
    names = {p.name.split(".")[0] for p in built_libraries()}
    assert set(EXPECTED) <= names, f"missing built libraries: {sorted(set(EXPECTED) - names)} (run godot-aigym setup)"


@pytest.mark.parametrize("lib", built_libraries(), ids=lambda p: p.name)
def test_runpath_is_origin_relative_only(lib):
    needed, runpath = readelf_dynamic(lib)
    assert "" not in runpath, f"{lib.name}: empty RUNPATH entry (the loader would search the current directory): {runpath}"
    for entry in runpath:
        assert entry.startswith("$ORIGIN"), f"{lib.name}: RUNPATH entry {entry!r} is not relative to the library"
    for name in needed:
        assert "/" not in name, f"{lib.name}: DT_NEEDED {name!r} is a path"


@pytest.mark.parametrize("lib", built_libraries(), ids=lambda p: p.name)
def test_ship_reader_agrees_with_readelf(lib):
    needed, runpath = readelf_dynamic(lib)
    section = read_dynamic_section(lib)
    assert section.needed == needed
    assert section.runpath == runpath


def test_only_the_torch_runtime_library_links_libtorch():
    """The core, probe, loader and class libraries load without libtorch: engine start-up never loads
    it; the class library finds it and opens the runtime library on first use of a model (docs/TORCH.md)."""
    for lib in built_libraries():
        needed, runpath = readelf_dynamic(lib)
        links_torch = any(n.startswith(("libtorch", "libc10")) for n in needed)
        assert links_torch == lib.name.startswith("libaigym_torch_runtime."), (lib.name, needed)
        if links_torch:
            assert runpath == ["$ORIGIN/libtorch"], (lib.name, runpath)


def test_the_shipped_libraries_hold_no_test_probe():
    """cBindingProbe lives in the test-only libaigym_probe, never in the addon a game ships."""
    shipped = sorted(LIBRARY_FOLDERS[0].glob("libaigym_*.so"))
    assert shipped
    for lib in shipped:
        assert b"cBindingProbe" not in lib.read_bytes(), f"{lib.name} contains the test-only cBindingProbe"
