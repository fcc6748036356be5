"""`export` hard-links libtorch's libraries instead of copying ~450 MB when it can (ship.place_file):
a link where the file system allows, a copy per file where linking fails, real copies with --copy,
never a half-written file. Small temporary files, plus the checkout's real torch closure."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from godot_aigym import cli, ship
from godot_aigym.ship import TORCH_RUNTIME_GLOB, copy_libtorch, place_file, torch_lib_dir

ADDON_BIN = Path(__file__).resolve().parents[2] / "demo_project" / "addons" / "godot_aigym" / "bin"


def source_file(folder: Path, data: bytes = b"\x7fELF fake library") -> Path:
    src = folder / "src" / "libx.so"
    src.parent.mkdir()
    src.write_bytes(data)
    src.chmod(0o755)
    os.utime(src, (1_000_000_000, 1_000_000_000))
    return src


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".partial"))


def test_a_file_is_hard_linked_on_the_same_file_system(tmp_path):
    src = source_file(tmp_path)
    target = tmp_path / "libx.so"
    assert place_file(src, target) == "linked"
    assert target.stat().st_ino == src.stat().st_ino and src.stat().st_nlink == 2
    assert leftovers(tmp_path) == []


def test_link_false_makes_a_real_copy_with_mode_and_times(tmp_path):
    src = source_file(tmp_path)
    target = tmp_path / "libx.so"
    assert place_file(src, target, link=False) == "copied"
    st, copied = src.stat(), target.stat()
    assert copied.st_ino != st.st_ino and st.st_nlink == 1
    assert target.read_bytes() == src.read_bytes()
    assert (copied.st_mode, copied.st_mtime) == (st.st_mode, st.st_mtime)
    target.write_bytes(b"edited")  # the user's edit stays in the shipped folder
    assert src.read_bytes() == b"\x7fELF fake library"


@pytest.mark.parametrize("code", [errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EOPNOTSUPP])
def test_a_refused_link_becomes_a_copy(tmp_path, monkeypatch, code):
    """Another file system (EXDEV), fs.protected_hardlinks on someone else's file (EPERM), ..."""
    def refuse(src, dst, *a, **kw):
        raise OSError(code, os.strerror(code), str(src))

    monkeypatch.setattr(ship.os, "link", refuse)
    src = source_file(tmp_path)
    target = tmp_path / "libx.so"
    assert place_file(src, target) == "copied"
    assert target.read_bytes() == src.read_bytes() and target.stat().st_ino != src.stat().st_ino
    assert leftovers(tmp_path) == []


def test_a_missing_source_is_an_error_not_a_copy_attempt_of_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        place_file(tmp_path / "gone.so", tmp_path / "gone_copy.so")
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_runs_partial_file_and_an_existing_link_are_handled(tmp_path):
    src = source_file(tmp_path)
    target = tmp_path / "libx.so"
    (tmp_path / ".libx.so.partial").write_bytes(b"truncated")  # an earlier run was killed here
    assert place_file(src, target) == "linked"
    assert target.stat().st_ino == src.stat().st_ino and leftovers(tmp_path) == []
    # Again onto the same inode: rename() between two links of one file would do nothing and
    # leave the partial name behind.
    assert place_file(src, target) == "linked"
    assert target.stat().st_ino == src.stat().st_ino and leftovers(tmp_path) == []
    assert src.stat().st_nlink == 2
    # A stale copy is replaced by the link.
    target.unlink()
    target.write_bytes(b"old copy")
    assert place_file(src, target) == "linked" and target.read_bytes() == src.read_bytes()


def test_the_real_libtorch_closure_is_linked_or_copied_on_request(tmp_path):
    models = sorted(ADDON_BIN.glob(TORCH_RUNTIME_GLOB))
    assert models, f"no {TORCH_RUNTIME_GLOB} in {ADDON_BIN}: run `make build`"
    torch_lib = torch_lib_dir()
    same_fs = os.stat(torch_lib).st_dev == os.stat(tmp_path).st_dev
    linked = copy_libtorch(tmp_path / "linked", models)
    copied = copy_libtorch(tmp_path / "copied", models, link=False)
    assert [p.name for p in linked.files] == [p.name for p in copied.files]
    assert "libtorch_cpu.so" in {p.name for p in linked.files}
    for link, copy in zip(linked.files, copied.files):
        original = torch_lib / link.name
        assert (link.stat().st_ino == original.stat().st_ino) == same_fs
        assert copy.stat().st_ino != original.stat().st_ino
        assert copy.stat().st_size == link.stat().st_size == original.stat().st_size
    assert leftovers(tmp_path / "linked") == leftovers(tmp_path / "copied") == []


def test_the_cli_has_a_copy_flag_for_export():
    parse = cli.build_parser().parse_args
    assert parse(["export", "game", "--out", "dist", "--copy"]).copy is True
    assert parse(["export", "game", "--out", "dist"]).copy is False


@pytest.mark.parametrize("cut", [6, 64, 70], ids=["ident-only", "header-only", "program-headers-cut"])
def test_a_truncated_elf_file_is_a_ship_error_and_bundles_as_readelf_read_it(tmp_path, cut):
    """The closure is read in-process (read_dynamic_section) for every library an export bundles:
    a cut or corrupt file is a ShipError naming it (the documented family), never a struct.error,
    and the bundle's closure walk reads it as `readelf -d` did: no entries."""
    from godot_aigym.project_tools.bundle import needed, runpaths

    broken = tmp_path / "libcut.so"
    broken.write_bytes(Path("/proc/self/exe").read_bytes()[:cut])
    with pytest.raises(ship.ShipError, match=r"libcut\.so"):
        ship.read_dynamic_section(broken)
    assert needed(broken) == [] and runpaths(broken) == []
