"""A private virtual X server (Xvfb) owned by this Python host, for engines that render.

- The server picks a free display itself (``-displayfd``), listens on no TCP port, and only
  accepts clients holding a random MIT cookie kept in a 0700 folder of ours (``-auth``).
- It dies with the host: parent-death signal SIGTERM (so it removes its own lock and socket),
  ``close()`` stops it by pid (SIGTERM, then SIGKILL), and so do the exit and SIGINT/SIGTERM
  handlers. It is never looked up or killed by name.
- After a crash, a record (host pid + start time, server pid + start time, display) is left
  in the records folder; the next host's ``sweep_stale_displays`` stops such a server if it
  still runs and removes its files, like stale shared-memory chunks are swept.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import select
import signal
import socket
import stat
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from ..engine.launch import spawn
from ..liveness import owner_alive, pid_alive, start_time
from ..exit_signals import ExitSignalChain
from ..owners import Owner, sweep

FOLDER_ATTEMPTS = 5
START_TIMEOUT = 30.0  # seconds for the server to report its display (only fires if broken)
STOP_TIMEOUT = 10.0


class DisplayError(RuntimeError):
    """The X server could not be started or is unusable; the message says why and what to do."""


def records_path() -> Path:
    """Where the per-user folder of server records is (``records_dir`` creates it)."""
    return Path(tempfile.gettempdir()) / f"godot-aigym-x11-{os.getuid()}"


def records_dir() -> Path:
    """Per-user folder of server records and auth files (0700; refused if someone else owns it)."""
    path = records_path()
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        st = os.stat(path, follow_symlinks=False)
    except OSError as e:
        raise DisplayError(f"cannot create the X server records folder {path}: {e}") from None
    if not os.path.isdir(path) or os.path.islink(path) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise DisplayError(f"{path} is not a private folder of this user (owner {st.st_uid}, mode "
                           f"{oct(st.st_mode & 0o777)}): remove it and try again")
    return path


def remove_records_dir_if_empty() -> None:
    """Remove the records folder once no server of this user has files in it (rmdir refuses a
    folder that still holds another host's record, so a live server's files are never touched)."""
    path = records_path()
    try:
        st = os.stat(path, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid():
            os.rmdir(path)
    except OSError:
        pass


def _xauth_entry(display_number: str, cookie: bytes) -> bytes:
    """One Xauthority record: FamilyWild (any host), the display number, an MIT-MAGIC-COOKIE-1."""
    def field(data: bytes) -> bytes:
        return struct.pack(">H", len(data)) + data
    return struct.pack(">H", 0xFFFF) + field(b"") + field(display_number.encode()) + \
        field(b"MIT-MAGIC-COOKIE-1") + field(cookie)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _stop_pid(pid: int, started: int) -> None:
    """SIGTERM, then SIGKILL, the server ``pid`` if it is still the process started at ``started``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not owner_alive(pid, started):
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + STOP_TIMEOUT
        while owner_alive(pid, started) and time.monotonic() < deadline:
            time.sleep(0.01)  # not our child (swept): no wait() possible; bounded poll


def _socket_is_stale(path: Path) -> bool:
    """A socket of ours on which nobody listens any more (a server killed with SIGKILL left it)."""
    try:
        st = os.stat(path, follow_symlinks=False)
        if not stat.S_ISSOCK(st.st_mode) or st.st_uid != os.getuid():
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(STOP_TIMEOUT)
            s.connect(str(path))
        return False  # a live server answers: not ours to remove
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def _remove_server_files(display_number: int, server_pid: int) -> None:
    """Remove a killed server's lock and socket: with the lock, only if it still names that server;
    without one (Xvfb started with -displayfd may write none), the socket only if nobody listens."""
    lock = Path(f"/tmp/.X{display_number}-lock")
    sock = Path(f"/tmp/.X11-unix/X{display_number}")
    try:
        if not lock.exists():
            if _socket_is_stale(sock):
                sock.unlink(missing_ok=True)
        elif lock.stat().st_uid == os.getuid() and int(lock.read_text().strip() or 0) == server_pid:
            sock.unlink(missing_ok=True)
            lock.unlink(missing_ok=True)
    except (OSError, ValueError):
        pass


class VirtualDisplay:
    """A running private Xvfb. ``display`` (":N") and ``xauthority`` go into the engine's environment."""

    def __init__(self, xvfb: str = "Xvfb", *, width: int = 320, height: int = 240, depth: int = 24):
        self._proc: subprocess.Popen | None = None
        self.display_number = -1
        sweep_stale_displays()
        self._id = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._cookie = secrets.token_bytes(16)
        for attempt in range(FOLDER_ATTEMPTS):
            folder = records_dir()
            self.record_path = folder / f"xvfb-{self._id}.json"
            self.xauthority = folder / f"xvfb-{self._id}.xauth"
            try:  # our first file: from now on no other host removes the folder
                _write_private(self.xauthority, _xauth_entry("", self._cookie))
                break
            except FileNotFoundError:  # another host removed the empty folder in between
                if attempt == FOLDER_ATTEMPTS - 1:
                    raise DisplayError(f"the X server records folder {folder} keeps disappearing") from None
        read_fd, write_fd = os.pipe()
        try:
            cmd = [xvfb, "-displayfd", str(write_fd), "-nolisten", "tcp", "-noreset", "-auth", str(self.xauthority),
                   "-screen", "0", f"{int(width)}x{int(height)}x{int(depth)}"]
            try:
                # SIGTERM on our death, so the server removes its own lock and socket
                self._proc = spawn(cmd, death_signal=signal.SIGTERM, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=(write_fd,),
                                   start_new_session=True)
            except OSError as e:
                raise DisplayError(f"cannot start the X server {xvfb!r}: {e} (install it: apt-get install -y xvfb)") from None
            os.close(write_fd)
            write_fd = -1
            self._register()
            self.display_number = self._read_display(read_fd)
            self._proc.stderr.close()  # only read for start-up errors; a full pipe must never block it
        except BaseException:
            self.close()
            raise
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
        # the client's cookie names the display; the server already holds the cookie itself
        _write_private(self.xauthority, _xauth_entry(str(self.display_number), self._cookie))
        self._write_record()

    @property
    def display(self) -> str:
        return f":{self.display_number}"

    @property
    def pid(self) -> int:
        return self._proc.pid if self._proc else -1

    def environment(self) -> dict[str, str]:
        return {"DISPLAY": self.display, "XAUTHORITY": str(self.xauthority)}

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _read_display(self, fd: int) -> int:
        data = b""
        deadline = time.monotonic() + START_TIMEOUT
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                raise DisplayError(f"the X server did not report its display within {START_TIMEOUT:g} s")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 64)
            if not chunk:  # the server exited before choosing a display
                err = self._proc.stderr.read().decode(errors="replace") if self._proc and self._proc.stderr else ""
                raise DisplayError(f"the X server exited at start (code {self._proc.wait()}): {err.strip()[-600:]}")
            data += chunk
        try:
            return int(data.strip())
        except ValueError:
            raise DisplayError(f"the X server reported an unreadable display {data!r}") from None

    def _register(self) -> None:
        assert self._proc is not None
        self._server_start = start_time(self._proc.pid)
        with _lock:
            _owned[self.record_path] = self
        _install_signal_handlers()
        self._write_record()

    def _write_record(self) -> None:
        me = os.getpid()
        record = {"host_pid": me, "host_start_time": start_time(me), "server_pid": self.pid,
                  "server_start_time": self._server_start, "display": self.display_number,
                  "xauthority": str(self.xauthority)}
        tmp = self.record_path.with_suffix(".partial")
        _write_private(tmp, json.dumps(record).encode())
        os.replace(tmp, self.record_path)

    def close(self) -> None:
        """Stop the server by pid and remove its files. Harmless when called twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _stop_pid(proc.pid, getattr(self, "_server_start", 0))
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
            if proc.stderr and not proc.stderr.closed:
                proc.stderr.close()
            if self.display_number >= 0:
                _remove_server_files(self.display_number, proc.pid)
        with _lock:
            _owned.pop(getattr(self, "record_path", None), None)
        for path in (getattr(self, "record_path", None), getattr(self, "xauthority", None)):
            if path is not None:
                Path(path).unlink(missing_ok=True)
        remove_records_dir_if_empty()

    def __enter__(self) -> "VirtualDisplay":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_proc", None) is not None:
            self.close()


def sweep_stale_displays() -> list[int]:
    """Stop servers whose host died and remove their records; returns the displays swept."""
    try:
        folder = records_path()
        records = sorted(folder.glob("xvfb-*.json"))
    except OSError:
        return []

    def inspect(path: Path) -> tuple[Owner, dict] | None:
        if path.stat(follow_symlinks=False).st_uid != os.getuid():
            return None
        rec = json.loads(path.read_text())
        rec["server_pid"], rec["server_start_time"] = int(rec["server_pid"]), int(rec["server_start_time"])
        rec["display"] = int(rec["display"])
        return (int(rec["host_pid"]), int(rec["host_start_time"])), rec

    displays: dict[Path, int] = {}

    def remove(path: Path, rec: dict) -> bool:
        server, server_started, display = rec["server_pid"], rec["server_start_time"], rec["display"]
        if server > 0 and server_started and pid_alive(server):
            _stop_pid(server, server_started)  # only the very process recorded (start time checked)
        if display >= 0:
            _remove_server_files(display, server)
        for stale in (path, Path(str(rec.get("xauthority", ""))) if rec.get("xauthority") else None):
            if stale is not None and stale.parent == folder:
                stale.unlink(missing_ok=True)
        displays[path] = display
        return True

    swept = [displays[path] for path in sweep(records, inspect, remove)]
    remove_records_dir_if_empty()  # also one an earlier version or a crash left empty
    return swept


# -- exit and signal handlers (like the shared-memory chunks') ------------------------------------
_lock = threading.Lock()
_owned: dict[Path, VirtualDisplay] = {}


def close_all_owned() -> None:
    with _lock:
        displays = list(_owned.values())
    for d in displays:
        try:
            d.close()
        except Exception:
            pass


_exit_signals = ExitSignalChain(close_all_owned)


def _install_signal_handlers() -> None:
    _exit_signals.install()  # off the main thread: atexit and the parent-death signal still apply


def _after_fork_in_child() -> None:
    with _lock:
        _owned.clear()  # a forked child owns none of its parent's servers


atexit.register(close_all_owned)
os.register_at_fork(after_in_child=_after_fork_in_child)
