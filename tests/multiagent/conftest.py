"""Fixtures of the multi-agent tests: real engines on the demo project's rendezvous scene (one
engine per module where the tests allow it) and the test project's faulty group scenes."""

from __future__ import annotations

import pytest
from ma_testutil import DEMO, engine_children, our_chunks, wait_gone

from godot_aigym.env.link import prepare_project


@pytest.fixture(scope="session")
def demo(godot):
    lib = DEMO / "addons" / "godot_aigym" / "bin" / "libaigym_core.linux.debug.x86_64.so"
    if not lib.exists():
        pytest.fail(f"the extension is not built ({lib} missing): run `make build`")
    prepare_project(DEMO, godot)
    return DEMO


@pytest.fixture(scope="module")
def module_leak_check(demo):
    """Fails the module when it leaves an engine process or a chunk behind (module-scoped engines
    are closed by then)."""
    before_chunks, before_procs = our_chunks(), engine_children()
    yield
    _assert_nothing_left(before_chunks, before_procs)


@pytest.fixture
def no_leaks(demo):
    before_chunks, before_procs = our_chunks(), engine_children()
    yield
    _assert_nothing_left(before_chunks, before_procs)


def _assert_nothing_left(before_chunks: set, before_procs: set) -> None:
    for pid in engine_children() - before_procs:
        wait_gone(pid, 5.0)
    leaked_procs = engine_children() - before_procs
    assert not leaked_procs, f"engine processes left behind: {leaked_procs}"
    leaked = our_chunks() - before_chunks
    assert not leaked, f"shared-memory chunks left behind: {leaked}"
