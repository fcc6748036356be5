"""Fixtures that run the real Godot engine headless on the test project.

`run_gdscript` starts Godot on a SceneTree script in tests/project, waits for it with a
timeout, and fails the test on a strict log: any SCRIPT ERROR, extension load error, leaked
object or unexpected engine ERROR line, unless the test names the error it expects
(the check itself is in gdscript_runs.py). `shared_env` lets the tests of a module share one
environment (one engine start) when they only reset and step it.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

# One thread per OpenMP / OpenBLAS pool (torch, numpy) in the test processes and the engines they
# start, set before anything imports torch: `make test` runs one xdist worker per CPU, and a pool
# of one thread per CPU in each worker only spins against the other worker (two SB3 training
# tests at once, nothing else running: 22.5 -> 18 CPU-s, medians of 3 interleaved pairs). The
# project's own training code already uses one thread; a value the user set is kept.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402

pytest.register_assert_rewrite("gdscript_runs")
from gdscript_runs import ALWAYS_BAD, GodotRun, check_log, checked_run  # noqa: E402,F401  (re-exported)

from suite_parallel import (  # noqa: E402,F401  (the hooks of running on several workers)
    project_lock, pytest_collection_modifyitems, pytest_configure, pytest_runtest_protocol, pytest_sessionstart,
    pytest_unconfigure, pytest_xdist_auto_num_workers, pytest_xdist_make_scheduler)

from godot_aigym.engine import LaunchOptions, ensure_imported, run_godot  # noqa: E402
from godot_aigym.runtime import resolve_godot  # noqa: E402
from hypothesis import settings  # noqa: E402

# Hypothesis tests draw the same examples on every run (derandomize, no example database): the
# suite is a gate, so a red run must be a real, reproducible failure, not a lucky draw.
# `pytest --hypothesis-profile=explore` searches new examples when working on that code.
settings.register_profile("gate", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile("gate")

# A suite started in the background of a non-interactive shell (`cmd &`, nohup, some CI agents)
# inherits SIGINT ignored, and every process it spawns would too: Python then installs no
# KeyboardInterrupt handler and our chunk owners rightly leave an ignored signal alone, so the
# tests of how our processes die of SIGINT would wait forever. Give the suite (controller and
# xdist workers) the disposition a terminal gives; exec resets a handler to the default in children.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

REPO = Path(__file__).resolve().parent.parent
TEST_PROJECT = REPO / "tests" / "project"
ADDON_BIN = REPO / "demo_project" / "addons" / "godot_aigym" / "bin"


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
    with project_lock(TEST_PROJECT):  # another worker may be importing it
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


@pytest.fixture(scope="module")
def shared_env():
    """One environment per module for tests that only reset and step it (an engine start is most
    of such a test's cost): `env = shared_env(GodotEnv, DEMO, TRIVIAL, n_agents=4)` returns the
    same open environment for the same factory and arguments within the module, and closes every
    one at the module's end. A test using it starts with `reset(seed=...)`; tests that close,
    kill, hang or break the engine, or check what is left after it, make their own."""
    made: dict[str, object] = {}

    def get(factory, *args, **kwargs):
        key = repr((factory, args, sorted(kwargs.items())))
        env = made.get(key)
        if env is None or getattr(env, "_link", True) is None:  # none yet, or closed by a test
            env = made[key] = factory(*args, **kwargs)
        return env

    yield get
    for env in made.values():
        env.close()
