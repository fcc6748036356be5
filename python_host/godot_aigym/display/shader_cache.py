"""Godot's shader cache, warmed by one engine before a host starts rendering engines of a project.

The compatibility renderer keeps compiled shaders in ``user://shader_cache`` (one folder per
project, shared by every engine of it). Godot 4.6 writes a cache file in place (``FileAccess``
without backup-save: truncate, then write) and creates its folders with a plain ``mkdir``, so
engines of one project started at once race: one reads a file another is writing and logs
``Condition "br != variant_size" is true`` (ShaderGLES3::_load_from_cache), or finds a folder the
other just made. Nothing per process can move or switch off that cache without moving the game's
own ``user://`` data (saves): the path is ``user://`` unless the editor sets it, and
``rendering/shader_compiler/shader_cache/enabled`` is read from the project's files only.

So when a host starts several rendering engines (``EngineLink._rendering``), the first of a
(project, scene, data folder, CPU count) is preceded by a short warm-up run of the same scene in
random mode (no Python, ``--quit-after`` a few frames, on the engine's CPUs), alone: it compiles
and writes what the scene's engines need; the engines then only read. Hosts
running at the same time take turns through an advisory lock (``flock``) on the project folder
itself, so no lock file is left behind. Costs one short engine run per (project, scene) and host;
Mesa's own disk cache (safe for concurrent processes) keeps compiling cheap.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from ..engine import GodotProcess, LaunchOptions
from ..runtime import GodotRuntime

WARM_FRAMES = 10  # the scene's materials are drawn (and their shaders cached) in the first frames
LOCK_POLL = 0.02  # seconds between tries for another host's lock (bounded by the timeout)

_lock = threading.Lock()
_warmed: set[tuple] = set()


def _key(launch: LaunchOptions, godot: GodotRuntime, cpus: frozenset[int] | None) -> tuple:
    """What decides the cache folder and its content: engine, project, scene, data folder, and the
    number of CPUs (llvmpipe's program binaries only load in a process with as many CPUs: an engine
    pinned to one CPU logs "Failed to load cached shader, recompiling." and rewrites the file)."""
    env = {**os.environ, **launch.env}
    n_cpus = len(cpus) if cpus else len(os.sched_getaffinity(0))
    return (str(godot.path), str(Path(launch.project).resolve()), launch.scene,
            env.get("XDG_DATA_HOME"), env.get("HOME"), n_cpus)


def run_godot(options: LaunchOptions, *, godot: GodotRuntime, cpus: frozenset[int] | None,
              timeout: float) -> tuple[int, str]:
    """Run the warm-up engine on the CPUs of the engines it warms for; (exit code, output)."""
    with GodotProcess(options, godot=godot, cpus=cpus) as proc:
        code = proc.wait(timeout=timeout)
    return code, proc.log()


@contextmanager
def _project_lock(project: Path, timeout: float):
    """An exclusive flock on the project folder (other hosts warming it wait); gives up at timeout."""
    try:
        fd = os.open(project, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:  # an unreadable folder: warm without taking turns (the engine reports the rest)
        yield
        return
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() >= deadline:
                    break  # warming is an optimisation of safety, never a reason to fail the start
                time.sleep(LOCK_POLL)
        yield
    finally:
        os.close(fd)  # releases the lock


def warm_up_options(launch: LaunchOptions) -> LaunchOptions:
    """``launch`` (an engine that renders) as a short run of its scene without Python."""
    return dataclasses.replace(launch, handle=None, quit_after=WARM_FRAMES,
                               user_args=(*launch.user_args, "--random"))


def warm_shader_cache(launch: LaunchOptions, godot: GodotRuntime, cpus: frozenset[int] | None = None,
                      timeout: float = 120.0) -> bool:
    """Run the warm-up for ``launch``'s project and scene (on ``cpus``, the engine's CPU set) unless
    this host already did; True if it ran. A failing warm-up is ignored: the engine that follows
    reports its own errors.
    """
    key = _key(launch, godot, cpus)
    with _lock:  # this host's other threads wait for the warm-up too
        if key in _warmed:
            return False
        with _project_lock(Path(launch.project), timeout):
            try:
                run_godot(warm_up_options(launch), godot=godot, cpus=cpus, timeout=timeout)
            except Exception:
                pass
        _warmed.add(key)
        return True


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # a lock held by another thread at fork time would never be released


os.register_at_fork(after_in_child=_after_fork_in_child)
