"""The strict log check of GDScript test runs: parse the PASS/FAIL/RESULT lines of an engine's
output and fail on unexpected error lines (used by tests/conftest.py's `run_gdscript`, the
rendering fixtures and the compatibility tests).

A plain module (on the suite's pythonpath), not a conftest: `from conftest import ...` names
whichever conftest.py was imported first under that name, which depends on the paths given.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pytest

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
