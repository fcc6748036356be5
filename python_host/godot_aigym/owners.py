"""Resources owned by a host process, recorded as its (pid, start time), swept once it is dead.

Chunks and SharedObject segments (header fields, temporary creation names), engine logs (file
names) and X server records (JSON) each carry their owner this way; the start time guards
against a reused pid. Each resource keeps its own removal rule (same dev/inode, stop a server
by pid first); what "owner dead, remove it" means is decided here once.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from .liveness import owner_alive, start_time

Owner = tuple[int, int]  # (pid, start time in clock ticks since boot; 0 = unknown)
T = TypeVar("T")


def current_owner() -> Owner:
    """(pid, start time) of this process."""
    pid = os.getpid()
    return pid, start_time(pid)


def owner_tag(sep: str = "-") -> str:
    """This process as an owner tag for a file name: ``<pid><sep><start time>``."""
    return sep.join(map(str, current_owner()))


def parse_owner_tag(text: str, sep: str = "-") -> Owner | None:
    """The (pid, start time) of an owner tag, None if ``text`` is not one."""
    parts = text.split(sep)
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def owner_is_dead(owner: Owner) -> bool:
    """The owner's pid is gone, a zombie, or reused by another process (start time differs)."""
    return not owner_alive(*owner)


def ours(st: os.stat_result) -> bool:
    """A regular file of this user: the only kind a sweep may remove (never symlinks or others' files)."""
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid()


def unlink_if_same(path: str, dev: int, ino: int) -> bool:
    """Unlink ``path`` only if it is still the file (dev, ino); True if it was removed."""
    try:
        st = os.stat(path, follow_symlinks=False)
        if (st.st_dev, st.st_ino) != (dev, ino):
            return False
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def sweep(items: Iterable[T], inspect: Callable[[T], tuple[Owner, Any] | None],
          remove: Callable[[T, Any], bool]) -> list[T]:
    """Remove the items whose owner is dead; returns them.

    ``inspect(item)`` gives (owner, detail) or None for an item that is not ours to judge;
    ``remove(item, detail)`` applies the resource's own removal rule and says whether it removed
    it. Odd files never make a sweep raise: an OSError/ValueError/KeyError/TypeError while
    inspecting skips the item, an OSError while removing keeps it.
    """
    removed: list[T] = []
    for item in items:
        try:
            found = inspect(item)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if found is None or not owner_is_dead(found[0]):
            continue
        try:
            if remove(item, found[1]):
                removed.append(item)
        except OSError:
            pass
    return removed


def run_once(action: Callable[[], object]) -> Callable[[], None]:
    """``action`` wrapped to run at most once per process, best effort (a sweep before first use)."""
    done = False

    def once() -> None:
        nonlocal done
        if done:
            return
        done = True
        try:
            action()
        except Exception:
            pass
    return once
