"""`add` and `new-env` on their own: the project checks, refusals, idempotence, nothing
half-written (`export`'s: test_project_export.py).

Most tests need no engine (the runtime is a name and a version; the checkout's built libraries
are copied). The last ones import a fresh project and step the template scene from Python with
the real engine, on a copy of a project that has the addon and is imported (conftest.imported_game).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from addon_projects import GODOT_46, add, make_project

from godot_aigym import cli
from godot_aigym.project_tools import ProjectError, add_addon, new_env, open_project
from godot_aigym.project_tools import add as add_module


# ---- the project checks ----------------------------------------------------------------------------
def test_missing_folder_and_missing_project_file_are_named(tmp_path):
    with pytest.raises(ProjectError, match="does not exist"):
        open_project(tmp_path / "nope")
    with pytest.raises(ProjectError, match=r"not a Godot project \(no project.godot"):
        open_project(tmp_path)


@pytest.mark.parametrize("features, config_version, major", [('"3.5"', 5, 3), (None, 4, 3), ('"5.0"', 5, 5)])
def test_another_godot_major_version_is_refused(tmp_path, features, config_version, major):
    project = make_project(tmp_path / "old", features, config_version)
    with pytest.raises(ProjectError, match=f"is a Godot {major} project, but the engine is Godot 4.6"):
        add(project)
    assert not (project / "addons").exists()


def test_a_godot_3_project_file_with_a_byte_order_mark_is_refused_too(tmp_path):
    # written by a Windows editor: the BOM hid config_version=4 and the addon was added
    project = tmp_path / "old"
    project.mkdir()
    (project / "project.godot").write_bytes(b'\xef\xbb\xbfconfig_version=4\r\n[application]\r\nconfig/name="Old"\r\n')
    with pytest.raises(ProjectError, match="is a Godot 3 project, but the engine is Godot 4.6"):
        add(project)
    assert not (project / "addons").exists()


def test_the_cli_reports_a_project_error_without_a_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "_resolve", lambda godot: GODOT_46)
    assert cli.main(["add", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err



def test_the_cli_reports_a_project_it_may_not_write_without_a_traceback(tmp_path, capsys, monkeypatch):
    # another user's project (a PermissionError from mkdir, which root never gets: raised here as the
    # OS raises it for everyone else) was a traceback
    project = make_project(tmp_path / "game")
    add(project)
    envs = project / "envs"
    real_mkdir = type(envs).mkdir

    def mkdir(self, *args, **kwargs):
        if self == envs:
            raise PermissionError(13, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(type(envs), "mkdir", mkdir)
    assert cli.main(["new-env", str(project), "x_env"]) == 1
    err = capsys.readouterr().err
    assert f"permission denied: {envs}" in err and "as a user who may write there" in err and "Traceback" not in err


# ---- add -----------------------------------------------------------------------------------------------
def test_add_is_idempotent_and_keeps_the_users_files(tmp_path):
    project = make_project(tmp_path / "game")
    first = add(project)
    addon = project / "addons" / "godot_aigym"
    assert (addon / "bin" / "libaigym_core.linux.debug.x86_64.so").is_file()
    assert first.changed and first.registered == ["res://addons/godot_aigym/godot_aigym.gdextension",
                                                  "res://addons/godot_aigym/godot_aigym_torch.gdextension"]
    (addon / "my_notes.txt").write_text("mine")
    again = add(project)
    assert again.changed == [] and again.registered == []
    assert (addon / "my_notes.txt").read_text() == "mine"
    manifest = json.loads((addon / ".installed.json").read_text())
    assert "godot_aigym.gdextension" in manifest["files"]


def test_the_cli_says_when_the_addon_is_already_up_to_date(tmp_path, capsys, monkeypatch):
    import functools

    import godot_aigym.project_tools as tools

    monkeypatch.setattr(cli, "_resolve", lambda godot: GODOT_46)
    monkeypatch.setattr(tools, "add_addon", functools.partial(add_addon, do_import=False))
    project = make_project(tmp_path / "game")
    assert cli.main(["add", str(project)]) == 0
    assert "file(s) written" in capsys.readouterr().out
    assert cli.main(["add", str(project)]) == 0
    assert "already up to date" in capsys.readouterr().out


def test_add_refuses_to_overwrite_a_changed_file_and_force_replaces_it(tmp_path):
    project = make_project(tmp_path / "game")
    add(project)
    changed = project / "addons" / "godot_aigym" / "godot_aigym.gdextension"
    original = changed.read_text()
    changed.write_text(original + "; my change\n")
    with pytest.raises(ProjectError, match=r"(?s)differ from godot-aigym .*godot_aigym\.gdextension.*--force"):
        add(project)
    assert changed.read_text().endswith("; my change\n"), "refused: nothing changed"
    add(project, force=True)
    assert changed.read_text() == original


def test_a_user_file_in_the_way_of_a_first_add_is_a_conflict(tmp_path):
    project = make_project(tmp_path / "game")
    theirs = project / "addons" / "godot_aigym" / "godot_aigym.gdextension"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("; someone else's\n")
    with pytest.raises(ProjectError, match="godot_aigym.gdextension"):
        add(project)
    assert sorted(p.name for p in theirs.parent.iterdir()) == ["godot_aigym.gdextension"]


def test_an_add_killed_midway_is_recovered_by_the_next_add(tmp_path):
    """SIGKILL cannot run `finally`: an `add` killed between its two renames left the project
    without addons/godot_aigym (the old one, with the user's files, under a hidden backup name),
    and any killed `add` left its ~8 MB staging folder in the project for good."""
    from godot_aigym.liveness import start_time
    from godot_aigym.project_tools.add import BACKUP_PREFIX, STAGING_PREFIX

    project = make_project(tmp_path / "game")
    add(project)
    addon = project / "addons" / "godot_aigym"
    (addon / "my_notes.txt").write_text("mine")
    gone = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    dead = f"{gone.pid}-{start_time(gone.pid)}"
    gone.stdin.close()
    gone.wait()
    backup = addon.with_name(f"{BACKUP_PREFIX}{dead}")
    os.rename(addon, backup)  # killed right after the first rename
    staging = addon.with_name(f"{STAGING_PREFIX}{dead}.x1y2z3")
    (staging / "godot_aigym").mkdir(parents=True)
    live_staging = addon.with_name(f"{STAGING_PREFIX}{os.getpid()}-{start_time(os.getpid())}.a1b2c3")
    live_staging.mkdir()  # another add running now: not ours to touch
    said = []
    add_addon(project, GODOT_46, do_import=False, say=said.append)
    assert (addon / "my_notes.txt").read_text() == "mine"
    assert not backup.exists() and not staging.exists() and live_staging.is_dir()
    assert any("restored" in line for line in said), said
    live_staging.rmdir()


def test_a_failure_while_swapping_leaves_the_old_addon(tmp_path, monkeypatch):
    project = make_project(tmp_path / "game")
    add(project)
    addon = project / "addons" / "godot_aigym"
    (addon / ".installed.json").unlink()  # forces a rewrite
    before = sorted(p.relative_to(addon) for p in addon.rglob("*"))

    def broken_rename(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(add_module, "_swap_in", lambda a, s: broken_rename(s, a))
    with pytest.raises(OSError, match="disk full"):
        add(project)
    assert sorted(p.relative_to(addon) for p in addon.rglob("*")) == before
    assert [p.name for p in addon.parent.iterdir()] == ["godot_aigym"], "no staging folder left"


def test_add_without_torch_registers_no_torch_extension(tmp_path):
    project = make_project(tmp_path / "game")
    result = add(project, torch=False)
    addon = project / "addons" / "godot_aigym"
    assert not list(addon.glob("*torch*")) and not list((addon / "bin").glob("*torch*"))
    assert result.registered == ["res://addons/godot_aigym/godot_aigym.gdextension"]


# ---- new-env -------------------------------------------------------------------------------------------
def test_new_env_needs_the_addon_a_good_name_and_never_overwrites(tmp_path):
    project = make_project(tmp_path / "game")
    with pytest.raises(ProjectError, match="godot-aigym add"):
        new_env(project, "reach")
    add(project)
    with pytest.raises(ProjectError, match="not a usable environment name"):
        new_env(project, "Bad Name")
    result = new_env(project, "reach")
    assert result.scene == "res://envs/reach/reach.tscn"
    agent = project / "envs" / "reach" / "reach_agent.gd"
    for callback in ("reset_agent", "apply_action", "get_observation", "get_reward", "is_terminated"):
        assert f"func {callback}(" in agent.read_text()
    assert 'path="res://addons/godot_aigym/' in (project / "envs" / "reach" / "reach.tscn").read_text()
    agent.write_text("# mine\n")
    with pytest.raises(ProjectError, match="exist already"):
        new_env(project, "reach")
    assert agent.read_text() == "# mine\n"
    new_env(project, "reach", force=True)
    assert "func reset_agent(" in agent.read_text()


# ---- with the real engine ------------------------------------------------------------------------------
def test_first_import_of_a_fresh_project_exits_cleanly(imported_game):
    """Godot crashes at the end of a headless session that discovers a GDExtension for the first
    time; `ensure_imported` lists the extensions first, so the first import of a fresh project with
    the addon (conftest.imported_game's build: it raises unless the import exits 0) succeeds, and
    a second call imports nothing."""
    assert imported_game.build == {"first_import_ran": True, "second_import_ran": False}
    listed = (imported_game.source / ".godot" / "extension_list.cfg").read_text().split()
    assert set(listed) == {"res://addons/godot_aigym/godot_aigym.gdextension",
                           "res://addons/godot_aigym/godot_aigym_torch.gdextension"}


def test_the_template_environment_steps_from_python(tmp_path, imported_game):
    """`new_env`'s template (conftest.imported_game: `add`, `new_env reach`, one import) steps."""
    from godot_aigym import GodotEnv

    project = imported_game(tmp_path / "game")
    env = GodotEnv(project=project, scene="res://envs/reach/reach.tscn", seed=3)
    try:
        obs, _ = env.reset(seed=3)
        assert obs.shape == (2,) and env.action_space.n == 3
        obs, reward, terminated, truncated, _ = env.step(2)
        assert reward == pytest.approx(-abs(obs[0] - obs[1]))
    finally:
        env.close()
