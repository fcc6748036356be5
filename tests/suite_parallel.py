"""How the suite runs on several pytest-xdist workers (`-n auto --dist loadscope`, pyproject.toml).

* Work units. Every test module is one unit (its module-scoped engines start once), and each
  folder whose tests share one expensive per-process resource is one unit: tests/rllib (Ray and
  RLlib imported once, ~5 CPU-s, and one Ray instance, ~7 CPU-s a start: the cluster test's head
  node; that test, the longest, runs first in it: tests/rllib/conftest.py), tests/render (one
  Xvfb). So only one worker imports Ray/RLlib.
  Units are handed out in collection order, which puts the longest first (`LONGEST_FIRST`), so no
  worker is left alone with a long one at the end, and the units holding an exclusive test last
  (while they wait, the other workers' tests are short ones). A worker runs a test only once it
  knows the next (pytest's `nextitem`), and xdist gives a worker its next unit once it has at most
  two tests left, so a worker whose first unit is a single test starts with two units: the second
  is a short one (`SuiteUnits`), not the next long one stuck behind the first.
* Exclusive tests. A test marked `exclusive` runs while no other test runs. For tests that check
  what a killed process left behind before they sweep it themselves: every new host sweeps the
  stale chunks and logs of dead processes when it starts (shm/chunk_file.py, engine/logs.py), so a
  host started by a test on another worker could remove them first. A reader-writer lock of
  flock()s: every test holds it shared, an exclusive one alone; a turnstile keeps a stream of
  shared holders from starving an exclusive one.
* Engines on different CPUs. cpus="auto" pins a process's engine to the last CPU first, knowing
  only that process's engines: every worker's engines would share one CPU (an engine start is ~1 s
  of CPU: they would run one after the other). On worker k "auto" breaks its ties k CPUs further
  on (the tie-break its `index` argument already applies to a vector env's engines), so each worker
  starts on a CPU of its own; pinning and spinning are what they are without workers. The tests
  of the placement itself (`REAL_PLACEMENT`) see the unshifted policy.
* Before the workers start, the controller writes the test project's generated file and imports
  the test and demo projects (two workers importing one project at once would write its .godot
  folder together); the workers then find them imported. `project_lock` serialises any later import.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parent.parent
LOCK_ENV = "AIGYM_TEST_LOCK_DIR"  # set by the controller for its workers
MAX_WORKERS = 8

# Folders run as one unit on one worker (they share a per-process resource).
SHARED_UNITS = ("tests/rllib/", "tests/render/")
# The slowest units, slowest first (measured: wall per unit, `-n 2` run of 2026-11-30 12:39, the
# units of tests/env, render, multiagent, shm_godot less the engine starts and version probes cut
# at 14:40; tests/rllib: its cluster test ~90 s + the rest ~57 s, 16:40). Only an order: a missing
# or renamed entry costs time, never a failure.
LONGEST_FIRST = (
    "tests/rllib/",
    "tests/render/",
    "tests/install/test_your_game.py",
    "tests/reliability/",
    "tests/compat/test_original_driver_end_to_end.py",
    "tests/install/test_project_tools.py",
    "tests/install/test_project_export.py",
    "tests/multiagent/test_play_groups.py",
    "tests/torch/test_torch_model.py",
    "tests/env/test_vector_step_async.py",
    "tests/env/test_godot_env.py",
    "tests/shared_object/test_shared_object_roundtrip.py",
    "tests/env/test_sb3_env.py",
    "tests/shared_object/test_shared_object_processes.py",
    "tests/env/test_env_errors.py",  # these two hold exclusive tests: they go last anyway (below)
    "tests/shm_godot/test_shm_cross_language.py",
)


# Modules that check which CPUs "auto" chooses.
REAL_PLACEMENT = ("tests/env/test_placement.py", "tests/render/test_render_placement.py")


def unit_of(nodeid: str) -> str:
    for folder in SHARED_UNITS:
        if nodeid.startswith(folder):
            return folder
    return nodeid.split("::", 1)[0]


def _rank(nodeid: str) -> int:
    for i, prefix in enumerate(LONGEST_FIRST):
        if nodeid.startswith(prefix):
            return i
    return len(LONGEST_FIRST)


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _is_controller(config: pytest.Config) -> bool:
    return not _is_worker(config) and bool(getattr(config.option, "numprocesses", 0)) \
        and getattr(config.option, "dist", "no") != "no"


# ---- scheduling -------------------------------------------------------------------------------
@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker per CPU we may use (the suite is CPU-bound: engine starts, training),
    at most MAX_WORKERS (each worker imports torch, SB3 and Ray: memory, not CPU, bounds more)."""
    return max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0))))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.getvalue("dist") != "loadscope":
        return None  # xdist's own
    from xdist.scheduler import LoadScopeScheduling

    class SuiteUnits(LoadScopeScheduling):
        """Our units; at the start each worker's second unit is the shortest-looking one (fewest
        tests among those not named in LONGEST_FIRST), not the next long one."""

        _starting = False

        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

        def schedule(self) -> None:
            self._starting = self.collection is None  # the first call hands out the initial units
            try:
                super().schedule()
            finally:
                self._starting = False

        def _assign_work_unit(self, node) -> None:
            if self._starting and self.assigned_work.get(node):
                unranked = [s for s in self.workqueue if _rank(s) == len(LONGEST_FIRST)]
                if unranked:
                    short = min(reversed(unranked), key=lambda s: len(self.workqueue[s]))
                    self.workqueue.move_to_end(short, last=False)
            super()._assign_work_unit(node)

    config.option.loadscopereorder = False  # our order (longest first), not "most tests first"
    return SuiteUnits(config, log)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest units first, units with an exclusive test last (an exclusive test waits for the
    test running on every other worker: early in the run that is a long one, e.g. 22 s measured
    behind the install test; at the end the others run short units); within a unit the order the
    folders' own hooks chose (stable sort)."""
    if _is_worker(config):
        exclusive = {unit_of(item.nodeid) for item in items if item.get_closest_marker("exclusive")}
        items.sort(key=lambda item: (unit_of(item.nodeid) in exclusive, _rank(item.nodeid)))


# ---- exclusive tests --------------------------------------------------------------------------
class _Turns:
    """flock()-based reader-writer lock shared by the workers of one run."""

    def __init__(self, folder: str):
        self.rw = os.open(os.path.join(folder, "rw"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.turnstile = os.open(os.path.join(folder, "turnstile"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    @contextlib.contextmanager
    def hold(self, exclusive: bool) -> Iterator[None]:
        fcntl.flock(self.turnstile, fcntl.LOCK_EX)
        try:
            if exclusive:  # keep the turnstile until we have it alone: no new shared holder
                fcntl.flock(self.rw, fcntl.LOCK_EX)
        finally:
            fcntl.flock(self.turnstile, fcntl.LOCK_UN)
        if not exclusive:
            fcntl.flock(self.rw, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(self.rw, fcntl.LOCK_UN)


_turns: _Turns | None = None
_shift = 0  # this worker's tie-break shift of cpus="auto" (0: the library's own choice)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    """Setup, call and teardown (module and session fixtures end in a test's teardown) under the
    lock, with this worker's placement (unshifted for the placement tests). The outermost wrapper:
    waiting for the lock is not part of a test's pytest-timeout budget."""
    global _turns, _shift
    folder = os.environ.get(LOCK_ENV) if _is_worker(item.config) else None
    if not folder:
        yield
        return
    if _turns is None:
        _turns = _Turns(folder)
        _spread_auto_placement()
    _shift = 0 if item.nodeid.startswith(REAL_PLACEMENT) else int(item.config.workerinput["workerid"][2:])
    with _turns.hold(item.get_closest_marker("exclusive") is not None):
        yield


def _spread_auto_placement() -> None:
    """engine_cpus as the environments call it, with "auto"'s ties broken `_shift` CPUs further on."""
    from godot_aigym.env import engine_links, link, placement

    real = placement.engine_cpus

    def engine_cpus(spec, index=None, foreign=None):
        if _shift and isinstance(spec, str) and spec == "auto":
            return real(spec, (index or 0) + _shift, foreign)
        return real(spec, index, foreign)

    link.engine_cpus = engine_links.engine_cpus = engine_cpus


# ---- the controller: lock folder, projects prepared before the workers start ------------------
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "exclusive: runs while no other test of the session runs "
                                       "(it checks what a killed process left before sweeping it itself)")
    if _is_controller(config):
        os.environ[LOCK_ENV] = tempfile.mkdtemp(prefix="aigym-pytest-")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _is_controller(config) and os.environ.get(LOCK_ENV):
        shutil.rmtree(os.environ.pop(LOCK_ENV), ignore_errors=True)


@contextlib.contextmanager
def project_lock(project: Path) -> Iterator[None]:
    """Held while a test process imports ``project`` or writes files it watches (flock on its
    .godot folder: nothing left behind)."""
    (project / ".godot").mkdir(exist_ok=True)
    fd = os.open(project / ".godot", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def pytest_sessionstart(session: pytest.Session) -> None:
    if not _is_controller(session.config):
        return
    from godot_aigym.engine import ensure_imported
    from godot_aigym.runtime import resolve_godot

    test_project, demo = REPO / "tests" / "project", REPO / "demo_project"
    bin_dir = demo / "addons" / "godot_aigym" / "bin"
    if not (bin_dir / "libaigym_core.linux.debug.x86_64.so").exists():
        return  # the fixtures fail every test that needs it, with what to do
    preload = test_project / "generated" / "torch_preload.jit"
    if (bin_dir / "libaigym_torch.linux.debug.x86_64.so").exists() and not preload.exists():
        sys.path.insert(0, str(REPO / "tests" / "torch"))  # a fresh clone: written before any import
        from torch_preload import ensure_preload_model

        ensure_preload_model()
    try:
        godot = resolve_godot()
        for project in (test_project, demo):
            with project_lock(project):
                ensure_imported(project, godot)
    except Exception as e:  # noqa: BLE001 - the tests' fixtures fail with the same cause, where it matters
        session.config.get_terminal_writer().line(f"suite_parallel: projects not prepared: {e}", yellow=True)
