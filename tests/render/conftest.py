"""Fixtures for rendering tests: the host's private X server and engines that render on it.

Real engine, real Mesa llvmpipe under Xvfb, strict log check (as in tests/conftest.py).
Viewports stay small and runs short: the machine's two cores are shared.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from godot_aigym.display import close_shared_display, rendering_launch_options, shared_display
from godot_aigym.engine import LaunchOptions, run_godot

# the suite's strict log check (tests/conftest.py; a conftest cannot import another by name)
_spec = importlib.util.spec_from_file_location("aigym_tests_root_conftest", Path(__file__).parent.parent / "conftest.py")
_root = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_root)
GodotRun, checked_run = _root.GodotRun, _root.checked_run


@pytest.fixture(scope="session")
def display(godot):
    """(VirtualDisplay, RenderingSupport) for this test session; stopped at its end."""
    yield shared_display(godot)
    close_shared_display()


@pytest.fixture
def render_gdscript(godot, test_project, display):
    """Like run_gdscript, but the engine renders (X11 + opengl3 on the private display)."""
    vd, support = display

    def run(script: str, *, handle: str | None = None, user_args=(), timeout: float = 120,
            expected_errors: tuple[str, ...] = (), expect_code: int | None = 0, env: dict | None = None) -> GodotRun:
        options = rendering_launch_options(
            LaunchOptions(project=test_project, script=script, handle=handle, user_args=tuple(user_args), env=dict(env or {})),
            vd, support)
        code, output = run_godot(options, timeout=timeout, godot=godot)
        return checked_run(code, output, expected_errors, expect_code)

    return run
