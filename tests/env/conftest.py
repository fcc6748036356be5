"""Fixtures for the environment tests: the demo project, imported once, and leak checks.

Every test here runs real Godot engines on demo_project (no mocks). `no_leaks` fails a test
that leaves an engine process or a shared-memory chunk of this process behind.
Helpers shared by the test modules live in env_testutil.py.
"""

from __future__ import annotations

import pytest
from demo_fixtures import nothing_left_behind, prepared_demo


@pytest.fixture(scope="session")
def demo(godot):
    return prepared_demo(godot)


@pytest.fixture
def no_leaks(demo):
    with nothing_left_behind():
        yield
