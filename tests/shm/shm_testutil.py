"""Helpers shared by the shared-memory tests (paths, unique handles, child processes)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PY_HOST = REPO / "python_host"
HEADER_DIR = REPO / "gdextension" / "shm"
C_DIR = Path(__file__).resolve().parent / "c"
if str(PY_HOST) not in sys.path:
    sys.path.insert(0, str(PY_HOST))


def unique_handle(tag: str = "t") -> str:
    """A fresh handle under the sweepable prefix, unique across concurrent test runs."""
    return f"aigym_{tag}{os.getpid()}_{secrets.token_hex(6)}"


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PY_HOST) + os.pathsep + env.get("PYTHONPATH", "")
    # ASan's leak checker needs ptrace, which containers often forbid
    env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
    return env


def spawn_python(code: str, **kwargs) -> subprocess.Popen:
    """Start ``python -c code`` (dedented) with the package importable; stdout/stderr piped."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=child_env(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kwargs)


def read_json_line(proc: subprocess.Popen) -> dict:
    """Next stdout line of ``proc`` parsed as JSON (with stderr in the failure message)."""
    line = proc.stdout.readline()
    if not line:
        proc.wait(5)
        raise AssertionError(f"child printed nothing (rc={proc.returncode}):\n{proc.stderr.read()}")
    return json.loads(line)
