"""The `godot-aigym` command: unit tests with fake engines, then doctor and smoke on the real one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from godot_aigym import __version__, cli, doctor, locations
from godot_aigym.engine.project import seed_extension_list
from godot_aigym.project_tools.libraries import scons_command
from godot_aigym.runtime import resolve
from godot_aigym.runtime.provision import DebianGodotProvisioner

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, timeout: float = 180, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "godot_aigym", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, cwd=REPO, env=env)


@pytest.fixture
def no_engine(tmp_path, monkeypatch):
    """No engine anywhere: empty PATH, no GODOT_BIN, empty private cache, provisioning forbidden."""
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.delenv("GODOT_BIN", raising=False)
    monkeypatch.setenv("GODOT_AIGYM_CACHE", str(tmp_path / "cache"))

    def provision_must_not_run(self):
        raise AssertionError("provisioning must not run in this test")

    monkeypatch.setattr(DebianGodotProvisioner, "provision", provision_must_not_run)
    return tmp_path


def fake_godot(path: Path, version: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{version}'\n")
    path.chmod(0o755)
    return path


# ---- without a real engine ------------------------------------------------------------------------
def test_no_command_prints_help(capsys):
    assert cli.main([]) == 2
    assert "doctor" in capsys.readouterr().out


def test_doctor_json_without_engine_fails_clearly(no_engine, capsys):
    assert cli.main(["doctor", "--json", "--no-provision"]) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["ok"] is False and report["engine"]["path"] is None
    assert "no Godot >= 4.3 found" in report["engine"]["error"]
    assert "no Godot >= 4.3 found" in captured.err


def test_doctor_reports_every_candidate_with_reasons(no_engine, monkeypatch, capsys):
    old = fake_godot(no_engine / "bin" / "godot", "4.2.1.stable")
    mine = fake_godot(no_engine / "mine" / "godot", "4.6.3.stable.custom")
    monkeypatch.setenv("GODOT_BIN", str(mine))
    assert cli.main(["doctor", "--json", "--no-provision"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["engine"]["path"] == str(mine) and report["engine"]["source"] == "GODOT_BIN"
    assert report["engine"]["version"] == "4.6.3.stable.custom"
    by_source = {c["source"]: c for c in report["candidates"]}
    assert by_source["GODOT_BIN"]["usable"] is True
    assert by_source["PATH"]["path"] == str(old) and by_source["PATH"]["reason"] == "older than 4.3"
    assert by_source["cache"]["reason"] == "not provisioned yet"
    for key in ("core", "torch"):
        assert report["extension"][key]["path"].endswith(f"libaigym_{key}.linux.debug.x86_64.so")
    assert report["python"]["executable"] == sys.executable
    assert report["python"]["version"].startswith(f"{sys.version_info[0]}.{sys.version_info[1]}.")
    assert report["shm"]["free_bytes"] > 0


def test_doctor_text_names_the_rejection(no_engine, capsys):
    fake_godot(no_engine / "bin" / "godot", "4.2.1.stable")
    assert cli.main(["doctor", "--no-provision"]) == 1
    text = capsys.readouterr().out
    assert "version 4.2.1.stable is older than 4.3" in text
    assert "GODOT_BIN" in text


def test_the_checkout_is_found_by_its_files_not_by_a_parent_count():
    lay = locations.layout()
    assert lay.kind == "checkout" and lay.repo == REPO
    assert locations.addon_source() == REPO / "demo_project" / "addons" / "godot_aigym"
    assert locations.library_dir() == REPO / "demo_project" / "addons" / "godot_aigym" / "bin"
    assert locations.demo_project() == REPO / "demo_project"


def test_an_installed_package_uses_its_package_data(tmp_path, monkeypatch):
    data = tmp_path / "_data"
    for folder in ("addon", "demo_project", "extension"):
        (data / folder).mkdir(parents=True)
    monkeypatch.setattr(locations, "DATA_DIR", data)
    monkeypatch.setenv("GODOT_AIGYM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GODOT_AIGYM_DEMO_PROJECT", raising=False)
    locations.layout.cache_clear()
    try:
        assert locations.layout().kind == "installed" and not locations.is_checkout()
        assert locations.addon_source() == data / "addon"
        assert locations.extension_sources() == data / "extension"
        assert locations.extension_tree() == tmp_path / "cache" / "build" / __version__
        assert locations.demo_project() == tmp_path / "cache" / "demo" / __version__ / "demo_project"
    finally:
        locations.layout.cache_clear()


def test_scons_command_passes_the_resolved_engine():
    rt = resolve.GodotRuntime(Path("/opt/godot/godot"), "4.6.3.stable", "explicit")
    cmd = scons_command(rt, release=True, torch=False)
    assert cmd[:3] == [sys.executable, "-m", "SCons"]
    assert {"target=release", "torch=no", "godot=/opt/godot/godot"} <= set(cmd)


def test_demo_calls_the_demo_module_with_its_arguments(monkeypatch):
    import godot_aigym.demo

    seen = []
    monkeypatch.setattr(godot_aigym.demo, "main", lambda argv: seen.append(argv) or 7)
    assert cli.main(["demo", "--steps", "10", "--no-render"]) == 7
    assert seen == [["--steps", "10", "--no-render"]]


def test_importing_the_plot_module_does_not_load_the_demo():
    code = ("import sys, godot_aigym.demo.plot; "
            "print(sorted(m for m in sys.modules if m.startswith(('godot_aigym.demo', 'stable_baselines3'))))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "['godot_aigym.demo', 'godot_aigym.demo.plot']", proc.stderr


def test_doctor_lists_engines_in_the_resolvers_own_order(no_engine, monkeypatch):
    mine = fake_godot(no_engine / "mine" / "godot", "4.6.3.stable")
    monkeypatch.setenv("GODOT_BIN", str(mine))
    rows = doctor._survey(str(mine))
    assert [(r["source"], r["path"]) for r in rows] == resolve.search_order(str(mine))
    assert [r["source"] for r in rows] == ["explicit", "GODOT_BIN", "PATH", "cache"]


# ---- the real engine ----------------------------------------------------------------------------
def test_doctor_json_matches_the_resolver(godot, built_core):
    proc = run_cli("doctor", "--json", "--no-provision")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is True
    assert report["engine"]["version"] == godot.version
    assert Path(report["engine"]["path"]) == godot.path
    assert report["engine"]["source"] == godot.source
    assert report["engine"]["notes"], "the resolver's notes explain the choice"
    core = report["extension"]["core"]
    assert core["exists"] is True and Path(core["path"]) == built_core
    assert report["python"]["shared_object_helper"]["built"] is True
    assert set(report["python"]["shared_object_helper"]["path"]) == {"_sync", "_slotcopy"}


def test_smoke_prints_engine_version_and_extension_line(godot, built_core):
    proc = run_cli("smoke")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Godot engine: {godot.version}" in proc.stdout
    assert (f"Extension: godot-aigym {__version__} extension running in Godot Engine v{godot.version}"
            in proc.stdout), proc.stdout


# ---- project import -----------------------------------------------------------------------------
def test_seed_extension_list_adds_every_gdextension_once(tmp_path):
    addon = tmp_path / "shared" / "addons" / "x"
    addon.mkdir(parents=True)
    (addon / "a.gdextension").write_text("")
    (addon / "b.gdextension").write_text("")
    project = tmp_path / "p"
    (project / ".hidden").mkdir(parents=True)
    (project / ".hidden" / "c.gdextension").write_text("")  # dot folders are not part of the project
    (project / "addons").symlink_to(tmp_path / "shared" / "addons")  # like tests/project/addons
    (project / ".godot").mkdir()
    (project / ".godot" / "extension_list.cfg").write_text("res://addons/x/b.gdextension\n")
    assert seed_extension_list(project) == ["res://addons/x/a.gdextension"]
    assert (project / ".godot" / "extension_list.cfg").read_text().splitlines() == [
        "res://addons/x/b.gdextension", "res://addons/x/a.gdextension"]
    assert seed_extension_list(project) == []


# The first import of a fresh project with the addon (Godot's crash when a headless session discovers
# a GDExtension, avoided by seeding the extension list): tests/install/test_project_tools.py, on the
# build of the imported game its export tests share (one editor start-up fewer per run).


def test_a_permission_error_is_one_line_only_for_the_project_commands(monkeypatch, capsys):
    """Every command's PermissionError became 'permission denied: <file>: run ... as a user who may
    write there' (strerror and traceback lost, wrong advice for doctor or a run)."""
    def denied(_args):
        raise PermissionError(13, "Permission denied", "/srv/game/envs")

    def not_private(_args):
        raise PermissionError("refusing to mount shared object 'x': owned by uid 1")  # as our ...NotPrivate

    monkeypatch.setitem(cli.COMMANDS, "doctor", denied)
    with pytest.raises(PermissionError, match="Permission denied"):
        cli.main(["doctor"])
    monkeypatch.setitem(cli.COMMANDS, "add", not_private)
    with pytest.raises(PermissionError, match="refusing to mount"):
        cli.main(["add", "/srv/game"])
    monkeypatch.setitem(cli.COMMANDS, "add", denied)
    assert cli.main(["add", "/srv/game"]) == 1
    assert "permission denied: /srv/game/envs (Permission denied)" in " ".join(capsys.readouterr().err.split())
