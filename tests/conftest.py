"""Fixtures that run the real Godot engine headless on the test project.

`run_gdscript` starts Godot on a SceneTree script in tests/project, waits for it with a
timeout, and fails the test on a strict log: any SCRIPT ERROR, extension load error, leaked
object or unexpected engine ERROR line, unless the test names the error it expects.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from godot_aigym.engine import LaunchOptions, ensure_imported, run_godot
from godot_aigym.runtime import resolve_godot

REPO = Path(__file__).resolve().parent.parent
TEST_PROJECT = REPO / "tests" / "project"
ADDON_BIN = REPO / "demo_project" / "addons" / "godot_aigym" / "bin"

# Lines that mean something went wrong however the script ended.
ALWAYS_BAD = ("SCRIPT ERROR", "Error loading extension", "ObjectDB instances leaked", "Leaked instance",
              "resources still in use at exit", "Segmentation fault", "Aborted", "crash")


@dataclass
class GodotRun:
    code: int
    output: str
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    results: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, code: int, output: str) -> "GodotRun":
        run = cls(code, output)
        lines = output.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("PASS "):
                run.passed.append(line[5:])
            elif line.startswith("FAIL "):
                run.failed.append(line[5:])
            elif line.startswith("RESULT "):
                item = json.loads(line[7:])
                run.results[item["name"]] = item["value"]
            elif line.startswith("ERROR:") or line.startswith("SCRIPT ERROR:") or line.startswith("USER ERROR:"):
                run.errors.append(line)
        return run


def check_log(run: GodotRun, expected_errors: tuple[str, ...] = ()) -> None:
    """Fail on unexpected error lines; every expected error must have appeared."""
    for pattern in expected_errors:
        assert re.search(pattern, run.output), f"expected error matching {pattern!r} not in output:\n{run.output[-3000:]}"
    for bad in ALWAYS_BAD:
        for line in run.output.splitlines():
            if bad in line and not any(re.search(p, line) for p in expected_errors):
                pytest.fail(f"engine log has {bad!r}: {line}\n---\n{run.output[-3000:]}")
    unexpected = [e for e in run.errors if not any(re.search(p, e) for p in expected_errors)]
    assert not unexpected, "unexpected engine errors:\n" + "\n".join(unexpected) + "\n---\n" + run.output[-3000:]


def checked_run(code: int, output: str, expected_errors: tuple[str, ...] = (),
                expect_code: int | None = 0) -> GodotRun:
    """Parse a GDScript test run and fail on failed checks, an unexpected log or exit code."""
    result = GodotRun.parse(code, output)
    assert not result.failed, "GDScript checks failed:\n" + "\n".join(result.failed) + "\n---\n" + output[-3000:]
    check_log(result, expected_errors)
    if expect_code is not None:
        assert code == expect_code, f"Godot exited with {code}, expected {expect_code}:\n{output[-3000:]}"
    return result


@pytest.fixture(scope="session")
def godot():
    return resolve_godot()


@pytest.fixture(scope="session")
def built_core():
    lib = ADDON_BIN / "libaigym_core.linux.debug.x86_64.so"
    if not lib.exists():
        pytest.fail(f"the extension is not built ({lib} missing): run `make build` (or `make test`)")
    return lib


@pytest.fixture(scope="session")
def test_project(godot, built_core):
    ensure_imported(TEST_PROJECT, godot)
    return TEST_PROJECT


@pytest.fixture
def run_gdscript(godot, test_project):
    """run_gdscript("res://binding/test_binding.gd", handle=..., expected_errors=(...)) -> GodotRun."""

    def run(script: str, *, handle: str | None = None, user_args=(), timeout: float = 120,
            expected_errors: tuple[str, ...] = (), expect_code: int | None = 0, fixed_fps: int | None = None,
            quit_after: int | None = None) -> GodotRun:
        code, output = run_godot(
            LaunchOptions(project=test_project, script=script, handle=handle, user_args=tuple(user_args), fixed_fps=fixed_fps,
                          quit_after=quit_after),
            timeout=timeout, godot=godot,
        )
        return checked_run(code, output, expected_errors, expect_code)

    return run
