"""A `godot-aigym export` killed while its temporary Linux preset is in the user's
export_presets.cfg: the next export puts the user's file back byte for byte (or removes the file
when there was none), through the same owner-tag sweep that recovers killed `add`s and export
staging folders (project_tools/export_preset.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from godot_aigym.liveness import start_time
from godot_aigym.project_tools import ProjectError, export_game
from godot_aigym.project_tools.export_preset import BACKUP_PREFIX, PRESET_NAME, linux_preset, recover_killed_export

USERS_PRESETS = b'[preset.0]\n\nname="Web"\nplatform="Web"\n\n[preset.0.options]\n\nvram_texture_compression/for_desktop=true\n'


def make_project(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "project.godot").write_text(
        f'config_version=5\n\n[application]\n\nconfig/name="{folder.name}"\nconfig/features=PackedStringArray("4.6")\n')
    return folder


def dead_owner_tag() -> str:
    """The owner tag of a process that has exited."""
    gone = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    tag = f"{gone.pid}-{start_time(gone.pid)}"
    gone.stdin.close()
    gone.wait()
    return tag


def exports_of(project: Path) -> list[int]:
    """Pids of Godot processes packing `project` (the killed export's child)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--export-pack" in cmd and str(project).encode() in cmd:
            pids.append(int(entry.name))
    return pids


def kill_export_with_its_preset_in_place(project: Path, out: Path, env: dict[str, str]) -> bytes:
    """Start a real `godot-aigym export` and SIGKILL it once it says that its preset is in the
    project's file; returns the file as the killed export left it."""
    proc = subprocess.Popen([sys.executable, "-u", "-m", "godot_aigym", "export", str(project), "--out", str(out),
                             "--no-policy"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if f"preset '{PRESET_NAME}'" in line:
                break
        else:
            pytest.fail("the export ended before packing:\n" + "".join(seen))
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 30  # only if the engine outlived its parent: the death signal failed
    while exports_of(project):
        assert time.monotonic() < deadline, f"the killed export's engine still runs: {exports_of(project)}"
        time.sleep(0.05)
    return (project / "export_presets.cfg").read_bytes()


def test_an_export_killed_with_its_preset_in_place_is_undone_by_the_next_export(tmp_path, godot, imported_game,
                                                                               monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "no-templates"))  # the next export stops early
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "no-templates")}
    project = imported_game(tmp_path / "game")  # with the addon, imported: the export goes straight to packing
    cfg = project / "export_presets.cfg"

    # a project without the file: the killed export's file goes away
    left = kill_export_with_its_preset_in_place(project, tmp_path / "dist", env)
    assert f'name="{PRESET_NAME}"' in left.decode()
    said: list[str] = []
    with pytest.raises(ProjectError, match="no Linux export template"):
        export_game(project, tmp_path / "dist", godot, no_policy=True, engine="template", say=said.append)
    assert not cfg.exists()
    assert any("export_presets.cfg restored" in line for line in said), said

    # the user's own file (with its mode and mtime): back byte for byte
    cfg.write_bytes(USERS_PRESETS)
    cfg.chmod(0o640)
    os.utime(cfg, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    before = cfg.stat()
    left = kill_export_with_its_preset_in_place(project, tmp_path / "dist", env)
    assert left.startswith(USERS_PRESETS) and f'name="{PRESET_NAME}"' in left.decode()
    with pytest.raises(ProjectError, match="no Linux export template"):
        export_game(project, tmp_path / "dist", godot, no_policy=True, engine="template", say=lambda msg: None)
    assert cfg.read_bytes() == USERS_PRESETS
    after = cfg.stat()
    assert (after.st_mode, after.st_mtime_ns) == (before.st_mode, before.st_mtime_ns)
    assert not list(project.glob(f"{BACKUP_PREFIX}*")), "the backup of the killed export is still there"


def test_a_file_changed_since_the_kill_is_left_alone_and_leftovers_are_swept(tmp_path):
    project = make_project(tmp_path / "game")
    dead = dead_owner_tag()
    (project / f"{BACKUP_PREFIX}{dead}.cfg").write_bytes(USERS_PRESETS)
    (project / f"{BACKUP_PREFIX}{dead}.tmpk3j2h1").write_bytes(b"half a copy")  # killed while copying
    edited = USERS_PRESETS + b'\n[preset.1]\n\nname="Mine"\nplatform="Android"\n'  # the user's edit, after the kill
    (project / "export_presets.cfg").write_bytes(edited)
    live = project / f"{BACKUP_PREFIX}{os.getpid()}-{start_time(os.getpid())}.none"
    live.write_bytes(b"")  # an export running now: not ours to judge
    said = recover_killed_export(project)
    assert (project / "export_presets.cfg").read_bytes() == edited
    assert any("left as it is" in line for line in said), said
    assert sorted(project.glob(f"{BACKUP_PREFIX}*")) == [live]


def test_an_export_that_ends_puts_the_file_back_and_leaves_no_backup(tmp_path):
    project = make_project(tmp_path / "game")
    cfg = project / "export_presets.cfg"
    cfg.write_bytes(USERS_PRESETS)
    with linux_preset(project) as name:
        assert name == PRESET_NAME and cfg.read_bytes().startswith(USERS_PRESETS)
        assert len(list(project.glob(f"{BACKUP_PREFIX}*.cfg"))) == 1
    assert cfg.read_bytes() == USERS_PRESETS
    assert not list(project.glob(f"{BACKUP_PREFIX}*"))


@pytest.mark.parametrize("dangling", [False, True])
def test_a_symlinked_presets_file_without_a_linux_preset_is_refused_and_left_a_link(tmp_path, dangling):
    project = make_project(tmp_path / "game")
    target = tmp_path / "shared_presets.cfg"
    if not dangling:
        target.write_bytes(USERS_PRESETS)
    cfg = project / "export_presets.cfg"
    cfg.symlink_to(target)
    with pytest.raises(ProjectError, match="export_presets.cfg is a symbolic link"):
        with linux_preset(project):
            pytest.fail("a temporary preset was written through a replaced link")
    assert cfg.is_symlink() and os.readlink(cfg) == str(target)
    assert target.exists() != dangling and (dangling or target.read_bytes() == USERS_PRESETS)
    assert not list(project.glob(f"{BACKUP_PREFIX}*"))


def test_a_symlinked_presets_file_with_a_linux_preset_is_used_untouched(tmp_path):
    project = make_project(tmp_path / "game")
    target = tmp_path / "shared_presets.cfg"
    linux = USERS_PRESETS + b'\n[preset.1]\n\nname="Mine"\nplatform="Linux"\n'
    target.write_bytes(linux)
    cfg = project / "export_presets.cfg"
    cfg.symlink_to(target)
    with linux_preset(project) as name:
        assert name == "Mine"
    assert cfg.is_symlink() and target.read_bytes() == linux
