"""Envs without pixels pay nothing; rendering engines get one well-defined command and environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from godot_aigym.engine import LaunchOptions
from godot_aigym.runtime.rendering import RenderingSupport, rendering_environment


def test_plain_engines_stay_headless_and_start_no_x_server(tmp_path):
    cmd = LaunchOptions(project=tmp_path).command(Path("godot"))
    assert "--headless" in cmd and "--rendering-driver" not in cmd
    # importing the package (and its display module) starts no process and writes no record
    code = ("import glob, os, godot_aigym, godot_aigym.display, godot_aigym.env;"
            "kids = [c for f in glob.glob(f'/proc/{os.getpid()}/task/*/children') for c in open(f).read().split()];"
            "recs = glob.glob(str(godot_aigym.display.records_dir() / f'xvfb-{os.getpid()}-*'));"
            "print(len(kids), len(recs))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "0"], "importing the package started a process or an X server"

def test_rendering_options_and_environment(display, tmp_path):
    vd, support = display
    from godot_aigym.display import rendering_launch_options

    plain = LaunchOptions(project=tmp_path, engine_args=("--verbose",), env={"KEEP": "1"})
    opts = rendering_launch_options(plain, vd, support, window=(32, 24))
    assert plain.headless and plain.env == {"KEEP": "1"}, "the caller's options must not change"
    cmd = opts.command(Path("godot"))
    assert "--headless" not in cmd
    i = cmd.index("--display-driver")
    assert cmd[i:i + 10] == ["--display-driver", "x11", "--rendering-driver", "opengl3", "--audio-driver", "Dummy",
                             "--disable-vsync", "--resolution", "32x24", "--verbose"]  # vsync paced frames at ~60/s
    assert opts.env["KEEP"] == "1" and opts.env["DISPLAY"] == vd.display
    assert opts.env["XAUTHORITY"] == str(vd.xauthority)


def test_rendering_environment_points_into_the_closure(tmp_path):
    env = rendering_environment(":7", RenderingSupport(xvfb="/usr/bin/Xvfb", sysroot=tmp_path))
    assert env == {
        "DISPLAY": ":7", "LIBGL_ALWAYS_SOFTWARE": "1", "GALLIUM_DRIVER": "llvmpipe", "LP_NUM_THREADS": "0",
        "LIBGL_DRIVERS_PATH": str(tmp_path / "usr/lib/x86_64-linux-gnu/dri"),
        "__EGL_VENDOR_LIBRARY_DIRS": str(tmp_path / "usr/share/glvnd/egl_vendor.d"),
    }
    own = rendering_environment(":7", RenderingSupport(xvfb="/usr/bin/Xvfb", sysroot=None))
    assert "LIBGL_DRIVERS_PATH" not in own and own["DISPLAY"] == ":7"
