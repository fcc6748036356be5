"""Errors of the engine launcher."""

from __future__ import annotations


class GodotProcessError(RuntimeError):
    """The engine could not be started, or failed while we waited for it."""


class InvalidCpusError(GodotProcessError, ValueError):
    """``cpus`` names CPUs this process cannot run on (or is not a CPU number / list of them)."""
