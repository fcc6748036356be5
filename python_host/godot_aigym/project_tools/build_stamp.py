"""Whether an installed package's built libraries are provably current, so `add`, `smoke` and
`export` need not start scons (a no-change scons run costs ~1 CPU-s).

After each successful scons run in the per-user build tree a stamp records a digest of what scons
itself takes into account: the scons command line (target, torch, engine path), the sources it
compiles (SConstruct and gdextension/, by content), the engine binary (it dumps the C interface
the build compiles against), the compilers and linker on PATH and torch's build (its version
file and libtorch), the Python and scons that run it; plus the identity (size, mtime, inode) of
every file in the libraries' folder. A later call skips scons only when all of it is unchanged;
any difference, a missing stamp, or a library changed or removed by hand runs scons as before.
`godot-aigym setup` always runs scons.

Per library, `record_library_sources` keeps a digest of each file it is built from, so `doctor`
can say which changed since (`changed_library_sources`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
from importlib import metadata
from pathlib import Path

from . import library_sources

TOOLS = ("g++", "gcc", "c++", "cc", "ld", "ar")  # what scons's default tools run to compile and link


def stamp_path(tree: Path, release: bool, torch: bool) -> Path:
    return tree / "build" / f"godot-aigym-{'release' if release else 'debug'}-torch-{'yes' if torch else 'no'}.stamp"


def _identity(path: str | os.PathLike | None) -> list | None:
    if not path:
        return None
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except OSError:
        return None
    return [real, st.st_size, st.st_mtime_ns, st.st_ino]


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _hash_tree(h, tree: Path) -> None:
    files = [tree / "SConstruct"]
    for root, dirs, names in os.walk(tree / "gdextension"):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        files += [Path(root, n) for n in sorted(names)]
    for path in files:
        h.update(path.relative_to(tree).as_posix().encode() + b"\0")
        h.update(path.read_bytes() if path.is_file() else b"<missing>")
        h.update(b"\0")


def build_inputs(tree: Path, command: list[str], godot: Path, torch: bool) -> str:
    """A digest of everything the scons run of `command` in `tree` depends on (module doc)."""
    h = hashlib.sha256()
    facts: dict = {
        "command": command,
        "python": _identity(sys.executable),
        "scons": _version("scons"),
        "godot": _identity(godot),
        "tools": {tool: _identity(shutil.which(tool)) for tool in TOOLS},
    }
    if torch:
        spec = importlib.util.find_spec("torch")
        torch_dir = Path(spec.origin).parent if spec and spec.origin else None
        if torch_dir is not None:
            version = torch_dir / "version.py"
            facts["torch"] = {"dir": str(torch_dir), "version": version.read_text() if version.is_file() else None,
                              "libtorch": _identity(torch_dir / "lib" / "libtorch_cpu.so")}
    h.update(json.dumps(facts, sort_keys=True).encode())
    _hash_tree(h, tree)
    return h.hexdigest()


def outputs(library_dir: Path) -> dict[str, list]:
    """{name: identity} of every file in the libraries' folder."""
    if not library_dir.is_dir():
        return {}
    return {p.name: _identity(p) for p in sorted(library_dir.iterdir()) if p.is_file()}


def is_current(stamp: Path, inputs: str, library_dir: Path) -> bool:
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    built = outputs(library_dir)
    return isinstance(recorded, dict) and bool(built) and recorded.get("inputs") == inputs \
        and recorded.get("outputs") == built


def record(stamp: Path, inputs: str, library_dir: Path) -> None:
    """Written after a successful scons run (atomically: a reader sees the old stamp or the new one)."""
    tmp = stamp.with_name(f".{stamp.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"inputs": inputs, "outputs": outputs(library_dir)}, indent=1) + "\n")
    os.replace(tmp, stamp)


def forget(stamp: Path) -> None:
    """Before a scons run: a run that fails or is killed leaves no stamp claiming its outputs."""
    try:
        stamp.unlink()
    except FileNotFoundError:
        pass


# ---- per library: which of the files it is built from changed since (for `doctor`) ----------------
def sources_record_path(tree: Path) -> Path:
    return tree / "build" / "godot-aigym-library-sources.json"


def _digests(gdextension: Path, name: str) -> dict[str, str]:
    return {p.relative_to(gdextension).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in library_sources.inputs(gdextension, name)}


def record_library_sources(tree: Path, libraries: dict[str, Path]) -> None:
    """After a successful scons run: each built library's identity and a digest of every file it is
    built from (library_sources.inputs), as scons's content signatures saw them. scons relinks a
    library only when its objects' content changed, so file times cannot tell whether it is
    current (a comment edit, a checkout of the same text); these digests can."""
    path = sources_record_path(tree)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        record = {}
    record = record if isinstance(record, dict) else {}
    for name, lib in libraries.items():
        record.pop(lib.name, None)
        if lib.is_file():
            record[lib.name] = {"library": _identity(lib), "inputs": _digests(tree / "gdextension", name)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def changed_library_sources(tree: Path, name: str, lib: Path) -> list[str] | None:
    """The files (gdextension-relative) of library `name` whose content differs from when `lib` was
    built, added or removed since; None when no record of this very file exists (built otherwise)."""
    try:
        entry = json.loads(sources_record_path(tree).read_text()).get(lib.name)
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(entry, dict) or entry.get("library") != _identity(lib) or not isinstance(entry.get("inputs"), dict):
        return None
    now = _digests(tree / "gdextension", name)
    was = entry["inputs"]
    return sorted(rel for rel in now.keys() | was.keys() if now.get(rel) != was.get(rel))
