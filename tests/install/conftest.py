"""A user's game with the addon and the template environment, imported once per run.

Godot's first import of a fresh project is an editor start-up (~6-7 CPU-s, the same again for a
re-import after a new scene): the tests that export or step a user's project, without being about
its first import, copy this one instead (`copy2` keeps the mtimes, so the import stamp stays
valid and the copy needs no import). `add`'s own import is the end-to-end test's
(test_your_game.py), `ensure_imported` on a fresh project tests/foundation/test_cli.py's.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import pytest

ENV_NAME = "reach"


def write_project_file(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "project.godot").write_text(
        f'config_version=5\n\n[application]\n\nconfig/name="{folder.name}"\nconfig/features=PackedStringArray("4.6")\n')
    return folder


def _build(project: Path, godot) -> None:
    from godot_aigym.engine import ensure_imported, needs_import
    from godot_aigym.project_tools import add_addon, new_env

    write_project_file(project)
    add_addon(project, godot, do_import=False, say=lambda msg: None)
    new_env(project, ENV_NAME)
    ensure_imported(project, godot)
    assert not needs_import(project)


@pytest.fixture(scope="session")
def imported_game(tmp_path_factory, worker_id, godot, built_core):
    """copy(dest) -> a copy of the imported game at `dest` (folder name = project name).
    Built by the first worker that asks (the other workers of the run wait for it and share it)."""
    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    source = shared / "imported_game" / "game"
    fd = os.open(shared, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if not (source.parent / "ready").exists():
            shutil.rmtree(source.parent, ignore_errors=True)
            _build(source, godot)
            (source.parent / "ready").touch()
    finally:
        os.close(fd)

    def copy(dest: Path) -> Path:
        shutil.copytree(source, dest, symlinks=True)
        return dest

    return copy
