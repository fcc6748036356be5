"""POSIX shared-memory segments: create, open, map, grow, unlink, and clean-up.

Ownership: the process that creates an object owns its name.  At interpreter exit
(and at the end of a multiprocessing child) it unlinks the names it created and
has not unlinked yet, but only if the name still refers to the segment it created
(another process may have unlinked and re-created it).  Mounting never takes
ownership.  Processes that die without cleaning up leave stale names behind;
`sweep_stale()` removes the ones whose creator is gone.

Creation is crash-safe: a segment is built under a temporary name that records the
creator's pid and start time and linked to its name only once stamped, so a creator
killed half-way leaves nothing a sweep would not remove.  Mounting refuses a segment
owned by another user or with group/other permissions (a name squatter could read
or change our data).
"""

from __future__ import annotations

import atexit
import errno
import mmap
import os
import stat
import time

import numpy as np

from ..liveness import start_time
from ..owners import Owner, sweep
from ..shm.cleanup import sweep_temp_files, temp_path
from ..shm.ownership import not_private_reason, user_name
from . import layout
from .huge_pages import close_mapping, map_shared
from .errors import (CorruptObjectError, InvalidNameError, ObjectExistsError, ObjectNotFoundError,
                     ObjectNotPrivateError, SharedObjectError)
from .sync import ext

SHM_DIR = "/dev/shm"
MAX_NAME = 200


def check_name(name: object) -> str:
    """Validate a user-facing object name (the POSIX name is '/' + name)."""
    if not isinstance(name, str):
        raise InvalidNameError(f"object name must be a str, got {type(name).__name__}")
    if not name or len(name.encode()) > MAX_NAME or "/" in name or "\0" in name or name in (".", ".."):
        raise InvalidNameError(
            f"invalid object name {name!r}: need 1..{MAX_NAME} bytes without '/' or NUL"
        )
    return name


def _no_room(name: str, size: int, exc: OSError | OverflowError, hint: str) -> SharedObjectError:
    """A segment size the system cannot hold (ENOMEM, EFBIG, ENOSPC...), naming object and size."""
    reason = exc.strerror if isinstance(exc, OSError) else "larger than the system allows"
    return SharedObjectError(f"shared object {name!r}: cannot make a segment of {size} bytes ({reason}){hint}")


def _resize(fd: int, size: int, name: str, hint: str) -> None:
    try:
        os.ftruncate(fd, size)
    except (OSError, OverflowError) as exc:
        raise _no_room(name, size, exc, hint) from None


def _close_half_built(seg: Segment | None, fd: int) -> None:
    """Release what a failed create/open had: the segment's mappings and fd, or the bare fd."""
    if seg is not None:
        seg.close()
    else:
        os.close(fd)


class Segment:
    """One shared-memory object: its fd, a fixed header mapping and a data mapping."""

    def __init__(self, name: str, fd: int, created: bool) -> None:
        self.name = name
        self.fd = fd
        self.created = created
        self.header = mmap.mmap(fd, layout.HEADER_SIZE)
        self.mm: mmap.mmap | np.ndarray | None = None  # huge_pages.map_shared
        self.mv: memoryview | None = None
        self.size = 0
        self.huge_bytes = 0  # of its slots the creator collapsed onto huge pages (huge_pages.py)

    # -- creation and opening -------------------------------------------------------
    @classmethod
    def create(cls, name: str, size: int, kind: int, top_tag: int, init_size: int) -> Segment:
        """Create a new segment of `size` bytes and stamp its identity; raises ObjectExistsError."""
        final = os.path.join(SHM_DIR, name)
        if os.path.lexists(final):  # cheap early answer; os.link below is the atomic check
            raise ObjectExistsError(f"a shared object named {name!r} already exists")
        tmp = temp_path()
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise SharedObjectError(f"cannot create shared object {name!r}: {exc.strerror} ({tmp})") from None
        seg = None
        try:
            os.fchmod(fd, 0o600)  # exact mode whatever the umask
            hint = f"; choose a smaller init_size (got {init_size})" if init_size >= size // 4 else ""
            _resize(fd, size, name, hint)
            seg = cls(name, fd, created=True)
            pid = os.getpid()
            layout.IDENT.pack_into(seg.header, 0, layout.MAGIC, layout.LAYOUT_VERSION, kind, top_tag, pid, 0)
            layout.CREATOR.pack_into(
                seg.header, layout.CREATOR_OFFSET, start_time(pid), int.from_bytes(os.urandom(8), "little"), init_size
            )
            seg.map_data(hint)
            try:
                os.link(tmp, final)  # publish complete; never replaces an existing name
            except FileExistsError:
                raise ObjectExistsError(f"a shared object named {name!r} already exists") from None
        except BaseException:
            _close_half_built(seg, fd)
            raise
        finally:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        _register_owned(seg)
        return seg

    @classmethod
    def open(cls, name: str, timeout: float) -> Segment:
        """Open an existing segment, waiting up to `timeout` s for a concurrent creator."""
        try:
            fd = ext().shm_open("/" + name, os.O_RDWR | os.O_NOFOLLOW, 0)
        except FileNotFoundError:
            raise ObjectNotFoundError(f"no shared object named {name!r}") from None
        except PermissionError:
            raise _permission_error(name) from None
        except OSError as exc:  # a symbolic link (never followed), a directory, or too many open files...
            raise _open_failure(name, exc) from None
        seg = None
        try:
            st = os.fstat(fd)  # the opened file itself, not a racy look at the path
            reason = not_private_reason(st)
            if reason is not None:
                raise ObjectNotPrivateError(f"refusing to mount shared object {name!r}: {reason}",
                                            st.st_uid, stat.S_IMODE(st.st_mode))
            deadline = time.monotonic() + timeout
            delay = 50e-6
            while os.fstat(fd).st_size < layout.HEADER_SIZE:  # creator between open and ftruncate
                if time.monotonic() > deadline:
                    raise CorruptObjectError(
                        f"shared memory {name!r} exists but is smaller than a SharedObject header; "
                        "it is not a SharedObject or its creator died while creating it"
                    )
                time.sleep(delay)
                delay = min(delay * 2, 5e-3)
            seg = cls(name, fd, created=False)
            while (magic := layout.IDENT.unpack_from(seg.header, 0)[0]) == b"\0\0\0\0":
                if time.monotonic() > deadline:  # creator between ftruncate and stamping
                    break
                time.sleep(delay)
                delay = min(delay * 2, 5e-3)
            magic, version = layout.IDENT.unpack_from(seg.header, 0)[:2]
            if magic != layout.MAGIC or version != layout.LAYOUT_VERSION:
                raise CorruptObjectError(
                    f"shared memory {name!r} is not a godot_aigym SharedObject of layout "
                    f"v{layout.LAYOUT_VERSION} (magic={magic!r}, version={version})"
                )
            seg.map_data()
            return seg
        except BaseException:
            _close_half_built(seg, fd)
            raise

    # -- header fields --------------------------------------------------------------
    def ident(self) -> tuple[bytes, int, int, int, int, int]:
        return layout.IDENT.unpack_from(self.header, 0)

    def creator(self) -> tuple[int, int, int]:
        """(start ticks, token, init_size) stamped by the creator."""
        return layout.CREATOR.unpack_from(self.header, layout.CREATOR_OFFSET)

    # -- mappings -------------------------------------------------------------------
    def map_data(self, hint: str = "") -> None:
        """(Re)map the whole segment (large ones at a huge-page-aligned address: huge_pages.py);
        old mappings stay valid until unreferenced."""
        size = os.fstat(self.fd).st_size
        self._release_mv()
        try:
            self.mm = map_shared(self.fd, size)
        except (OSError, OverflowError) as exc:
            raise _no_room(self.name, size, exc, hint) from None
        self.mv = memoryview(self.mm)
        self.size = size

    def _release_mv(self) -> None:
        if self.mv is not None:
            try:
                self.mv.release()
            except BufferError:
                pass  # an array made from it is alive (e.g. a view kept by a fetch fn)
            self.mv = None

    def grow(self, new_size: int) -> None:
        """Extend the segment (never shrink: other processes may map the old size)."""
        if new_size > os.fstat(self.fd).st_size:
            _resize(self.fd, new_size, self.name, "")
        self.map_data()

    def close(self) -> None:
        """Unmap and close; maps still exported (user-held views) are left to the GC."""
        self._release_mv()
        for m in (self.mm, self.header):
            if m is not None:
                try:
                    close_mapping(m)
                except BufferError:
                    pass  # a view into it is still alive; unmapped when that view dies
        self.mm = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

def _permission_error(name: str) -> ObjectNotPrivateError:
    """A segment we may not open: name its owner and mode (an lstat just for the message)."""
    try:
        st = os.lstat(os.path.join(SHM_DIR, name))
    except OSError:
        return ObjectNotPrivateError(f"cannot mount shared object {name!r}: permission denied")
    mode = stat.S_IMODE(st.st_mode)
    return ObjectNotPrivateError(f"cannot mount shared object {name!r}: permission denied (owned by "
                                 f"{user_name(st.st_uid)}, mode {mode:04o})", st.st_uid, mode)


# what shm_open(O_NOFOLLOW) answers for a symlink, a directory or a device/fifo under the name
_NOT_A_FILE_ERRNOS = (errno.ELOOP, errno.EISDIR, errno.EINVAL, errno.ENXIO)


def _open_failure(name: str, exc: OSError) -> SharedObjectError:
    """Something we must not open under that name (a planted symlink, a directory): say what.
    Any other failure (EMFILE, ENOMEM, EINTR...) is a resource error, not a squatter."""
    try:
        st = os.lstat(os.path.join(SHM_DIR, name))
    except OSError:
        st = None
    if exc.errno not in _NOT_A_FILE_ERRNOS or st is None or stat.S_ISREG(st.st_mode):
        return SharedObjectError(f"cannot open shared object {name!r}: {exc.strerror}")
    kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
    mode = stat.S_IMODE(st.st_mode)
    return ObjectNotPrivateError(f"refusing to mount shared object {name!r}: it is {kind} (owned by {user_name(st.st_uid)}, "
                                 f"mode {mode:04o}), not a segment we made", st.st_uid, mode)


def unlink_name(name: str) -> None:
    """shm_unlink an object by name and drop this process's ownership of it."""
    _owned.pop(name, None)
    try:
        ext().shm_unlink("/" + name)
    except FileNotFoundError:
        raise ObjectNotFoundError(f"no shared object named {name!r} (already unlinked?)") from None


# -- ownership registry and exit clean-up -----------------------------------------------
_owned: dict[str, tuple[int, int, int]] = {}  # name -> (creator pid, st_dev, st_ino)
_registered_pid = 0


def _register_owned(seg: Segment) -> None:
    global _registered_pid
    st = os.fstat(seg.fd)
    _owned[seg.name] = (os.getpid(), st.st_dev, st.st_ino)
    if _registered_pid != os.getpid():
        _registered_pid = os.getpid()
        atexit.register(cleanup_owned)
        # multiprocessing children end in os._exit (fork) or skip atexit ordering;
        # their util finalizers do run, so register there too (cleanup is idempotent).
        from multiprocessing import util

        util.Finalize(None, cleanup_owned, exitpriority=0)


def cleanup_owned() -> list[str]:
    """Unlink the objects this process created and did not unlink; returns their names."""
    pid = os.getpid()
    removed = []
    for name, (owner, dev, ino) in list(_owned.items()):
        if owner != pid:
            continue  # inherited through fork: the parent owns it
        _owned.pop(name, None)
        try:
            st = os.stat(os.path.join(SHM_DIR, name))
            if (st.st_dev, st.st_ino) != (dev, ino):
                continue  # unlinked and re-created by someone else: not ours any more
            ext().shm_unlink("/" + name)
            removed.append(name)
        except OSError:
            pass
    return removed


def sweep_stale(prefix: str = "") -> list[str]:
    """Unlink SharedObjects (names starting with `prefix`) whose creator process is gone.

    Use at start-up of a stack to collect what crashed runs left in /dev/shm.  An
    object whose creator died is removed even if others still map it: their
    mappings keep working, but the name can no longer be mounted.
    """
    removed = sweep_temp_files()  # half-created segments of dead creators
    try:
        entries = os.listdir(SHM_DIR)
    except OSError:
        return removed

    def inspect(entry: str) -> tuple[Owner, None] | None:
        if not entry.startswith(prefix):
            return None
        fd = os.open(os.path.join(SHM_DIR, entry), os.O_RDONLY | os.O_NOFOLLOW)
        try:
            head = os.pread(fd, layout.CREATOR_OFFSET + 8, 0)
        finally:
            os.close(fd)
        if len(head) < layout.CREATOR_OFFSET + 8 or head[:4] != layout.MAGIC:
            return None
        pid = layout.IDENT.unpack_from(head, 0)[4]
        ticks = int.from_bytes(head[layout.CREATOR_OFFSET : layout.CREATOR_OFFSET + 8], "little")
        return (pid, ticks), None

    def remove(entry: str, _detail: None) -> bool:
        ext().shm_unlink("/" + entry)
        return True

    return removed + sweep(entries, inspect, remove)
