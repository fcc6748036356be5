"""`export` on its own: refusals before any work, the temporary preset and staging folders
removed, the engine's answers read as ours (ProjectError), and, with the real engine, the policy
check in the engine (no torch in this process) and a user's export template run from run.sh
(`add` and `new-env`: test_project_tools.py; a killed export's preset: test_export_recovery.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from addon_projects import GODOT_46, add, make_project

from godot_aigym.project_tools import ProjectError, export_game
from godot_aigym.project_tools.export import linux_preset
from godot_aigym.runtime import GodotRuntime


def test_export_refuses_a_missing_policy_before_doing_anything(tmp_path):
    project = make_project(tmp_path / "game")
    add(project)
    out = tmp_path / "out"
    with pytest.raises(ProjectError, match="no policy given: pass --policy FILE"):
        export_game(project, out, GODOT_46)
    with pytest.raises(ProjectError, match="does not exist"):
        export_game(project, out, GODOT_46, policy=tmp_path / "missing.jit")
    with pytest.raises(ProjectError, match="inside the project"):
        export_game(project, project / "ship", GODOT_46, no_policy=True)
    assert not out.exists() and not (project / "export_presets.cfg").exists()


def test_export_refuses_a_scene_the_project_does_not_have_before_doing_anything(tmp_path):
    # was accepted: the export shipped a game whose run.sh failed with "Cannot open file"
    project = make_project(tmp_path / "game")
    add(project)
    (tmp_path / "outside.tscn").write_text("[gd_scene format=3]\n")
    out = tmp_path / "out"
    for scene in ("res://envs/nope/nope.tscn", "res://../outside.tscn", "res://addons"):
        with pytest.raises(ProjectError, match=rf"--scene {scene}: no such scene in {project}"):
            export_game(project, out, GODOT_46, no_policy=True, scene=scene)
    assert not out.exists() and not (project / "export_presets.cfg").exists()


def test_export_refuses_a_scene_godot_cannot_start_before_doing_anything(tmp_path):
    # each was packed into a 960 MB folder whose run.sh failed: Godot does not load res://../game/...
    # (found here through the project's own folder name), nor a script as the scene to run
    project = make_project(tmp_path / "game")
    add(project)
    (project / "envs").mkdir()
    (project / "envs" / "e.tscn").write_text("[gd_scene format=3]\n")
    (project / "envs" / "e.gd").write_text("extends Node\n")
    out = tmp_path / "out"
    with pytest.raises(ProjectError, match=r"--scene res://\.\./game/envs/e\.tscn climbs above res://.*write res://envs/e\.tscn"):
        export_game(project, out, GODOT_46, no_policy=True, scene="res://../game/envs/e.tscn")
    with pytest.raises(ProjectError, match=r"--scene res://envs/e\.gd is not a scene \(a \.tscn or \.scn file\)"):
        export_game(project, out, GODOT_46, no_policy=True, scene="res://envs/e.gd")
    with pytest.raises(ProjectError, match=r"the policy .*policies is a folder: give the TorchScript file"):
        (tmp_path / "policies").mkdir()
        export_game(project, out, GODOT_46, policy=tmp_path / "policies")  # was "does not exist"
    assert not out.exists() and not (project / "export_presets.cfg").exists()


def test_export_refuses_a_policy_for_an_addon_added_without_torch(tmp_path):
    # was exported (726 MB) and run.sh failed: "play mode needs cTorchModel (the godot_aigym_torch
    # library is not loaded)", the project registering no torch extension
    project = make_project(tmp_path / "game")
    add(project, torch=False)
    policy = tmp_path / "policy.jit"
    policy.write_bytes(b"checked later")
    out = tmp_path / "out"
    with pytest.raises(ProjectError, match=r"added without the TorchScript library \(add --no-torch\).*"
                                           r"godot-aigym add .*game` \(without --no-torch\) first, or export --no-policy"):
        export_game(project, out, GODOT_46, policy=policy)
    assert not out.exists() and not (project / "export_presets.cfg").exists()


def test_export_refuses_one_policy_for_a_scene_with_agent_groups(tmp_path):
    # run.sh passes one --policy file, which a GymGroupEnv refuses ("--policy must map groups to
    # policies"): was found only by running the 726 MB export
    project = make_project(tmp_path / "game")
    add(project)
    (project / "teams.tscn").write_text('[gd_scene format=3]\n\n[ext_resource type="Script" '
                                        'path="res://addons/godot_aigym/env/gym_group_env.gd" id="1"]\n')
    policy = tmp_path / "policy.jit"
    policy.write_bytes(b"checked later")
    out = tmp_path / "out"
    with pytest.raises(ProjectError, match=r"res://teams\.tscn has agent groups .* export with --no-policy"):
        export_game(project, out, GODOT_46, policy=policy, scene="res://teams.tscn")
    assert not out.exists() and not (project / "export_presets.cfg").exists()


def test_export_takes_policy_or_no_policy_not_both(capsys):
    from godot_aigym import cli

    with pytest.raises(SystemExit):  # both: one of them was silently ignored
        cli.build_parser().parse_args(["export", "game", "--out", "dist", "--policy", "p.jit", "--no-policy"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_export_refuses_an_out_it_cannot_write_before_doing_anything(tmp_path):
    project = make_project(tmp_path / "game")
    add(project)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    with pytest.raises(ProjectError, match=r"notes.txt is a file, not a folder"):
        export_game(project, a_file / "dist", GODOT_46, no_policy=True)  # was a bare NotADirectoryError
    with pytest.raises(ProjectError, match=r"notes.txt exists and is a file: .*--force"):
        export_game(project, a_file, GODOT_46, no_policy=True)
    assert a_file.read_text() == "mine" and not (project / "export_presets.cfg").exists()


def test_a_killed_exports_staging_folder_is_removed_by_the_next_export(tmp_path, monkeypatch):
    from godot_aigym.liveness import start_time

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "no-templates"))

    project = make_project(tmp_path / "game")
    add(project)
    gone = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    dead = f"{gone.pid}-{start_time(gone.pid)}"
    gone.stdin.close()
    gone.wait()
    partial = tmp_path / f".dist.partial-{dead}.k3j2h1"
    (partial / "bin").mkdir(parents=True)  # an export SIGKILLed while copying the engine
    live = tmp_path / f".dist.partial-{os.getpid()}-{start_time(os.getpid())}.a1b2c3"
    live.mkdir()  # an export running now
    said = []
    with pytest.raises(ProjectError, match="no Linux export template"):  # stops before any real work
        export_game(project, tmp_path / "dist", GODOT_46, no_policy=True, engine="template", say=said.append)
    assert not partial.exists() and live.is_dir()
    assert any("interrupted export" in line for line in said)


def test_export_refuses_a_folder_this_user_cannot_write():
    """A read-only destination, as another user sees it (root may write anywhere): refused with
    a ProjectError naming the folder, not a PermissionError after the engine packed the game."""
    with tempfile.TemporaryDirectory(prefix="aigym-export-") as top:  # pytest's tmp_path is private to us
        os.chmod(top, 0o755)
        locked = Path(top) / "locked"
        locked.mkdir(mode=0o755)
        _refused_as_another_user(locked)


def _refused_as_another_user(locked: Path) -> None:
    code = ("import os, sys\n"
            "from pathlib import Path\n"
            "from godot_aigym.project_tools import ProjectError\n"
            "from godot_aigym.project_tools.export import _check_writable_parent\n"
            "os.setgid(54321); os.setuid(54321)  # after the imports: the venv may be private to root\n"
            "try:\n    _check_writable_parent(Path(sys.argv[1]))\nexcept ProjectError as e:\n    print(e)")
    if os.geteuid() == 0:
        out = subprocess.run([sys.executable, "-c", code, str(locked / "sub" / "dist")], capture_output=True, text=True)
        assert "locked is not writable by this user" in out.stdout, out.stderr
    else:
        with pytest.raises(ProjectError, match="locked is not writable by this user"):
            locked.chmod(0o555)
            from godot_aigym.project_tools.export import _check_writable_parent
            _check_writable_parent(locked / "sub" / "dist")


def test_the_temporary_export_preset_is_removed_or_the_users_file_restored(tmp_path):
    project = make_project(tmp_path / "game")
    with linux_preset(project) as name:
        assert 'platform="Linux"' in (project / "export_presets.cfg").read_text()
    assert not (project / "export_presets.cfg").exists()
    mine = '[preset.0]\n\nname="Web"\nplatform="Web"\n\n[preset.0.options]\n\n'
    (project / "export_presets.cfg").write_text(mine)
    with linux_preset(project) as name:
        assert "[preset.1]" in (project / "export_presets.cfg").read_text()
    assert (project / "export_presets.cfg").read_text() == mine
    (project / "export_presets.cfg").write_text(mine + '[preset.1]\n\nname="PC"\nplatform="Linux"\n')
    with linux_preset(project) as name:
        assert name == "PC"
    # a Linux preset that could leave out the addon or the scene is not used (exclude_filter="addons/*"
    # was packed, and run.sh failed: "res://addons/godot_aigym/env/gym_env.gd ... File not found")
    for filters in ('export_filter="all_resources"\nexclude_filter="addons/*"\n', 'export_filter="scenes"\n'):
        users = mine + f'[preset.1]\n\nname="PC"\nplatform="Linux"\n{filters}'
        (project / "export_presets.cfg").write_text(users)
        with linux_preset(project) as name:
            assert name == "godot-aigym Linux"
        assert (project / "export_presets.cfg").read_text() == users


@pytest.mark.parametrize("printed", [rb'AIGYM_POLICY_CHECK {"torch_cla', b"AIGYM_POLICY_CHECK [1]", b"\xff\xfe garbage"],
                         ids=["cut-result", "not-an-object", "undecodable"])
def test_an_engine_answer_the_policy_check_cannot_read_is_a_project_error(tmp_path, printed):
    """Whatever the engine prints (a cut result line, bytes that are no UTF-8), the check ends
    in our ProjectError naming the policy, never a JSON or decoding exception."""
    from godot_aigym.project_tools.policy_check import check_policy_loads

    (tmp_path / "out.bin").write_bytes(printed + b"\n")
    engine = tmp_path / "godot"
    engine.write_text(f"#!/bin/sh\ncat '{tmp_path / 'out.bin'}'\n")
    engine.chmod(0o755)
    policy = tmp_path / "policy.jit"
    policy.write_bytes(b"x")
    loader = tmp_path / "libaigym_torch.linux.debug.x86_64.so"
    loader.write_bytes(b"")
    with pytest.raises(ProjectError, match=r"could not check the policy .*policy\.jit"):
        check_policy_loads(policy, GodotRuntime(engine, "4.6.3.stable", "explicit"), {loader.name: loader},
                           tmp_path / "check")


def test_an_export_pack_printing_bytes_that_are_no_utf8_is_a_project_error(tmp_path):
    """Godot's output is read as text: bytes that are no UTF-8 (a file name, a driver's message)
    are replaced, and a failed pack stays our ProjectError quoting it."""
    from godot_aigym.project_tools.export import export_pack

    project = make_project(tmp_path / "game")
    engine = tmp_path / "godot"
    engine.write_bytes(b"#!/bin/sh\nprintf 'ERROR: cannot open \\377\\376.png\\n' >&2\nexit 1\n")
    engine.chmod(0o755)
    with pytest.raises(ProjectError, match=r"--export-pack of .* failed \(exit 1\):\nERROR: cannot open"):
        export_pack(project, GodotRuntime(engine, "4.6.3.stable", "explicit"), tmp_path / "game.pck", say=lambda m: None)
    assert not (project / "export_presets.cfg").exists()


# ---- with the real engine ------------------------------------------------------------------------------
def test_export_has_the_engine_load_the_policy_without_torch(tmp_path, godot, monkeypatch):
    """The policy is loaded by the engine with the libraries the game ships (cTorchModel), never
    by torch in this process (~3 CPU-s per export): with `import torch` failing here, a broken
    policy is refused with the engine's reason, before the import and the pack, leaving nothing.
    (A good policy passing the engine's check: test_your_game.py's export.)"""
    import builtins

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError(f"this test forbids importing {name}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)  # (importlib.util.find_spec still finds torch)
    project = make_project(tmp_path / "game")
    add(project)
    broken = tmp_path / "broken.jit"
    broken.write_bytes(b"not a TorchScript archive")
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(ProjectError, match=r"broken\.jit does not load as TorchScript \(.*not a TorchScript archive"):
        export_game(project, work / "out", godot, policy=broken, say=lambda msg: None)
    assert list(work.iterdir()) == [], "the refused export left nothing next to --out"
    assert not (project / "export_presets.cfg").exists() and not (project / ".godot" / "godot_aigym_import.stamp").exists(), \
        "refused before the import and the pack"


def test_the_engines_policy_check_takes_a_policy_of_any_file_name(tmp_path, godot):
    """export ships the policy as policy.jit whatever its name, so a good TorchScript file named
    model.pt (export_policy and torch.jit.save take any name) passes the engine's check (which
    loads it through Godot's loader of .jit files), as it passed torch.jit.load before."""
    from godot_aigym.project_tools.libraries import ensure_libraries
    from godot_aigym.project_tools.policy_check import check_policy_loads

    policy = tmp_path / "model.pt"
    policy.write_bytes((Path(__file__).resolve().parents[2] / "demo_project" / "policy.jit").read_bytes())
    check_policy_loads(policy, godot, ensure_libraries(godot, torch=None, say=lambda msg: None), tmp_path / "check")


def test_export_with_the_users_export_template_runs_it_from_run_sh(tmp_path, godot, imported_game, monkeypatch):
    """`--engine template`: the user's Linux release template for this Godot version becomes
    bin/godot, started by run.sh with the game's pack (a stand-in template script here, and the
    debug libraries for the release ones: building those is `godot-aigym setup --release`'s job)."""
    import re
    import subprocess

    from godot_aigym.project_tools import export as export_module
    from godot_aigym.project_tools.libraries import built_libraries

    data = tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    project = imported_game(tmp_path / "game")  # with the addon, imported (the export imports only what changed)
    out = tmp_path / "dist"
    with pytest.raises(ProjectError, match=r"no Linux export template for Godot 4\.\d+(\.\d+)?\.\w+"):
        export_game(project, out, godot, no_policy=True, engine="template")
    version = re.match(r"\d+\.\d+(?:\.\d+)?\.[a-z0-9]+", godot.version).group(0)
    template = data / "godot" / "export_templates" / version / "linux_release.x86_64"
    template.parent.mkdir(parents=True)
    template.write_text('#!/bin/sh\necho "TEMPLATE $*"\n')
    template.chmod(0o755)
    core_only = {k: v for k, v in built_libraries("debug").items() if k.startswith("libaigym_core")}
    monkeypatch.setattr(export_module, "ensure_libraries", lambda *a, **kw: core_only)
    result = export_game(project, out, godot, no_policy=True, engine="template", say=lambda msg: None)
    assert result.engine == f"export template {template}"
    assert (out / "bin" / "godot").read_text() == template.read_text()
    assert (out / "bin" / "needed.txt").read_text().split() == ["godot", *core_only]
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    run = subprocess.run([str(out / "run.sh"), "--headless"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"TEMPLATE --main-pack {out / 'game.pck'} --headless"
    assert (out / "game.pck").stat().st_size > 0
    umask = os.umask(0o022)
    os.umask(umask)
    assert oct(out.stat().st_mode & 0o777) == oct(0o777 & ~umask)  # not mkdtemp's 0700: others may run it
