"""Find a Godot >= 4.3 engine: explicit path -> `godot` on PATH -> cached runtime -> provision.

Every candidate that is looked at and rejected is recorded with the reason, so that
`godot-aigym doctor` can tell the user exactly why a given engine was (not) used.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .errors import GodotNotFoundError
from .provision import DebianGodotProvisioner, Progress

MIN_VERSION = (4, 3)
ENV_VAR = "GODOT_BIN"
PROBE_TIMEOUT = 60.0  # seconds `godot --version` may take (a cold start reads the whole binary)


def cache_root() -> Path:
    """Per-user cache folder (override with GODOT_AIGYM_CACHE)."""
    if os.environ.get("GODOT_AIGYM_CACHE"):
        return Path(os.environ["GODOT_AIGYM_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "godot-aigym"


def runtime_dir() -> Path:
    return cache_root() / "godot-debian"


@dataclass
class GodotRuntime:
    path: Path
    version: str
    source: str  # "explicit", "GODOT_BIN", "PATH", "cache", "provisioned"
    notes: list[str] = field(default_factory=list)

    @property
    def version_tuple(self) -> tuple[int, int]:
        return parse_version(self.version) or (0, 0)


def parse_version(text: str) -> tuple[int, int] | None:
    m = re.search(r"(\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


# version of each engine file already probed by this process: every environment resolves the
# engine, and a `--version` start costs ~0.08 CPU-s (~15 % of a small environment's start)
_probed: dict[tuple, str] = {}
_failed: dict[tuple, str] = {}  # the last failure's message per file identity (retry_failed=False)


def _file_identity(path: str | os.PathLike) -> tuple | None:
    """The engine file as it is now: replaced, rewritten or chmod-ed, it is another one."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def probe_version(path: str | os.PathLike, timeout: float | None = None, *, retry_failed: bool = True) -> str:
    """Run `godot --headless --version`; raises GodotNotFoundError with the reason on failure.
    A file this process probed successfully and that has not changed since is not run again; with
    ``retry_failed=False`` (a report, e.g. `doctor` after the resolver) neither is one that failed:
    its error is raised again (a hung engine would otherwise cost its timeout twice)."""
    identity = _file_identity(path)
    if identity in _probed:
        return _probed[identity]
    if not retry_failed and identity in _failed:
        raise GodotNotFoundError(_failed[identity])
    try:
        version = _run_version(path, timeout)
    except GodotNotFoundError as e:
        if identity is not None:
            _failed[identity] = str(e)
        raise
    if identity is not None:
        _probed[identity] = version
    return version


def _run_version(path: str | os.PathLike, timeout: float | None) -> str:
    from ..engine.launch import spawn  # here: the engine package imports this module

    timeout = PROBE_TIMEOUT if timeout is None else timeout
    try:
        # started like every engine process (dies with us), reaped whatever happens
        # in a session of its own: a wrapper script's children go with it (a hung `sh -c 'sleep ...'`
        # left its sleep behind, reparented to init)
        with spawn([str(path), "--headless", "--version"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   text=True, start_new_session=True) as proc:
            try:
                stdout, stderr = proc.communicate(timeout=timeout)
            finally:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)  # whatever it started and left running
    except (FileNotFoundError, PermissionError) as e:
        raise GodotNotFoundError(f"{path}: {_why_not_runnable(path, e)}") from None
    except OSError as e:
        raise GodotNotFoundError(f"{path}: cannot run ({e})") from None
    except subprocess.TimeoutExpired:
        raise GodotNotFoundError(f"{path}: `--version` did not answer within {timeout:g} s") from None
    lines = [ln.strip() for ln in stdout.splitlines() if ln.strip()]
    if proc.returncode != 0:
        err = (stderr.strip() or stdout.strip())[-300:]
        raise GodotNotFoundError(f"{path}: `--version` failed (exit {proc.returncode}): {err}")
    if not lines:  # e.g. /bin/true: exit 0 but no version, so not an engine
        err = stderr.strip()[-300:]
        raise GodotNotFoundError(f"{path}: `--version` printed no version (exit 0, nothing on stdout)"
                                 + (f": {err}" if err else "; is this a Godot executable?"))
    version = lines[-1]
    if parse_version(version) is None:
        raise GodotNotFoundError(f"{path}: unrecognised version output {version!r}")
    return version


def _why_not_runnable(path: str | os.PathLike, error: OSError) -> str:
    """exec() said ENOENT or EACCES: about the file itself, or about its ELF interpreter? A runtime
    we provisioned names its closure's loader by absolute path: copied or moved to another folder
    (another user's cache, a moved GODOT_AIGYM_CACHE), the file is there and executable but its
    loader is not, and exec() reports the loader's error as if it were the file's."""
    if not os.path.isfile(path):
        return "no such file"
    if not os.access(path, os.X_OK):
        return "not executable"
    interp = _elf_interpreter(path)
    if interp and not os.access(interp, os.X_OK):
        state = "missing" if not os.path.exists(interp) else "not readable by this user"
        return (f"its ELF interpreter {interp} is {state} (a runtime copied or moved from another folder?); "
                f"delete the runtime's folder to provision it again, or set GODOT_BIN to a Godot that runs")
    return f"cannot run ({error})"


def _elf_interpreter(path: str | os.PathLike) -> str | None:
    """PT_INTERP of a 64-bit little-endian ELF file, or None (not such a file, no interpreter)."""
    import struct

    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
                return None
            phoff, = struct.unpack_from("<Q", head, 0x20)
            phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
            for i in range(min(phnum, 64)):
                f.seek(phoff + i * phentsize)
                ph = f.read(56)
                if len(ph) == 56 and struct.unpack_from("<I", ph, 0)[0] == 3:  # PT_INTERP
                    offset, = struct.unpack_from("<Q", ph, 8)
                    size, = struct.unpack_from("<Q", ph, 32)
                    f.seek(offset)
                    return f.read(min(size, 4096)).split(b"\0", 1)[0].decode(errors="replace")
    except OSError:
        return None
    return None


def _accept(path: str, source: str, notes: list[str]) -> GodotRuntime | None:
    try:
        version = probe_version(path)
    except GodotNotFoundError as e:
        notes.append(f"{source}: rejected {e}")
        return None
    if parse_version(version) < MIN_VERSION:
        notes.append(f"{source}: rejected {path}: version {version} is older than 4.3")
        return None
    notes.append(f"{source}: using {path} ({version})")
    return GodotRuntime(Path(path), version, source, notes)


def search_order(explicit: str | os.PathLike | None = None) -> list[tuple[str, str | None]]:
    """The engines `resolve_godot` considers, in its order: (source, path, or None if there is none)."""
    order: list[tuple[str, str | None]] = []
    if explicit:
        order.append(("explicit", str(explicit)))
    if os.environ.get(ENV_VAR):
        order.append((ENV_VAR, os.environ[ENV_VAR]))
    order.append(("PATH", shutil.which("godot")))
    order.append(("cache", str(DebianGodotProvisioner(runtime_dir()).binary)))
    return order


def resolve_godot(
    explicit: str | os.PathLike | None = None,
    *,
    provision: bool = True,
    progress: Progress | None = None,
) -> GodotRuntime:
    """Return a usable Godot engine, provisioning Debian's package if nothing else is there.

    An explicitly named engine (argument or $GODOT_BIN) that does not work is an error, not a
    reason to fall back: the user asked for that one.
    """
    notes: list[str] = []
    for source, path in search_order(explicit):
        if source in ("explicit", ENV_VAR):
            found = _accept(path, source, notes)
            if found is None:
                named = "you named (--godot, or the godot= argument)" if source == "explicit" else f"named by {source}"
                reason = notes[-1].removeprefix(f"{source}: rejected ")
                raise GodotNotFoundError(f"the Godot {named} is not usable: {reason}")
            return found
        if path is None:
            notes.append(f"{source}: no `godot` executable")
        elif source == "cache" and not Path(path).exists():
            notes.append(f"cache: nothing at {path}")
        else:
            found = _accept(path, source, notes)
            if found:
                return found
    prov = DebianGodotProvisioner(runtime_dir(), progress)
    if not provision:
        raise GodotNotFoundError("no Godot >= 4.3 found:\n  " + "\n  ".join(notes))
    binary = prov.provision()
    found = _accept(str(binary), "provisioned", notes)
    if found is None:
        raise GodotNotFoundError(
            "the provisioned Godot does not run:\n  " + "\n  ".join(notes)
            + "\nInstall Godot >= 4.3 yourself and set GODOT_BIN=/path/to/godot"
        )
    return found
