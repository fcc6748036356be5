"""Keep /dev/shm clean: unlink owned chunks at exit and on SIGINT/SIGTERM, sweep stale ones.

The registry holds only names and inode identities (not the SharedMemory objects), so the
handlers work even while objects are being torn down, and a name reused by someone else
after we unlinked ours is never touched.
"""

from __future__ import annotations

import atexit
import os
import secrets
import signal
import threading

from . import _sigforward
from . import layout as L
from ..exit_signals import ExitSignalChain
from ..owners import Owner, ours, owner_tag, parse_owner_tag, sweep, unlink_if_same

SHM_DIR = "/dev/shm"
HANDLE_PREFIX = "aigym_"
# A chunk (or SharedObject segment) is built under ".aigym-new.<creator pid>.<creator start
# time>.<random>" and linked to its name only when complete; the leading '.' keeps it from
# ever being a valid handle. Both sweeps remove such files of dead creators.
TEMP_PREFIX = ".aigym-new."

_lock = threading.Lock()
_owned: dict[str, tuple[int, int, int]] = {}  # path -> (creator pid, st_dev, st_ino)


def register(path: str, dev: int, ino: int) -> None:
    """Remember a chunk this process created, so exit/signal handlers can unlink it."""
    with _lock:
        _owned[path] = (os.getpid(), dev, ino)
    _sigforward.add(path, dev, ino)  # the C signal handler unlinks it at once, on any thread
    _install_signal_handlers()


def temp_path() -> str:
    """A fresh temporary creation path naming this process (pid and start time)."""
    return os.path.join(SHM_DIR, f"{TEMP_PREFIX}{owner_tag('.')}.{secrets.token_hex(8)}")


def _temp_owner(name: str) -> Owner | None:
    """(pid, start time) encoded in a temporary creation name, None if it is not one."""
    parts = name[len(TEMP_PREFIX):].split(".") if name.startswith(TEMP_PREFIX) else []
    return parse_owner_tag(".".join(parts[:2]), ".") if len(parts) == 3 else None


def sweep_temp_files(dry_run: bool = False) -> list[str]:
    """Remove temporary creation files (chunks and SharedObject segments) of dead creators."""
    # no name starts with NUL: only the temporary files (matched by their own prefix) qualify
    return sweep_stale_chunks(prefix="\0", dry_run=dry_run)


def unregister(path: str) -> None:
    with _lock:
        _owned.pop(path, None)
    _sigforward.remove(path)


def unlink_all_owned(locked: bool = True) -> None:
    """Unlink every chunk this process created and still owns (mappings stay valid).

    The signal handler passes ``locked=False``: it runs on the main thread between two
    bytecodes, possibly while that very thread holds ``_lock`` (register), so taking it
    there could deadlock; copying and clearing the dict are single atomic steps anyway.
    """
    if locked:
        with _lock:
            items = list(_owned.items())
            _owned.clear()
    else:
        items = list(_owned.items())
        _owned.clear()
    me = os.getpid()
    for path, (pid, dev, ino) in items:
        if pid == me:  # never a parent's chunk in a forked child
            try:
                unlink_if_same(path, dev, ino)
            except OSError:
                pass


_exit_signals = ExitSignalChain(lambda: unlink_all_owned(locked=False))


def _install_signal_handlers() -> None:
    """Chain SIGINT/SIGTERM once (from the main thread, unless ignored/foreign)."""
    for signum, replaced in _exit_signals.install().items():
        # The C wrapper unlinks our files inside the signal handler and, when the disposition
        # before ours was the default, dies of the signal there: no dependence on when the
        # interpreter gets round to Python handlers (a signal landing just before a blocking
        # call waits for that call). Otherwise it wakes the main thread for the chained handler.
        if _sigforward.forward(signum):
            _sigforward.set_die(signum, replaced == signal.SIG_DFL)


def _after_fork_in_child() -> None:
    with _lock:
        _owned.clear()
    _sigforward.clear()


atexit.register(unlink_all_owned)
os.register_at_fork(after_in_child=_after_fork_in_child)


def sweep_stale_chunks(prefix: str = "", dry_run: bool = False) -> list[str]:
    """Remove chunks in /dev/shm named ``prefix*`` whose creator process is gone.

    The default looks at every name: a chunk is recognised by its magic, not its name (the
    compatibility API creates chunks under the original's fixed names, e.g. ``environment``).
    Only regular files owned by this user, with the godot-aigym magic, whose recorded host
    pid (and start time, guarding against pid reuse) is dead are removed; so are temporary
    creation files (``TEMP_PREFIX``) whose creator, named in the file name, is dead. Returns
    the names removed (or that would be, with ``dry_run``). Never raises for odd files.
    """
    try:
        names = os.listdir(SHM_DIR)
    except OSError:
        return []

    def inspect(name: str) -> tuple[Owner, os.stat_result] | None:
        temp_owner = _temp_owner(name)
        if not name.startswith(prefix) and temp_owner is None:
            return None
        fd = os.open(os.path.join(SHM_DIR, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        try:
            st = os.fstat(fd)
            if not ours(st):
                return None
            if temp_owner is not None:
                return temp_owner, st  # judged by the name: the creator may have died before writing anything
            head = os.pread(fd, L.HEADER_SIZE, 0) if st.st_size >= L.HEADER_SIZE else b""
        finally:
            os.close(fd)
        if len(head) < L.HEADER_SIZE or head[:8] != L.MAGIC:
            return None  # not ours (chunks are only linked into place complete)
        host_pid = L.I32.unpack_from(head, L.HEADER_OFFSETS["host_pid"])[0]
        started = L.U64.unpack_from(head, L.HEADER_OFFSETS["host_start_time"])[0]
        return (host_pid, started), st

    def remove(name: str, st: os.stat_result) -> bool:
        return dry_run or unlink_if_same(os.path.join(SHM_DIR, name), st.st_dev, st.st_ino)

    return sweep(names, inspect, remove)
