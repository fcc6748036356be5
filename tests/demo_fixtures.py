"""What the environment and multi-agent tests' fixtures share (a module of its own: `conftest` is
ambiguous when several test folders run together): the demo project, imported once, and the check
that a test or module left no engine process or shared-memory chunk of this process behind."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "env"))
from env_testutil import DEMO, engine_children, our_chunks, wait_gone  # noqa: E402

from suite_parallel import project_lock  # noqa: E402

from godot_aigym.env.link import prepare_project  # noqa: E402


def prepared_demo(godot) -> Path:
    """The demo project, imported for ``godot``; fails when the extension is not built."""
    lib = DEMO / "addons" / "godot_aigym" / "bin" / "libaigym_core.linux.debug.x86_64.so"
    if not lib.exists():
        pytest.fail(f"the extension is not built ({lib} missing): run `make build`")
    with project_lock(DEMO):  # another worker may be importing it
        prepare_project(DEMO, godot)
    return DEMO


@contextlib.contextmanager
def nothing_left_behind() -> Iterator[None]:
    """Fails when the block leaves an engine process or a chunk behind. An engine still exiting
    by itself is waited for (a safety timeout: a loaded machine may take seconds to end it)."""
    before_chunks, before_procs = our_chunks(), engine_children()
    yield
    for pid in engine_children() - before_procs:
        wait_gone(pid, 60.0)
    leaked_procs = engine_children() - before_procs
    assert not leaked_procs, f"engine processes left behind: {leaked_procs}"
    leaked = our_chunks() - before_chunks
    assert not leaked, f"shared-memory chunks left behind: {leaked}"
