"""Fixtures for the shared-memory tests (defined in shm_fixtures.py, shared with tests/reliability)."""

from shm_fixtures import cc, handles, mem  # noqa: F401
