"""Ship libtorch with a game: copy exactly the libtorch libraries the TorchScript library needs.

The built libraries record no path into the build machine (RUNPATH is `$ORIGIN`-relative
only). On the first use of a model the torch class library looks for libtorch in, first hit wins:
`$GODOT_AIGYM_LIBTORCH_DIR`, `<addon bin>/libtorch/`, the folder `godot-aigym setup` recorded
in `<addon bin>/libtorch_dir.txt`, the system search (docs/TORCH.md). A shipped game uses the
second: `copy_libtorch(<addon bin>/libtorch)` puts there the DT_NEEDED closure of
`libaigym_torch_runtime.*.so` (the one library linked against libtorch) within the torch wheel's
`torch/lib` (libtorch, libtorch_cpu, libc10, libgomp), not the whole folder.

    from godot_aigym.ship import copy_libtorch
    shipped = copy_libtorch(export_dir / "addons/godot_aigym/bin/libtorch")
    print(f"{len(shipped.files)} libraries, {shipped.total_bytes / 1e6:.0f} MB")

The libraries are hard-linked when the destination is on torch's file system (`link=False`, i.e.
`godot-aigym export --copy`, forces copies). Measured on ext4 for the ~440 MB closure: link 0.00 s,
copy 0.3 s from the page cache plus 440 MB written back to disk and kept per export; ext4 has no
reflinks, so `copy_file_range` would still copy the data. A hard link shares the file's content,
mode and owner with the venv's torch: deleting, replacing (`cp`, `strip`, an installer) or moving
the shipped folder is harmless, but a tool that rewrites a library IN PLACE would change the venv's
too, so users who will edit the folder's libraries export with --copy. Linking fails (different
file system, `fs.protected_hardlinks` on a file someone else owns, a file system without links):
that file is copied instead.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

TORCH_RUNTIME_GLOB = "libaigym_torch_runtime.*.so"   # the one library that links libtorch
LIBTORCH_RECORD = "libtorch_dir.txt"   # written by the build next to the libraries; never shipped

_PT_LOAD, _PT_DYNAMIC = 1, 2
_DT_NULL, _DT_NEEDED, _DT_STRTAB, _DT_RPATH, _DT_RUNPATH = 0, 1, 5, 15, 29


class ShipError(RuntimeError):
    """Libtorch cannot be shipped: no torch wheel, no torch library to start from, or a bad ELF file."""


@dataclass
class DynamicSection:
    needed: list[str] = field(default_factory=list)
    runpath: list[str] = field(default_factory=list)   # DT_RUNPATH (or DT_RPATH) split on ':'


def read_dynamic_section(path: str | os.PathLike) -> DynamicSection:
    """DT_NEEDED and DT_RUNPATH/DT_RPATH of a 64-bit little-endian ELF shared library."""
    path = Path(path)
    try:
        return _read_dynamic_section(path)
    except (struct.error, UnicodeDecodeError) as e:  # cut or corrupt: our error, naming the file
        raise ShipError(f"{path}: not a readable ELF file ({e})") from None


def _read_dynamic_section(path: Path) -> DynamicSection:
    with open(path, "rb") as f:
        ident = f.read(64)
        if ident[:4] != b"\x7fELF" or ident[4] != 2 or ident[5] != 1:
            raise ShipError(f"{path}: not a 64-bit little-endian ELF file")
        phoff, = struct.unpack_from("<Q", ident, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", ident, 0x36)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
        segments = [struct.unpack_from("<IIQQQQQQ", table, i * phentsize) for i in range(phnum)]
        loads = [(s[3], s[2], s[5]) for s in segments if s[0] == _PT_LOAD]   # (vaddr, offset, filesz)
        dynamic = next((s for s in segments if s[0] == _PT_DYNAMIC), None)
        if dynamic is None:
            raise ShipError(f"{path}: no dynamic section (not a shared library?)")
        f.seek(dynamic[2])
        raw = f.read(dynamic[5])
        entries = []
        for i in range(0, len(raw) - 15, 16):
            tag, value = struct.unpack_from("<qQ", raw, i)
            if tag == _DT_NULL:
                break
            entries.append((tag, value))
        strtab_vaddr = next((v for t, v in entries if t == _DT_STRTAB), None)
        if strtab_vaddr is None:
            raise ShipError(f"{path}: dynamic section without a string table")
        strtab = next((off + strtab_vaddr - va for va, off, size in loads if va <= strtab_vaddr < va + size), None)
        if strtab is None:
            raise ShipError(f"{path}: the string table is outside every loaded segment")

        def string(offset: int) -> str:
            f.seek(strtab + offset)
            data = b""
            while b"\0" not in data:
                chunk = f.read(256)
                if not chunk:
                    break
                data += chunk
            return data.split(b"\0", 1)[0].decode()

        section = DynamicSection()
        for tag, value in entries:
            if tag == _DT_NEEDED:
                section.needed.append(string(value))
            elif tag in (_DT_RUNPATH, _DT_RPATH):
                section.runpath += string(value).split(":")
        return section


def torch_lib_dir() -> Path:
    """`torch/lib` of this Python environment's torch wheel (found without importing torch)."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.origin:
        raise ShipError("torch is not installed in this Python environment: pip install torch "
                        "(the version the extension was built with; see requirements.txt)")
    folder = Path(spec.origin).parent / "lib"
    if not folder.is_dir():
        raise ShipError(f"the torch wheel has no lib folder: {folder}")
    return folder


def libtorch_closure(libraries: list[Path], source: Path) -> list[Path]:
    """Files of `source` in the DT_NEEDED closure of `libraries` (system libraries are not followed)."""
    found: dict[str, Path] = {}
    pending = [name for lib in libraries for name in read_dynamic_section(lib).needed]
    while pending:
        name = pending.pop()
        candidate = source / name
        if name in found or not candidate.is_file():
            continue
        found[name] = candidate
        pending += read_dynamic_section(candidate).needed
    return [found[n] for n in sorted(found)]


def place_file(source: Path, target: Path, *, link: bool = True) -> str:
    """Put `source` at `target` as a hard link (`link`) or a copy with its mode and times; "linked"
    or "copied". Written under a temporary name and renamed: never a truncated file at `target`.
    A link that the file system or the kernel refuses (EXDEV, EPERM, ...) becomes a copy."""
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)  # left by an interrupted run: os.link would refuse it
    how = "copied"
    if link:
        try:
            os.link(source, partial)
            how = "linked"
        except OSError as e:
            if e.errno == errno.ENOENT and not source.exists():
                raise
    if how == "copied":
        shutil.copy2(source, partial)
    if target.exists() and os.path.samefile(partial, target):
        partial.unlink()  # already that very file: rename() between two links of it does nothing
    else:
        os.replace(partial, target)
    return how


@dataclass
class ShippedLibtorch:
    files: list[Path]     # the copies in the destination folder
    total_bytes: int
    source: Path          # the torch/lib they came from


def copy_libtorch(dest_dir: str | os.PathLike, libraries: list[str | os.PathLike] | None = None,
                  source: str | os.PathLike | None = None, *, link: bool = True) -> ShippedLibtorch:
    """Copy into `dest_dir` the libtorch libraries that `libraries` need.

    `dest_dir` is normally `<addon bin>/libtorch`; `libraries` defaults to the
    `libaigym_torch_runtime.*.so` files of its parent folder; `source` to this environment's
    `torch/lib`. Copies are written to a temporary name and renamed, so an interrupted copy
    never leaves a truncated library that the loader would pick; unchanged files are kept.
    `link`: hard-link where possible (see the module doc), else copy.
    """
    dest = Path(dest_dir)
    libs = [Path(p) for p in libraries] if libraries else sorted(dest.parent.glob(TORCH_RUNTIME_GLOB))
    if not libs:
        raise ShipError(f"no TorchScript runtime library ({TORCH_RUNTIME_GLOB}) in {dest.parent} to ship libtorch for: "
                        "build it with `godot-aigym setup` (without --no-torch) and copy the addon's bin/ first")
    src = Path(source) if source else torch_lib_dir()
    needed = libtorch_closure(libs, src)
    if not needed:
        raise ShipError(f"{', '.join(map(str, libs))} need(s) nothing from {src}: is this the torch it was built with?")
    dest.mkdir(parents=True, exist_ok=True)
    copies = []
    for lib in needed:
        target = dest / lib.name
        st = lib.stat()
        if not (target.is_file() and target.stat().st_size == st.st_size and target.stat().st_mtime == st.st_mtime):
            place_file(lib, target, link=link)
        copies.append(target)
    return ShippedLibtorch(copies, sum(p.stat().st_size for p in copies), src)
