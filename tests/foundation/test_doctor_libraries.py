"""`godot-aigym doctor` judges each built library against the files it is built from
(project_tools/library_sources.py, the list SConstruct builds from), so a set-up that relinks only
what changed leaves nothing reported stale."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from godot_aigym import doctor, locations
from godot_aigym.project_tools import build_stamp, library_sources
from godot_aigym.project_tools.libraries import library_name, library_path

REPO = Path(__file__).resolve().parents[2]
OLD, NEW, NEWER = 1.0e9, 2.0e9, 3.0e9

FAKE_TREE = {  # a small gdextension/ laid out like the real one
    "binding/api.cpp": '#include "binding/api.h"\n',
    "binding/api.h": "",
    "core_library.cpp": '#include "shm/shared_memory.h"\n#include "version.h"\n',
    "version.h": "",
    "shm/shared_memory.cpp": '#include "shared_memory.h"\n',  # resolved beside the including file
    "shm/shared_memory.h": '#include "aigym_shm_layout.h"\n',
    "shm/aigym_shm_layout.h": "",
    "info/extension_info.cpp": "",
    "doc_classes/core/cSharedMemory.xml": "",
    "doc_classes/torch/cTorchModel.xml": "",
    "torch_model_library.cpp": '#include "torch/torch_model.h"\n#include "version.h"\n',
    "torch/torch_model.cpp": '#include "torch/torch_model.h"\n',
    "torch/torch_model.h": "",
    "torch/torch_model_runtime.cpp": '#include "torch/torch_model_runtime.h"\n#include <torch/version.h>\n',
    "torch/torch_model_runtime.h": "",
    "torch_runtime_entry.cpp": '#include "torch/torch_model_runtime.h"\n',
    "torch_loader/torch_loader.cpp": "#include <gdextension_interface.h>\n",
    "tools/gen_doc_header.py": "",
}


@pytest.fixture
def fake_build(tmp_path, monkeypatch):
    """The fake tree with every addon library built after its sources."""
    gdext = tmp_path / "gdextension"
    for rel, text in FAKE_TREE.items():
        (gdext / rel).parent.mkdir(parents=True, exist_ok=True)
        (gdext / rel).write_text(text)
        os.utime(gdext / rel, (OLD, OLD))
    monkeypatch.setattr(locations, "extension_tree", lambda: tmp_path)
    monkeypatch.setattr(locations, "library_dir", lambda: tmp_path / "bin")
    (tmp_path / "bin").mkdir()
    for name in library_sources.ADDON_LIBRARIES:
        library_path(name).write_bytes(b"")
        os.utime(library_path(name), (NEW, NEW))
    return gdext


def stale(*, target: str = "debug") -> dict[str, list[str]]:
    report = {name: doctor.library_status(name, target) for name in library_sources.ADDON_LIBRARIES}
    return {name: s["newer_sources"] for name, s in report.items() if s["up_to_date"] is False}


def test_each_library_is_built_from_its_own_files(fake_build):
    rel = lambda name: [str(p.relative_to(fake_build)) for p in library_sources.inputs(fake_build, name)]  # noqa: E731
    assert rel("torch") == ["torch_loader/torch_loader.cpp"]
    assert rel("torch_runtime") == ["torch/torch_model_runtime.cpp", "torch/torch_model_runtime.h",
                                    "torch_runtime_entry.cpp"]
    assert rel("core") == ["binding/api.cpp", "binding/api.h", "core_library.cpp", "doc_classes/core/cSharedMemory.xml",
                           "info/extension_info.cpp", "shm/aigym_shm_layout.h", "shm/shared_memory.cpp",
                           "shm/shared_memory.h", "version.h"]
    assert "torch/torch_model_runtime.cpp" not in rel("torch_model")  # compiled into the runtime only


def test_nothing_is_stale_after_a_build_that_relinked_only_what_changed(fake_build):
    assert stale() == {}
    os.utime(fake_build / "binding/api.h", (NEWER, NEWER))  # the binding changed...
    assert stale() == {"core": ["gdextension/binding/api.h"], "torch_model": ["gdextension/binding/api.h"]}
    for name in ("core", "torch_model"):  # ...and the set-up relinked the two libraries that link it
        os.utime(library_path(name), (NEWER + 1, NEWER + 1))
    assert stale() == {}  # the loader and the runtime never link the binding: not stale


@pytest.mark.parametrize("changed, stale_library", [
    ("torch_loader/torch_loader.cpp", "torch"),
    ("torch/torch_model.h", "torch_model"),
    ("torch/torch_model_runtime.h", "torch_runtime"),
    ("shm/aigym_shm_layout.h", "core"),  # included by an included header
    ("doc_classes/core/cSharedMemory.xml", "core"),
])
def test_a_change_stales_only_the_library_built_from_it(fake_build, changed, stale_library):
    os.utime(fake_build / changed, (NEWER, NEWER))
    assert stale() == {stale_library: [f"gdextension/{changed}"]}
    assert stale(target="release") == {}  # no release libraries: missing, not stale


def set_up(tree: Path) -> None:
    """What `godot-aigym setup` records after its scons run."""
    build_stamp.record_library_sources(tree, {name: library_path(name) for name in library_sources.ADDON_LIBRARIES})


def test_after_the_set_up_a_file_touched_but_not_changed_is_not_stale(fake_build):
    """scons judges by content: a source rewritten with the same text (a checkout, a comment-only
    change compiled to the same object) relinks nothing, and doctor agrees."""
    set_up(fake_build.parent)
    os.utime(fake_build / "torch_loader/torch_loader.cpp", (NEWER, NEWER))
    assert stale() == {}
    (fake_build / "torch_loader/torch_loader.cpp").write_text("// edited\n")
    (fake_build / "torch/torch_model_extra.cpp").write_text("")  # a new source of torch_model
    assert stale() == {"torch": ["gdextension/torch_loader/torch_loader.cpp"],
                       "torch_model": ["gdextension/torch/torch_model_extra.cpp"]}
    set_up(fake_build.parent)
    assert stale() == {}


def test_a_library_built_without_the_set_up_is_judged_by_file_times(fake_build):
    set_up(fake_build.parent)
    os.utime(fake_build / "torch_loader/torch_loader.cpp", (NEWER, NEWER))
    os.utime(library_path("torch"), (NEW + 1, NEW + 1))  # rebuilt by a bare scons: not the recorded file
    assert stale() == {"torch": ["gdextension/torch_loader/torch_loader.cpp"]}


def test_doctor_json_names_every_addon_library(fake_build, capsys):
    report = doctor.collect_doctor(provision=False)["extension"]
    for name in library_sources.ADDON_LIBRARIES:
        assert report[name]["path"].endswith(library_name(name)) and report[name]["up_to_date"] is True
        assert report["release"][name]["exists"] is False


def test_a_set_up_without_torch_leaves_the_torch_libraries_judged_as_they_were(fake_build, monkeypatch):
    """`godot-aigym setup --no-torch` builds the core library only: the torch libraries it did not
    rebuild keep their own record (were recorded as current: a torch source edited before it was
    reported stale before it and not after)."""
    from types import SimpleNamespace

    from godot_aigym.project_tools import libraries

    set_up(fake_build.parent)
    (fake_build / "torch/torch_model.h").write_text("// edited\n")
    monkeypatch.setattr(locations, "is_checkout", lambda: True)
    monkeypatch.setattr(libraries, "scons_command", lambda runtime, release=False, torch=True: ["scons"])
    monkeypatch.setattr(libraries.subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 0))
    libraries.build_libraries(SimpleNamespace(path="godot", version="4.5"), torch=False, say=lambda _: None)
    assert stale() == {"torch_model": ["gdextension/torch/torch_model.h"]}


# ---- the real build: the mapping is what SConstruct builds from ------------------------------------
def scons_inputs(godot, libraries: list[Path]) -> dict[str, set[str]]:
    """The files of gdextension/ in scons's own dependency tree of each library (no build: -n), from
    one scons run (a run is ~0.7 CPU-s of reading SConstruct and scanning, the same for any number
    of targets): scons prints one tree per target, rooted at the target's path, each pruned on its
    own (a pruned node is bracketed; its files were listed earlier in the same tree)."""
    targets = [str(lib.relative_to(REPO)) for lib in libraries]
    proc = subprocess.run([sys.executable, "-m", "SCons", "-n", "-Q", "--tree=prune", "target=debug", "torch=yes",
                           f"godot={godot.path}", *targets],
                          cwd=REPO, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    trees = re.split(r"^\+-(\S+)$", proc.stdout, flags=re.M)  # [before, root, tree, root, tree, ...]
    found = dict(zip(trees[1::2], trees[2::2]))
    assert sorted(found) == sorted(targets), proc.stdout
    return {root: set(re.findall(r"^[ |]*\+-\[?gdextension/(\S+?)\]?$", tree, re.M)) - {
        f for f in re.findall(r"^[ |]*\+-\[?gdextension/(tools/\S+?)\]?$", tree, re.M)}  # generators
        for root, tree in found.items()}


@pytest.fixture(scope="module")
def scons_trees(godot, built_core) -> dict[str, set[str]]:
    return scons_inputs(godot, [REPO / "demo_project/addons/godot_aigym/bin" / library_name(name)
                                for name in library_sources.ADDON_LIBRARIES])


@pytest.mark.parametrize("name", library_sources.ADDON_LIBRARIES)
def test_doctor_judges_by_what_scons_builds_from(scons_trees, name):
    gdext = REPO / "gdextension"
    mine = {p.relative_to(gdext).as_posix() for p in library_sources.inputs(gdext, name)}
    assert scons_trees[f"demo_project/addons/godot_aigym/bin/{library_name(name)}"] == mine


def test_after_the_set_up_doctor_reports_nothing_stale(godot, built_core):
    """The checkout's libraries come from `godot-aigym setup` (make build / make test)."""
    proc = subprocess.run([sys.executable, "-m", "godot_aigym", "doctor", "--json", "--no-provision"], cwd=REPO,
                          capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)["extension"]
    assert {name: (report[name]["exists"], report[name]["newer_sources"]) for name in library_sources.ADDON_LIBRARIES} \
        == {name: (True, []) for name in library_sources.ADDON_LIBRARIES}, "run `godot-aigym setup` after editing gdextension/"
