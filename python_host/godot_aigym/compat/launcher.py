"""The ``exec_path`` a GodotAIGym driver passes to ``subprocess.Popen``.

Original drivers start ``[exec_path, "--path", env_path, "--handle", handle]`` with an
exported Godot 3 game (or its "server" build for machines without a display). With Godot 4
the game is the engine plus the project folder: ``godot_executable()`` is the engine, and
``godot_executable(headless=True)`` a small launcher that adds ``--headless`` (the
replacement for the server build), so the driver's launch line stays as it is.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import tempfile
from pathlib import Path

from ..runtime import GodotRuntime, cache_root, resolve_godot


def _launcher_text(engine: Path) -> str:
    # exec: the pid the driver gets from Popen is the engine itself (terminate() reaches it)
    return f"#!/bin/sh\n# godot-aigym: run the engine headless (GodotAIGym compat)\nexec {shlex.quote(str(engine))} --headless \"$@\"\n"


def godot_executable(headless: bool = False, godot: GodotRuntime | None = None) -> str:
    """Path of an executable to use as GodotAIGym's ``exec_path``.

    ``headless=False``: the resolved Godot engine (a window opens, as with the original game).
    ``headless=True``: a launcher script in the per-user cache that runs that engine with
    ``--headless`` and the driver's arguments (written once per engine, atomically).
    """
    engine = (godot or resolve_godot()).path
    if not headless:
        return str(engine)
    text = _launcher_text(engine)
    folder = cache_root() / "compat"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest = hashlib.sha256(str(engine).encode()).hexdigest()[:12]
    path = folder / f"godot-headless-{digest}"
    try:
        if path.read_text() == text and os.access(path, os.X_OK):
            return str(path)
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".godot-headless-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)  # atomic: a concurrent driver never runs a half-written file
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return str(path)
