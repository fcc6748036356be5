"""Which sources each extension library is built from: the one list SConstruct builds from and
`godot-aigym doctor` judges the built libraries by (so neither can disagree with the other).

Paths are relative to the extension tree's `gdextension/` folder. A library's own files are its
listed files followed by the .cpp files of its folders (sorted; that is the link order); libraries
marked `binding` also link the binding layer, compiled once (`BINDING`). `inputs()` adds what
those files include (quoted includes, resolved as scons's scanner does: beside the including file,
then in gdextension/; generated and system headers are outside the tree) and the class reference
pages the library embeds.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

BINDING = "binding"  # compiled once, linked into every library with binding=True


@dataclass(frozen=True)
class LibrarySources:
    files: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    binding: bool = False
    doc_classes: str | None = None  # gdextension/doc_classes/<this>/*.xml embedded in the library


RUNTIME_SOURCE = "torch/torch_model_runtime.cpp"  # the only file that includes libtorch's headers

# name -> sources; the built file is libaigym_<name>.linux.<target>.x86_64.so
LIBRARIES: dict[str, LibrarySources] = {
    "core": LibrarySources(files=("core_library.cpp",), folders=("info", "shm"), binding=True, doc_classes="core"),
    # the small loader the .gdextension names: finds libtorch, then loads torch_model
    "torch": LibrarySources(folders=("torch_loader",)),
    "torch_model": LibrarySources(files=("torch_model_library.cpp",), folders=("torch",), exclude=(RUNTIME_SOURCE,),
                                  binding=True, doc_classes="torch"),
    "torch_runtime": LibrarySources(files=(RUNTIME_SOURCE, "torch_runtime_entry.cpp")),
    "probe": LibrarySources(files=("probe_library.cpp",), folders=("probe",), binding=True),  # tests only
}
TORCH_LIBRARIES = ("torch", "torch_model", "torch_runtime")  # built unless torch=no
ADDON_LIBRARIES = ("core",) + TORCH_LIBRARIES  # what the addon's bin/ holds (the probe is the test project's)


def _folder_cpp(gdextension: Path, folder: str) -> list[str]:
    path = gdextension / folder
    return sorted(f"{folder}/{p.name}" for p in path.iterdir() if p.suffix == ".cpp") if path.is_dir() else []


def binding_files(gdextension: Path) -> list[str]:
    """The binding layer's .cpp files."""
    return _folder_cpp(Path(gdextension), BINDING)


def compiled(gdextension: Path, name: str) -> list[str]:
    """The library's own .cpp files (without the binding layer), in link order."""
    spec = LIBRARIES[name]
    own = list(spec.files)
    for folder in spec.folders:
        own += [f for f in _folder_cpp(Path(gdextension), folder) if f not in spec.exclude and f not in own]
    return own


_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def inputs(gdextension: Path, name: str) -> list[Path]:
    """Every file of the tree the library is built from: its sources, the binding's if it links it,
    the headers they include (transitively) and its class reference pages; sorted."""
    gdextension = Path(gdextension)
    spec = LIBRARIES[name]
    pending = [gdextension / f for f in compiled(gdextension, name) + (binding_files(gdextension) if spec.binding else [])]
    seen: set[Path] = set()
    while pending:
        path = pending.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        for included in _INCLUDE.findall(path.read_text(errors="replace")):
            for base in (path.parent, gdextension):
                if (base / included).is_file():
                    pending.append(Path(os.path.normpath(base / included)))
                    break
    if spec.doc_classes:
        docs = gdextension / "doc_classes" / spec.doc_classes
        seen.update(p for p in docs.glob("*.xml") if p.is_file())
    return sorted(seen)
