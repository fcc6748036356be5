"""A user's game with the addon and the template environment, imported once per run.

Godot's first import of a fresh project is an editor start-up (~6-7 CPU-s, the same again for a
re-import after a new scene): the tests that export or step a user's project, without being about
its first import, copy this one instead (`copy2` keeps the mtimes, so the import stamp stays
valid and the copy needs no import). Its build is the suite's test of `ensure_imported` on a fresh
project (test_project_tools.py); `add`'s own import is the end-to-end test's (test_your_game.py).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from pathlib import Path

import pytest

ENV_NAME = "reach"
IMPORT_TIMEOUT = 300.0  # each of the build's two `ensure_imported` calls (its default)
# a worker waits for another's build at most as long as the build itself may take, plus margin
BUILD_LOCK_TIMEOUT = 2 * IMPORT_TIMEOUT + 120.0


def write_project_file(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "project.godot").write_text(
        f'config_version=5\n\n[application]\n\nconfig/name="{folder.name}"\nconfig/features=PackedStringArray("4.6")\n')
    return folder


def _build(project: Path, godot) -> dict:
    """The game, imported; what its first import and a second `ensure_imported` returned
    (test_project_tools.py::test_first_import_of_a_fresh_project_exits_cleanly checks it)."""
    from godot_aigym.engine import ensure_imported
    from godot_aigym.project_tools import add_addon, new_env

    write_project_file(project)
    add_addon(project, godot, do_import=False, say=lambda msg: None)
    new_env(project, ENV_NAME)
    first = ensure_imported(project, godot, timeout=IMPORT_TIMEOUT)  # ProjectImportError unless it exits 0
    return {"first_import_ran": first, "second_import_ran": ensure_imported(project, godot, timeout=IMPORT_TIMEOUT)}


class ImportedGame:
    """`imported_game(dest)` copies the game to `dest`; `.source` is the imported original and
    `.build` what its import returned."""

    def __init__(self, source: Path, build: dict):
        self.source, self.build = source, build

    def __call__(self, dest: Path) -> Path:
        shutil.copytree(self.source, dest, symlinks=True)
        return dest


def _lock(fd: int, lock_file: Path, build: Path) -> None:
    """flock(LOCK_EX) on ``fd``, polled: fails the test naming the build and the lock file if
    another worker holds it longer than its build may take (a hung or stopped worker)."""
    deadline = time.monotonic() + BUILD_LOCK_TIMEOUT
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                pytest.fail(f"the imported game's build ({build}) did not finish within {BUILD_LOCK_TIMEOUT:g} s "
                            f"in another worker: its lock on {lock_file} is still held")
            time.sleep(0.05)  # a poll interval, not a time budget


@pytest.fixture(scope="session")
def imported_game(tmp_path_factory, worker_id, godot, built_core) -> ImportedGame:
    """Built by the first worker that asks (the other workers of the run wait for it and share it)."""
    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    source = shared / "imported_game" / "game"
    ready = source.parent / "ready.json"
    fd = os.open(shared, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _lock(fd, shared, source)
        if not ready.exists():
            shutil.rmtree(source.parent, ignore_errors=True)
            build = _build(source, godot)
            ready.write_text(json.dumps(build))
    finally:
        os.close(fd)
    return ImportedGame(source, json.loads(ready.read_text()))
