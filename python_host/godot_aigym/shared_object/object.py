"""SharedObject: a Python value shared between processes by name.

Synchronisation (details in docs/SHARED_OBJECT.md): a double-buffered sequence lock.
Writers take a robust process-shared mutex, write the unpublished of two slots and
publish it with one atomic store; readers never lock and never write: they read the
published slot and retry if a publication happened meanwhile (after READ_ATTEMPTS
retries they read under the writer lock, so they cannot be starved either).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from . import layout
from .encoding import encode, tag_of, write_plan
from .fixed_codecs import FixedCodec, fixed_capacity, fixed_codec
from .huge_pages import collapse, huge_page_size
from .slot_format import Plan, Torn
from .errors import (ArgumentTypeError, CorruptObjectError, LockTimeoutError, ObjectClosedError, ObjectExistsError,
                     TypeMismatchError)
from ..liveness import owner_alive
from .segment import Segment, check_name, unlink_name
from .sync import (
    DEFAULT_LOCK_TIMEOUT_S,
    LOCK_SPIN_S,
    MOUNT_TIMEOUT_S,
    READ_ATTEMPTS,
    WAIT_SPIN_S,
    ext,
    timeout_arg,
)

_ATTEMPTS = range(READ_ATTEMPTS)


def _mount(cls: type[SharedObject], name: str, lock_timeout: float | None) -> SharedObject:
    """Unpickling target: mount an existing object (never create one)."""
    return cls(name, create=False, lock_timeout=lock_timeout)


class SharedObject:
    """A value in shared memory that any process can mount by name.

    ``SharedObject(name, data=x)`` creates the object holding ``x`` (or, if it already
    exists, mounts it and assigns ``x``); ``SharedObject(name)`` mounts it, or creates a
    *trigger object* holding None.  ``create=True`` / ``create=False`` insist on creating
    / mounting.  The type is fixed at creation: arrays keep dtype and shape, text and
    containers may change content within their capacity (the initial size plus
    ``max(init_size, initial size)`` bytes).  Use SharedDynamicObject for anything else.

    The creating process owns the name and unlinks it at exit; see ``unlink()``.
    Handles pickle by name, so they can be passed to spawned processes.
    """

    _kind = layout.KIND_FIXED

    def __init__(
        self,
        name: str,
        *,
        data: Any = None,
        init_size: int = 100,
        create: bool | None = None,
        lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT_S,
    ) -> None:
        """
        Args:
            name: object name (1..200 bytes, no '/'); becomes /dev/shm/<name>.
            data: initial value (creating) or value to assign (mounting); None makes a
                trigger object when creating and leaves the value alone when mounting.
            init_size: extra bytes reserved for text and containers to grow into.
            create: None = mount if it exists else create; True = must create
                (ObjectExistsError); False = must mount (ObjectNotFoundError).
            lock_timeout: seconds to wait for the writer lock (None = forever);
                LockTimeoutError when exceeded.
        """
        self._seg: Segment | None = None
        self._writer_assign: Callable[[Any], Any] | None = None
        self._ro: tuple[Any, ...] = ()  # a fixed array's read-only slot views (fetch's fast path)
        self.name = check_name(name)
        if type(init_size) is not int:
            raise ArgumentTypeError(f"init_size must be an int >= 0, got {type(init_size).__name__} {init_size!r}")
        if init_size < 0:
            raise ValueError(f"init_size must be an int >= 0, got {init_size!r}")
        if type(create).__module__ == "numpy" and type(create).__name__ in ("bool", "bool_"):
            create = bool(create)  # a numpy bool (e.g. from a config array) is a bool
        if create is not None and type(create) is not bool:  # "no" or 0 must not mean True
            raise ArgumentTypeError(f"create must be None (mount or create), True (must create) or False "
                                    f"(must mount), got {type(create).__name__} {create!r}")
        self.init_size = init_size
        self._lock_timeout_arg = lock_timeout
        self._lock_timeout = timeout_arg(lock_timeout, "lock_timeout")
        ext()  # fail early and clearly if the C helper is not built
        if create is not False:
            plan = encode(data, name)  # bad data raises before anything is created
            try:
                self._create(data, plan)
                return
            except ObjectExistsError:
                if create:
                    raise
        self._mount()
        if data is not None:
            try:
                self.assign(data)
            except BaseException:
                self.close()
                raise

    # -- creation and mounting -----------------------------------------------------------
    def _create(self, data: Any, plan: Plan) -> None:
        tag = tag_of(data)
        cap = self._slot_capacity(data, plan)
        offs, size = layout.fixed_slots(cap, huge_page_size())
        seg = Segment.create(self.name, size, self._kind, tag, self.init_size)
        try:
            layout.SLOT_TABLE.pack_into(seg.header, layout.SLOT_TABLE_OFFSET, offs[0], cap, offs[1], cap)
            # Both slots get the value: slot 1 is published, slot 0 is pre-faulted.
            write_plan(seg.mv, offs[0], plan)
            write_plan(seg.mv, offs[1], plan)
            # large slots onto huge pages, for every handle (huge_pages.py)
            seg.huge_bytes = sum(collapse(seg.mm, off, cap) for off in offs)
            self._bind(seg, self._new_codec(seg, tag, offs, cap))
            self._sync.initialise()
            self._publish_first(1)
        except BaseException:
            self.close()
            unlink_name(self.name)
            raise

    def _slot_capacity(self, data: Any, plan: Plan) -> int:
        """Bytes per slot of a new object holding `data`."""
        return fixed_capacity(data, plan, self.init_size)

    def _new_codec(self, seg: Segment, tag: int, offs: tuple[int, int], cap: int) -> FixedCodec:
        """The codec of a new object (its slots already written)."""
        return fixed_codec(tag, seg.mv, offs, cap, self.name)

    def _publish_first(self, slot: int) -> None:
        """First publication: pub becomes non-zero, which is what mounters wait for."""
        if self._lock(self._lock_timeout, LOCK_SPIN_S) < 0:
            raise self._timeout_error()
        self._commit(slot)  # records the version as seen

    def _mount(self) -> None:
        seg = Segment.open(self.name, MOUNT_TIMEOUT_S)
        try:
            _, _, kind, tag, pid, _ = seg.ident()
            if kind != self._kind:
                other = "SharedDynamicObject" if kind == layout.KIND_DYNAMIC else "SharedObject"
                raise TypeMismatchError(f"{self.name!r} is a {other}; mount it with {other}")
            self._bind(seg, None)
            self._wait_ready(pid)
            self._codec = self._mount_codec(seg, tag)
            self._bind_codec()
            p = self._load()
            while not self._end_seen(p):
                p = self._load()
        except BaseException:
            self.close()
            raise

    def _mount_codec(self, seg: Segment, tag: int) -> FixedCodec:
        o0, cap, o1, _ = layout.SLOT_TABLE.unpack_from(seg.header, layout.SLOT_TABLE_OFFSET)
        return fixed_codec(tag, seg.mv, (o0, o1), cap, self.name)

    def _wait_ready(self, creator_pid: int) -> None:
        """Wait for the creator's first publication (pub != 0)."""
        deadline = time.monotonic() + MOUNT_TIMEOUT_S
        delay = 50e-6
        while self._load() == 0:
            if time.monotonic() > deadline:
                state = "alive" if owner_alive(creator_pid, 0) else "dead"
                raise CorruptObjectError(
                    f"shared object {self.name!r} was never finished by its creator (pid {creator_pid}, {state})"
                )
            time.sleep(delay)
            delay = min(delay * 2, 5e-3)

    def _bind(self, seg: Segment, fixed: FixedCodec | None) -> None:
        """Cache bound methods: the hot paths are a handful of attribute loads."""
        self._seg = seg
        self._sync = ext().Sync(seg.header, layout.SYNC_OFFSET)
        self._load, self._end, self._lock = self._sync.load, self._sync.end, self._sync.lock
        self._unlock, self._commit, self._wait = self._sync.unlock, self._sync.commit, self._sync.wait
        self._copy_published, self._end_seen = self._sync.copy_published, self._sync.end_seen
        if fixed is not None:
            self._codec = fixed
            self._bind_codec()

    def _bind_codec(self) -> None:
        self._read, self._prepare, self._write = self._codec.read, self._codec.prepare, self._codec.write
        self._fn_inside = self._codec.fn_inside
        self._ro = getattr(self._codec, "ro", ())
        # Fixed arrays: lock, copy and commit in one C call (see assign).
        make_writer = getattr(self._codec, "make_writer", None)
        writer = make_writer and make_writer(self._lock, self._commit, self._unlock, self._lock_timeout, LOCK_SPIN_S)
        self._writer_assign = writer.assign if writer is not None else None

    def _saw(self, p: int, t: int) -> None:
        """Record version p (published at t) as the one this handle last saw (`modified`, `mtime`)."""
        sync = self._sync
        sync.seen = p
        sync.mtime = t

    def _timeout_error(self) -> LockTimeoutError:
        return LockTimeoutError(
            f"writer lock of shared object {self.name!r} not acquired within {self._lock_timeout_arg} s"
        )

    # -- data access ---------------------------------------------------------------------
    def fetch(self, fn: Callable[[Any], Any] | None = None) -> Any:
        """Return a copy of the current value, or ``fn`` applied to it.

        For arrays ``fn`` receives a read-only view of shared memory (no copy is made
        first) and its result is copied only if it is still a view of shared memory;
        ``fn`` may run more than once when a concurrent writer forces a retry, so it
        should have no side effects.  For other types ``fn`` gets the decoded copy.
        """
        if fn is None and self._ro:
            # A fixed array copied whole: one C call (~0.5 us less than the loop below, a 0.3 MB
            # array's fetch 1.2x -> ~1.05x the raw copy); None if torn: the loop retries.
            value = self._copy_published(self._ro)
            if value is not None:
                return value
        load, read, end_seen = self._load, self._read, self._end_seen
        for _ in _ATTEMPTS:
            p = load()
            try:
                value = read(p & 1, fn)
            except Torn:
                if self._end(p):
                    raise self._corrupt() from None
                continue
            except Exception:
                if self._end(p):
                    raise  # a genuine error (from fn) on a consistent value
                continue
            if end_seen(p):  # clean: recorded as seen
                break
        else:
            value = self._fetch_locked(fn)
        if fn is not None and not self._fn_inside:
            return fn(value)
        return value

    def _fetch_locked(self, fn: Callable[[Any], Any] | None) -> Any:
        """Read under the writer lock: the fallback that bounds reader retries."""
        p = self._lock(self._lock_timeout, LOCK_SPIN_S)
        if p < 0:
            raise self._timeout_error()
        try:
            try:
                value = self._read(p & 1, fn)
            except Torn:
                raise self._corrupt() from None
            self._saw(p, self._end(p) or self._sync.mtime)
        finally:
            self._unlock()
        return value

    def _corrupt(self) -> CorruptObjectError:
        return CorruptObjectError(f"shared object {self.name!r} holds undecodable bytes")

    def assign(self, data: Any) -> SharedObject:
        """Store ``data`` (validated first: on error the stored value is untouched)."""
        fast = self._writer_assign
        if fast is not None:
            # A C-contiguous array of the very dtype and shape: the whole assign in C.
            # None: not eligible (or not planned yet, or a tuner is timing), nothing done.
            done = fast(data)
            if done is not None:  # done: commit recorded the version as seen
                if done is False:
                    raise self._timeout_error()
                return self
        prepared = self._prepare(data)
        p = self._lock(self._lock_timeout, LOCK_SPIN_S)
        if p < 0:
            raise self._timeout_error()
        slot = (p & 1) ^ 1
        try:
            self._write(slot, prepared)
        except BaseException as e:
            self._unlock()  # nothing published: the half-written slot is never read
            if self._seg is None:  # closed by another thread meanwhile: its views were dropped
                raise ObjectClosedError(f"shared object {self.name!r} was closed during the assign") from e
            raise
        self._commit(slot)  # records the version as seen
        return self

    def trigger(self) -> SharedObject:
        """Publish a new version of the unchanged value (wakes ``wait_modified``).

        Like real_robot, the triggering handle does not mark the new version as
        seen, so its own ``modified``/``triggered`` report it too.
        """
        p = self._lock(self._lock_timeout, LOCK_SPIN_S)
        if p < 0:
            raise self._timeout_error()
        self._sync.publish(p & 1)  # commit, not recorded as seen
        return self

    @property
    def modified(self) -> bool:
        """True if a version was published since this handle last fetched or assigned."""
        return self._load() != self._sync.seen

    @property
    def triggered(self) -> bool:
        """Like ``modified``, but also marks the current version as seen."""
        p = self._load()
        changed = p != self._sync.seen
        if changed:
            while not self._end_seen(p):
                p = self._load()
        return changed

    @property
    def mtime(self) -> int:
        """Publish time (ns since the epoch) of the version this handle last saw."""
        return self._sync.mtime

    def wait_modified(self, timeout: float | None = None) -> bool:
        """Block until another version is published (assign or trigger) or ``timeout``
        seconds pass; True if modified.  Spins ~50 us, then sleeps on a futex.
        Does not mark the version as seen: follow with ``fetch()`` or ``triggered``."""
        return self._wait(self._sync.seen, timeout_arg(timeout, "timeout"), WAIT_SPIN_S)

    # -- lifetime ------------------------------------------------------------------------
    @property
    def nbytes(self) -> int:
        """Size of the shared-memory segment in bytes."""
        return self._seg.size if self._seg is not None else 0

    @property
    def closed(self) -> bool:
        return self._seg is None

    def close(self) -> None:
        """Unmap this handle (the object lives on); further use raises ObjectClosedError."""
        seg, self._seg = self._seg, None
        if seg is None:
            return
        self._writer_assign = None
        self._ro = ()
        if getattr(self, "_codec", None) is not None:
            self._codec.release()
        if getattr(self, "_sync", None) is not None:
            self._sync.close()
        seg.close()

    def unlink(self) -> None:
        """Remove the name (any handle may; call it once).  Mapped handles keep working;
        new mounts fail.  The creating process does this at exit if nobody did."""
        unlink_name(self.name)

    def __enter__(self) -> SharedObject:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __reduce__(self) -> tuple[Any, ...]:
        return _mount, (type(self), self.name, self._lock_timeout_arg)

    def __repr__(self) -> str:
        if self._seg is None:
            return f"<{type(self).__name__} {self.name!r} (closed)>"
        return f"<{type(self).__name__} {self.name!r} holding {self._codec.describe()}, {self.nbytes} bytes>"
