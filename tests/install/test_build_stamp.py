"""An installed package's `add`/`smoke`/`export` skip scons when the last build is provably current
(project_tools/build_stamp.py), and run it again as soon as anything scons depends on changed.

The installed layout is simulated in temporary folders (a build tree and shipped sources), and
scons is a stand-in that writes the libraries: what is tested is when scons is started."""

from __future__ import annotations

import os
import subprocess
import types
from pathlib import Path

import pytest

from godot_aigym import locations
from godot_aigym.project_tools import libraries
from godot_aigym.project_tools.libraries import build_libraries, ensure_libraries
from godot_aigym.runtime import GodotRuntime


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """(shipped sources, library folder, list of scons runs) of a simulated installed package."""
    sources, tree = tmp_path / "shipped", tmp_path / "tree"
    (sources / "gdextension" / "shm").mkdir(parents=True)
    (sources / "SConstruct").write_text("# scons\n")
    (sources / "gdextension" / "shm" / "chunk.cpp").write_text("int chunk;\n")
    lib_dir = tree / "demo_project" / "addons" / "godot_aigym" / "bin"
    monkeypatch.setattr(locations, "is_checkout", lambda: False)
    monkeypatch.setattr(locations, "extension_tree", lambda: tree)
    monkeypatch.setattr(locations, "extension_sources", lambda: sources)
    monkeypatch.setattr(locations, "library_dir", lambda: lib_dir)
    runs: list[list[str]] = []

    def scons(cmd, cwd, **kw):  # what a build does to the outputs: rewrites them
        runs.append(cmd)
        lib_dir.mkdir(parents=True, exist_ok=True)
        (lib_dir / "libaigym_core.linux.debug.x86_64.so").write_bytes(b"built from " + str(len(runs)).encode())
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(libraries, "subprocess", types.SimpleNamespace(run=scons, DEVNULL=subprocess.DEVNULL))
    return sources, lib_dir, runs


def engine(folder: Path, name: str = "godot") -> GodotRuntime:
    path = folder / name
    path.write_text("#!/bin/sh\n")
    return GodotRuntime(path, "4.6.3.stable", "explicit")


def test_scons_is_skipped_only_while_the_build_is_provably_current(tmp_path, installed):
    sources, lib_dir, runs = installed
    godot = engine(tmp_path)
    quiet = {"torch": False, "say": lambda msg: None}

    ensure_libraries(godot, **quiet)
    assert len(runs) == 1, "the first use builds"
    ensure_libraries(godot, **quiet)
    assert len(runs) == 1, "nothing changed: no scons run (add, then smoke, then export)"

    (sources / "gdextension" / "shm" / "chunk.cpp").write_text("int chunk = 1;\n")  # a new package version
    ensure_libraries(godot, **quiet)
    assert len(runs) == 2, "a changed source rebuilds"
    ensure_libraries(godot, **quiet)
    assert len(runs) == 2

    (lib_dir / "libaigym_core.linux.debug.x86_64.so").write_bytes(b"edited by hand")
    ensure_libraries(godot, **quiet)
    assert len(runs) == 3, "a library changed since the build rebuilds"

    ensure_libraries(engine(tmp_path, "godot-4.7"), **quiet)
    assert len(runs) == 4, "another engine rebuilds (its C interface is compiled in)"
    ensure_libraries(godot, **quiet)
    assert len(runs) == 5, "and back"

    os.utime(godot.path, ns=(1, 1))  # the same engine path, another binary
    ensure_libraries(godot, **quiet)
    assert len(runs) == 6

    build_libraries(godot, torch=False, say=lambda msg: None)
    assert len(runs) == 7, "`godot-aigym setup` always runs scons"

