"""Which CPUs the engines of the other hosts on this machine run on: one record per host.

``cpus="auto"`` and the spin policy (placement.py) must see every engine on the machine, not
only this process's: two training processes that each pin "their" engine to the last CPU put
both on one CPU while the other idles (measured, two hosts x 1 engine x 16 cart-poles on
2 CPUs: 84k agent-steps/s in all on one CPU, 163k-171k spread). So each host that runs engines
keeps a record, ``/dev/shm/aigym-place-<pid>-<start time>`` (mode 0600, one line per engine:
its CPUs, comma-separated, empty when unpinned), rewritten whole (temporary file + rename)
whenever one of its engines starts or stops, removed when its last engine stops, at exit and
on SIGINT/SIGTERM. The owner is in the name: a record of a dead host (SIGKILL) is ignored and
removed by the next host that reads the records (owners.sweep, the pid + start-time check).
Only regular files of this user with mode 0600 or stricter are read (opened non-blocking, checked
with fstat before any read: a FIFO never blocks a host); other files are neither trusted nor
touched (a wrong record can only make placement worse, never unsafe).
Best effort: two hosts choosing at the same instant may still pick the same CPU.
"""

from __future__ import annotations

import atexit
import os
import re
import secrets
from collections.abc import Iterable

from ..exit_signals import ExitSignalChain
from ..owners import Owner, ours, owner_tag, parse_owner_tag, sweep, unlink_if_same

RECORD_PREFIX = "aigym-place-"
_NAME_RE = re.compile(r"^\.?aigym-place-(\d+-\d+)(\.[0-9a-f]+)?$")  # a record, or one being written
directory = "/dev/shm"  # tests point it elsewhere
_written: tuple[str, int, int, int] | None = None  # (path, pid, dev, ino) of our record
_final = False  # exiting (atexit, SIGINT/SIGTERM): engines closed from now on publish nothing


def _encode(engines: Iterable[set[int] | None]) -> bytes:
    return "".join(",".join(map(str, sorted(c))) + "\n" if c else "\n" for c in engines).encode()


def _decode(data: bytes) -> list[set[int] | None]:
    out: list[set[int] | None] = []
    for line in data.decode("ascii").splitlines():
        out.append({int(c) for c in line.split(",")} if line else None)
    return out


def publish(engines: list[set[int] | None]) -> None:
    """Make ``engines`` (each live engine's CPUs, None if unpinned) this host's record; an
    empty list removes it. Never raises: placement is an optimisation."""
    global _written
    if not engines or _final:
        remove_own()
        return
    path = os.path.join(directory, RECORD_PREFIX + owner_tag())
    tmp = os.path.join(directory, f".{RECORD_PREFIX}{owner_tag()}.{secrets.token_hex(4)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, _encode(engines))
            st = os.fstat(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return
    _written = (path, os.getpid(), st.st_dev, st.st_ino)
    _install_exit_hooks()


def remove_own() -> None:
    """Remove this host's record (engines all stopped, exit, SIGINT/SIGTERM); takes no lock."""
    global _written
    written, _written = _written, None
    if written is not None and written[1] == os.getpid():  # never a parent's record in a forked child
        try:
            unlink_if_same(written[0], written[2], written[3])
        except OSError:
            pass


def _records() -> list[tuple[str, Owner]]:
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    found = []
    for name in names:
        m = _NAME_RE.match(name)
        owner = parse_owner_tag(m.group(1)) if m else None
        if owner is not None:
            found.append((os.path.join(directory, name), owner))
    return found


def _private(st: os.stat_result) -> bool:
    """A record we may read or remove: a regular file of this user that no one else can read or
    write (a FIFO, a device or a group-readable file is never read: it could block or lie)."""
    return ours(st) and st.st_mode & 0o077 == 0


def _inspect(item: tuple[str, Owner]) -> tuple[Owner, tuple[int, int]] | None:
    st = os.stat(item[0], follow_symlinks=False)
    return (item[1], (st.st_dev, st.st_ino)) if _private(st) else None


def others() -> list[list[set[int] | None]]:
    """The engines of every other live host of this user: one list of CPU sets per host.
    Records of dead hosts are removed on the way."""
    records = _records()
    dead = {path for path, _ in sweep(records, _inspect, lambda item, ident: unlink_if_same(item[0], *ident))}
    me = os.getpid()
    hosts = []
    for path, (pid, _start) in records:
        if pid == me or path in dead or os.path.basename(path).startswith("."):
            continue
        try:
            # O_NONBLOCK: opening another user's FIFO planted under a record's name must not block
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
            try:
                if not _private(os.fstat(fd)):
                    continue
                data = os.read(fd, 1 << 16)
            finally:
                os.close(fd)
            hosts.append(_decode(data))
        except (OSError, ValueError, UnicodeDecodeError):
            continue  # gone meanwhile, or not a record we wrote
    return hosts


def _remove_at_exit() -> None:
    global _final
    _final = True
    remove_own()


_hooks_installed = False
_exit_signals = ExitSignalChain(_remove_at_exit)


def _install_exit_hooks() -> None:
    global _hooks_installed
    if not _hooks_installed:
        _hooks_installed = True
        atexit.register(_remove_at_exit)
    _exit_signals.install()  # only from the main thread; atexit covers the rest
