"""Helpers shared by the shared-memory tests (paths, unique handles, child processes)."""

from __future__ import annotations

import atexit
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

from forked_python import PythonForkServer  # noqa: E402


def unique_handle(tag: str = "t") -> str:
    """A fresh handle under the sweepable prefix, unique across concurrent test runs."""
    return f"aigym_{tag}{os.getpid()}_{secrets.token_hex(6)}"


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PY_HOST) + os.pathsep + env.get("PYTHONPATH", "")
    # ASan's leak checker needs ptrace, which containers often forbid
    env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
    return env


_fork_server: PythonForkServer | None = None


def spawn_python(code: str) -> subprocess.Popen:
    """Run ``code`` (dedented) as ``python -c`` would, with the package importable; stdin, stdout
    and stderr piped (text). The child is a fork of a server that has imported numpy and the shm
    package (forked_python.py: what a fresh interpreter does, minus its ~0.25 CPU-s start-up)."""
    global _fork_server
    if _fork_server is None:
        _fork_server = PythonForkServer(child_env(), ("numpy", "godot_aigym.shm"))
        atexit.register(_fork_server.close)
    return _fork_server.spawn(textwrap.dedent(code))


def read_json_line(proc: subprocess.Popen) -> dict:
    """Next stdout line of ``proc`` parsed as JSON (with stderr in the failure message)."""
    line = proc.stdout.readline()
    if not line:
        proc.wait(5)
        raise AssertionError(f"child printed nothing (rc={proc.returncode}):\n{proc.stderr.read()}")
    return json.loads(line)
