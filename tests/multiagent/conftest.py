"""Fixtures of the multi-agent tests: real engines on the demo project's rendezvous scene (one
engine per module where the tests allow it) and the test project's faulty group scenes."""

from __future__ import annotations

import pytest
from demo_fixtures import nothing_left_behind, prepared_demo


@pytest.fixture(scope="session")
def demo(godot):
    return prepared_demo(godot)


@pytest.fixture(scope="module")
def module_leak_check(demo):
    """Fails the module when it leaves an engine process or a chunk behind (module-scoped engines
    are closed by then)."""
    with nothing_left_behind():
        yield


@pytest.fixture
def no_leaks(demo):
    with nothing_left_behind():
        yield
