"""Temporary engine log files: private, owned by one host, never left behind.

A log we create is ``<tmp>/godot-aigym-<host pid>-<host start time>-<random>.log``, made by
``mkstemp`` (O_EXCL, O_NOFOLLOW, mode 0600, unguessable suffix), so a file or symlink planted
by another local user is never opened. The owner is in the name, so:
- this process removes its logs when the engine is closed, at exit and on SIGINT/SIGTERM;
- a host killed with SIGKILL cannot: the host watcher of an attached engine removes the log at
  once (gdextension/shm/host_watch.cpp reads this name pattern), and the next host sweeps the
  logs whose owner is dead (`sweep_stale_logs`, the pid + start-time check the chunk sweep uses,
  once per process).
"""

from __future__ import annotations

import atexit
import os
import re
import tempfile
import threading

from ..exit_signals import ExitSignalChain
from ..owners import Owner, ours, owner_tag, run_once, sweep, unlink_if_same
from ..shm import _sigforward

LOG_PREFIX = "godot-aigym-"
_NAME_RE = re.compile(r"^godot-aigym-(\d+)-(\d+)-[A-Za-z0-9_]+\.log$")

_lock = threading.Lock()
_owned: dict[str, tuple[int, int, int]] = {}  # path -> (creator pid, st_dev, st_ino)


def log_dir() -> str:
    return tempfile.gettempdir()


def create_log() -> tuple[int, str]:
    """Create a new private log file of this process; returns (fd opened for writing, path)."""
    _sweep_once()
    fd, path = tempfile.mkstemp(prefix=f"{LOG_PREFIX}{owner_tag()}-", suffix=".log", dir=log_dir())
    st = os.fstat(fd)
    with _lock:
        _owned[path] = (os.getpid(), st.st_dev, st.st_ino)
    _install_signal_handlers()
    return fd, path


def remove_log(path: str) -> None:
    """Remove a log this process created (only if the name still refers to that very file)."""
    with _lock:
        entry = _owned.pop(path, None)
    if entry is not None and entry[0] == os.getpid():
        _unlink_if_same(path, entry[1], entry[2])


def _unlink_if_same(path: str, dev: int, ino: int) -> None:
    try:
        unlink_if_same(path, dev, ino)
    except OSError:
        pass


def remove_all_owned() -> None:
    """Remove every log this process still owns (exit, signals).

    Takes no lock: a signal handler runs on the main thread between two bytecodes, possibly
    while that thread holds ``_lock``; popping the entries one by one is atomic under the GIL.
    """
    items = []
    while _owned:
        try:
            items.append(_owned.popitem())
        except KeyError:
            break
    me = os.getpid()
    for path, (pid, dev, ino) in items:
        if pid == me:  # never a parent's log in a forked child
            _unlink_if_same(path, dev, ino)


def sweep_stale_logs(dry_run: bool = False) -> list[str]:
    """Remove engine logs in the temp directory whose owning host process is gone.

    Only regular files owned by this user, named by `create_log` with a dead owner (pid gone,
    zombie or reused: the recorded start time differs) are removed. Returns their paths.
    """
    directory = log_dir()
    try:
        names = os.listdir(directory)
    except OSError:
        return []

    def inspect(path: str) -> tuple[Owner, os.stat_result] | None:
        m = _NAME_RE.match(os.path.basename(path))
        if not m:
            return None
        st = os.lstat(path)
        if not ours(st):
            return None  # symlinks and other users' files are never touched
        return (int(m.group(1)), int(m.group(2))), st

    def remove(path: str, st: os.stat_result) -> bool:
        if not dry_run:
            _unlink_if_same(path, st.st_dev, st.st_ino)
        return True

    return sweep([os.path.join(directory, name) for name in names], inspect, remove)


_sweep_once = run_once(sweep_stale_logs)


_exit_signals = ExitSignalChain(remove_all_owned)


def _install_signal_handlers() -> None:
    """Chain SIGINT/SIGTERM once, like the chunk clean-up (shm/cleanup.py), whose handler ours
    calls next, and with its forwarding of a signal delivered to another thread to the main thread."""
    for signum in _exit_signals.install():
        _sigforward.forward(signum)  # signal.signal dropped the forwarding wrapper: wrap ours


def _after_fork_in_child() -> None:
    with _lock:
        _owned.clear()


atexit.register(remove_all_owned)
os.register_at_fork(after_in_child=_after_fork_in_child)
