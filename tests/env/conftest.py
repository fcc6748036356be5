"""Fixtures for the environment tests: the demo project, imported once, and leak checks.

Every test here runs real Godot engines on demo_project (no mocks). `no_leaks` fails a test
that leaves an engine process or a shared-memory chunk of this process behind.
Helpers shared by the test modules live in env_testutil.py.
"""

from __future__ import annotations

import pytest
from env_testutil import DEMO, engine_children, our_chunks, wait_gone

from godot_aigym.env.link import prepare_project


@pytest.fixture(scope="session")
def demo(godot):
    lib = DEMO / "addons" / "godot_aigym" / "bin" / "libaigym_core.linux.debug.x86_64.so"
    if not lib.exists():
        pytest.fail(f"the extension is not built ({lib} missing): run `make build`")
    prepare_project(DEMO, godot)
    return DEMO


@pytest.fixture
def no_leaks(demo):
    before_chunks, before_procs = our_chunks(), engine_children()
    yield
    leaked_procs = engine_children() - before_procs
    for pid in leaked_procs:
        wait_gone(pid, 5.0)
    leaked_procs = engine_children() - before_procs
    assert not leaked_procs, f"engine processes left behind: {leaked_procs}"
    leaked = our_chunks() - before_chunks
    assert not leaked, f"shared-memory chunks left behind: {leaked}"
