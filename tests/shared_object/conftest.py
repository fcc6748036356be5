"""Fixtures for the SharedObject tests: random names that are always unlinked, and a
session check that nothing this suite created is left in /dev/shm."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from godot_aigym.shared_object.segment import unlink_name

# this process's names only: other workers of the suite run SharedObject tests at the same time
PREFIX = f"gaso-test-{os.getpid()}-"


def _leftovers() -> set[str]:
    try:
        return {n for n in os.listdir("/dev/shm") if n.startswith(PREFIX)}
    except OSError:
        return set()


@pytest.fixture(scope="session", autouse=True)
def no_shm_leaks() -> Iterator[None]:
    before = _leftovers()
    yield
    leaked = _leftovers() - before
    for n in leaked:  # clean up, then fail loudly
        try:
            unlink_name(n)
        except Exception:
            pass
    assert not leaked, f"tests leaked shared memory: {sorted(leaked)}"


@pytest.fixture
def make_name() -> Iterator[Callable[[], str]]:
    """Factory of random object names; every name handed out is unlinked at teardown."""
    names: list[str] = []

    def make() -> str:
        n = f"{PREFIX}{uuid.uuid4().hex[:16]}"
        names.append(n)
        return n

    yield make
    for n in names:
        try:
            unlink_name(n)
        except Exception:
            pass


@pytest.fixture
def name(make_name: Callable[[], str]) -> str:
    return make_name()
