"""A game exported with the provisioned runtime renders with the GL stack it ships, never the
machine's: Godot and libglvnd open libGL, libGLX_mesa, libEGL, libgbm... with dlopen, so the
engine's DT_NEEDED closure alone left them out (a shipped game took the system's mesa, or
failed where it has none: "libgbm" was reported). The engine bundle is started exactly as
run.sh starts it, on a private X server, and its mappings are read while it runs."""

from __future__ import annotations

import os
import re
import subprocess
import types
from pathlib import Path

import pytest

from godot_aigym.display import close_shared_display, shared_display
from godot_aigym.engine.launch import spawn
from godot_aigym.project_tools import bundle as bundle_module
from godot_aigym.project_tools.bundle import GL_ROOTS, bundle_engine, needed, provisioned_sysroot

WAIT_SCRIPT = """extends SceneTree
func _initialize() -> void:
	print("RENDERER ", RenderingServer.get_video_adapter_name(), " | ", RenderingServer.get_video_adapter_api_version())
	OS.read_string_from_stdin(16)
	quit()
"""


@pytest.fixture
def display(godot):
    yield shared_display(godot)  # provisions mesa in the runtime's closure when missing
    close_shared_display()


def test_the_bundled_engine_renders_with_the_gl_libraries_it_ships(godot, display, tmp_path):
    assert provisioned_sysroot(godot) is not None, (
        f"this test checks the bundle of the provisioned Debian runtime; the resolved engine is {godot.path}")
    vd, _support = display
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    bundle = bundle_engine(godot, bin_dir)
    for name in GL_ROOTS:
        assert name in bundle.files and (bin_dir / name).is_file(), f"{name} not shipped"
    assert any(f.startswith("egl_vendor.d/") for f in bundle.files)

    project = tmp_path / "game"
    project.mkdir()
    (project / "project.godot").write_text("config_version=5\n")
    (project / "wait.gd").write_text(WAIT_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIBGL", "__EGL", "GALLIUM", "LD_"))}
    env.update(vd.environment())
    # run.sh's own command line (BIN set as run.sh sets it)
    line = (f'BIN="{bin_dir}"; exec {bundle.command} --rendering-driver opengl3 --display-driver x11 '
            f'--audio-driver Dummy --path "{project}" --script res://wait.gd')
    proc = spawn(["sh", "-c", line], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                 stderr=subprocess.STDOUT, text=True)
    try:
        output = []
        for text in proc.stdout:  # the readiness line: the renderer is up, its libraries are loaded
            output.append(text)
            if text.startswith("RENDERER "):
                break
        else:
            pytest.fail("the bundled engine exited before rendering:\n" + "".join(output))
        maps = Path(f"/proc/{proc.pid}/maps").read_text().splitlines()
        libraries = {line.split()[-1] for line in maps if ".so" in line.split()[-1]}
        foreign = sorted(p for p in libraries if not p.startswith(str(bin_dir)))
        assert not foreign, f"libraries loaded from outside the shipped folder: {foreign}"
        assert "llvmpipe" in output[-1]
        proc.stdin.write("\n")
        proc.stdin.close()
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_a_headless_only_bundle_leaves_the_gl_stack_out(godot, tmp_path, monkeypatch):
    started = []
    real_run = bundle_module.subprocess.run
    monkeypatch.setattr(bundle_module, "subprocess", types.SimpleNamespace(
        run=lambda cmd, *a, **kw: started.append(Path(cmd[0]).name) or real_run(cmd, *a, **kw)))
    bundle = bundle_engine(godot, tmp_path, rendering=False)  # `godot-aigym export --headless-only`
    # the closure and the library paths are read in-process: ~200 readelf processes were ~0.6 CPU-s
    assert "readelf" not in started and set(started) <= {"patchelf"}, started
    engine = provisioned_sysroot(godot) / "usr" / "bin" / "godot"
    dyn = subprocess.run(["readelf", "-dW", str(engine)], capture_output=True, text=True, check=True).stdout
    assert needed(engine) == re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dyn)
    opened_only = set(GL_ROOTS) - {"libgbm.so.1"}  # libgbm is also in the engine's own DT_NEEDED closure
    assert not opened_only & set(bundle.files) and not (tmp_path / "egl_vendor.d").exists()
    assert "libudev.so.1" in bundle.files  # opened with dlopen whether or not the game renders
