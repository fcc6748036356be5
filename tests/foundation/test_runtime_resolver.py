"""The Godot runtime resolver, with fake `godot` executables (no real engine, no network).

Every test runs with an empty PATH (plus the fakes it adds), no GODOT_BIN and a private
GODOT_AIGYM_CACHE, so nothing on the machine leaks in.
"""

from __future__ import annotations

import os
import select
import signal
import stat
import time
from pathlib import Path

import pytest

from godot_aigym.runtime import GodotNotFoundError, probe_version, provision, resolve, resolve_godot
from godot_aigym.runtime.provision import DebianGodotProvisioner, machine_debian_mirror


def fake_godot(path: Path, version: str = "4.6.3.stable.official.abc123", *, code: int = 0,
               hang: bool = False, executable: bool = True, stderr: str = "") -> Path:
    """A shell script answering `--version` like Godot does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if hang:
        body = "exec /bin/sleep 30\n"  # exec: the timeout kill reaches the sleeping process itself
    else:
        body = (f"echo '{stderr}' >&2\n" if stderr else "") + (f"echo '{version}'\n" if version else "") + f"exit {code}\n"
    path.write_text("#!/bin/sh\n" + body)
    mode = path.stat().st_mode
    path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH if executable else mode & ~0o111)
    return path


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Isolated environment: PATH = tmp/bin only, no GODOT_BIN, cache in tmp/cache."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("GODOT_BIN", raising=False)
    monkeypatch.setenv("GODOT_AIGYM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(resolve, "PROBE_TIMEOUT", 5.0)

    def provision_must_not_run(self):
        raise AssertionError("provisioning must not run in this test")

    monkeypatch.setattr(DebianGodotProvisioner, "provision", provision_must_not_run)
    return tmp_path


def cached_binary(env: Path) -> Path:
    return env / "cache" / "godot-debian" / "bin" / "godot"


# ---- probing ------------------------------------------------------------------------------------
def test_probe_reads_the_last_line(env):
    godot = fake_godot(env / "g", "4.6.3.stable.debian4.6.3+ds-3", stderr="some warning")
    assert probe_version(godot) == "4.6.3.stable.debian4.6.3+ds-3"


@pytest.mark.parametrize("kind, reason", [
    ("missing", "no such file"),
    ("not_executable", "not executable"),
    ("failing", "`--version` failed (exit 3)"),
    ("garbage", "unrecognised version output 'hello'"),
    ("silent", "`--version` printed no version (exit 0, nothing on stdout); is this a Godot executable?"),
])
def test_probe_failures_name_the_path_and_reason(env, kind, reason):
    path = env / "godot"
    if kind == "not_executable":
        fake_godot(path, executable=False)
    elif kind == "failing":
        fake_godot(path, "boom", code=3)
    elif kind == "garbage":
        fake_godot(path, "hello")
    elif kind == "silent":
        fake_godot(path, "")
    with pytest.raises(GodotNotFoundError) as exc:
        probe_version(path)
    assert str(path) in str(exc.value) and reason in str(exc.value)


def test_an_unchanged_engine_is_probed_once_a_changed_one_again(env, monkeypatch):
    """Every environment resolves the engine: the version of a file already probed is reused
    while the file is the same; rewritten, replaced or made unusable, it is probed again."""
    from godot_aigym.engine import launch

    starts = []
    real_spawn = launch.spawn
    monkeypatch.setattr(launch, "spawn", lambda command, **kw: starts.append(command) or real_spawn(command, **kw))
    godot = fake_godot(env / "g", "4.5.1.stable")
    assert probe_version(godot) == probe_version(godot) == "4.5.1.stable"
    assert len(starts) == 1
    fake_godot(godot, "4.6.3.stable.official")  # rewritten in place (another size)
    assert probe_version(godot) == "4.6.3.stable.official" and len(starts) == 2
    replacement = fake_godot(env / "new", "4.6.3.stable.official")
    os.replace(replacement, godot)  # replaced (another inode), same size and text
    assert probe_version(godot) == "4.6.3.stable.official" and len(starts) == 3
    godot.chmod(0o600)  # no longer executable: refused, not answered from memory
    with pytest.raises(GodotNotFoundError, match="not executable"):
        probe_version(godot)
    godot.chmod(0o700)
    assert probe_version(godot) == "4.6.3.stable.official" and len(starts) == 5


def test_probe_hanging_engine_times_out(env):
    godot = fake_godot(env / "godot", hang=True)
    with pytest.raises(GodotNotFoundError, match=r"did not answer within 0\.5 s"):
        probe_version(godot, timeout=0.5)


def test_a_failed_probe_is_not_run_again_for_a_report(env, monkeypatch):
    """`doctor` surveys the engines after the resolver: a hung engine cost its timeout twice."""
    godot = fake_godot(env / "godot", hang=True)
    runs = []

    def run_version(path, timeout):
        runs.append(path)
        raise GodotNotFoundError(f"{path}: `--version` did not answer within 60 s")

    monkeypatch.setattr(resolve, "_run_version", run_version)
    with pytest.raises(GodotNotFoundError, match="did not answer") as first:
        probe_version(godot)
    with pytest.raises(GodotNotFoundError) as again:
        probe_version(godot, retry_failed=False)
    assert str(again.value) == str(first.value) and len(runs) == 1
    with pytest.raises(GodotNotFoundError):
        probe_version(godot)  # the resolver itself tries again
    assert len(runs) == 2


# ---- the order: explicit -> GODOT_BIN -> PATH -> cache -> provision -----------------------------------
def test_explicit_path_wins_over_everything(env, monkeypatch):
    explicit = fake_godot(env / "mine" / "godot", "4.5.1.stable")
    monkeypatch.setenv("GODOT_BIN", str(fake_godot(env / "envbin" / "godot", "4.4.stable")))
    fake_godot(env / "bin" / "godot", "4.6.3.stable")
    fake_godot(cached_binary(env), "4.6.3.stable")
    rt = resolve_godot(explicit)
    assert (rt.path, rt.version, rt.source) == (explicit, "4.5.1.stable", "explicit")
    assert rt.notes == [f"explicit: using {explicit} (4.5.1.stable)"]


def test_godot_bin_wins_over_path_and_cache(env, monkeypatch):
    envbin = fake_godot(env / "envbin" / "godot", "4.4.1.stable")
    monkeypatch.setenv("GODOT_BIN", str(envbin))
    fake_godot(env / "bin" / "godot", "4.6.3.stable")
    fake_godot(cached_binary(env), "4.6.3.stable")
    rt = resolve_godot()
    assert (rt.path, rt.source, rt.version_tuple) == (envbin, "GODOT_BIN", (4, 4))


def test_path_godot_is_used_when_recent_enough(env):
    on_path = fake_godot(env / "bin" / "godot", "4.3.stable.official")
    fake_godot(cached_binary(env), "4.6.3.stable")
    rt = resolve_godot()
    assert (rt.path, rt.source) == (on_path, "PATH")


def test_old_path_godot_is_rejected_with_the_reason_and_the_cache_used(env):
    on_path = fake_godot(env / "bin" / "godot", "4.2.1.stable")
    cached = fake_godot(cached_binary(env), "4.6.3.stable.debian")
    rt = resolve_godot(provision=False)
    assert (rt.path, rt.source) == (cached, "cache")
    assert rt.notes[0] == f"PATH: rejected {on_path}: version 4.2.1.stable is older than 4.3"
    assert rt.notes[1].startswith("cache: using")


def test_godot3_on_path_is_rejected(env):
    fake_godot(env / "bin" / "godot", "3.5.2.stable")
    with pytest.raises(GodotNotFoundError, match=r"3\.5\.2\.stable is older than 4\.3"):
        resolve_godot(provision=False)


@pytest.mark.parametrize("kind, reason", [
    ("missing", "no such file"),
    ("failing", "failed (exit 1)"),
    ("old", "older than 4.3"),
    ("not_executable", "not executable"),
])
def test_broken_explicit_path_is_an_error_naming_it(env, kind, reason):
    # A working engine is on PATH and in the cache: an explicit choice must still not fall back.
    fake_godot(env / "bin" / "godot", "4.6.3.stable")
    fake_godot(cached_binary(env), "4.6.3.stable")
    path = env / "broken" / "godot"
    if kind == "failing":
        fake_godot(path, "crash", code=1)
    elif kind == "old":
        fake_godot(path, "4.2.1.stable")
    elif kind == "not_executable":
        fake_godot(path, executable=False)
    with pytest.raises(GodotNotFoundError) as exc:
        resolve_godot(path)
    msg = str(exc.value)
    assert msg.startswith(f"the Godot you named (--godot, or the godot= argument) is not usable: {path}: ")
    assert reason in msg and "explicit:" not in msg


def test_broken_godot_bin_is_an_error_naming_it(env, monkeypatch):
    fake_godot(env / "bin" / "godot", "4.6.3.stable")
    monkeypatch.setenv("GODOT_BIN", str(env / "nowhere" / "godot"))
    with pytest.raises(GodotNotFoundError, match=r"^the Godot named by GODOT_BIN is not usable: \S*nowhere/godot: no such file$"):
        resolve_godot()


def test_hanging_path_godot_is_rejected_after_the_timeout(env, monkeypatch):
    monkeypatch.setattr(resolve, "PROBE_TIMEOUT", 0.5)
    fake_godot(env / "bin" / "godot", hang=True)
    cached = fake_godot(cached_binary(env), "4.6.3.stable")
    rt = resolve_godot(provision=False)
    assert rt.path == cached
    assert "did not answer within 0.5 s" in rt.notes[0]


def test_a_hanging_wrapper_scripts_children_are_killed_with_it(env, monkeypatch):
    """A GODOT_BIN wrapper that does not exec (a launcher script): its children were left running,
    reparented to init, when the probe timed out (the probe now runs in a session of its own)."""
    monkeypatch.setattr(resolve, "PROBE_TIMEOUT", 0.5)
    token = f"300.{os.getpid()}{time.monotonic_ns() % 10**9}"  # a unique argv: found in /proc, no pid file
    wrapper = env / "wrapper"  # (a pid file raced the 0.5 s probe on a loaded machine)
    wrapper.write_text(f"#!/bin/sh\n/bin/sleep {token} &\nwait\n")
    wrapper.chmod(0o755)
    with pytest.raises(GodotNotFoundError, match="did not answer within 0.5 s"):
        probe_version(wrapper)
    for child in _pids_with_argv(["/bin/sleep", token]):  # none if the wrapper was killed before it forked
        _assert_exits(child)


def _pids_with_argv(argv: list[str]) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit():
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if f.read().split(b"\0")[:-1] == [a.encode() for a in argv]:
                        found.append(int(entry))
        except OSError:
            pass  # exited meanwhile
    return found


def _assert_exits(child: int) -> None:
    try:
        fd = os.pidfd_open(child)
    except ProcessLookupError:
        return  # already gone
    try:  # readable once it has exited (SIGKILL was sent before probe_version returned)
        gone = select.select([fd], [], [], 30)[0]
    finally:
        os.close(fd)
    if not gone:
        os.kill(child, signal.SIGKILL)
        pytest.fail(f"the wrapper's child {child} outlived the probe")


def test_a_runtime_whose_elf_interpreter_is_gone_names_it(env):
    """A provisioned runtime copied or moved elsewhere keeps its old loader path: exec() fails with
    ENOENT although the file is there and executable ("no such file" was the message)."""
    import shutil

    from godot_aigym.runtime.resolve import _elf_interpreter

    path = env / "godot"
    shutil.copy(shutil.which("true", path="/usr/bin:/bin"), path)
    old = _elf_interpreter(path)
    assert old and old.startswith("/")
    gone = "/nonexistent/" + "x" * (len(old) - len("/nonexistent/"))  # same length: the ELF stays valid
    data = path.read_bytes()
    assert data.count(old.encode() + b"\0") == 1
    path.write_bytes(data.replace(old.encode() + b"\0", gone.encode() + b"\0"))
    assert _elf_interpreter(path) == gone and os.access(path, os.X_OK)
    with pytest.raises(GodotNotFoundError) as exc:
        probe_version(path)
    assert f"its ELF interpreter {gone} is missing" in str(exc.value) and "provision it again" in str(exc.value)


def test_broken_cached_runtime_is_rejected(env):
    fake_godot(cached_binary(env), "", code=127, stderr="error while loading shared libraries")
    with pytest.raises(GodotNotFoundError) as exc:
        resolve_godot(provision=False)
    assert "cache: rejected" in str(exc.value) and "error while loading shared libraries" in str(exc.value)


def test_nothing_found_without_provisioning_lists_every_note(env):
    with pytest.raises(GodotNotFoundError) as exc:
        resolve_godot(provision=False)
    msg = str(exc.value)
    assert msg.startswith("no Godot >= 4.3 found:")
    assert "PATH: no `godot` executable" in msg
    assert f"cache: nothing at {cached_binary(env)}" in msg


def test_provisioning_runs_when_nothing_else_is_there(env, monkeypatch):
    calls = []

    def fake_provision(self):
        calls.append(self.root)
        return fake_godot(self.binary, "4.6.3.stable.debian")

    monkeypatch.setattr(DebianGodotProvisioner, "provision", fake_provision)
    rt = resolve_godot()
    assert calls == [env / "cache" / "godot-debian"]
    assert (rt.source, rt.path) == ("provisioned", cached_binary(env))
    # A second resolution finds it in the cache and does not provision again.
    assert resolve_godot().source == "cache" and len(calls) == 1


def test_a_provisioned_engine_that_does_not_run_is_reported(env, monkeypatch):
    monkeypatch.setattr(DebianGodotProvisioner, "provision", lambda self: fake_godot(self.binary, "x", code=1))
    with pytest.raises(GodotNotFoundError, match=r"(?s)provisioned Godot does not run.*set GODOT_BIN"):
        resolve_godot()


def test_cache_folder_override_and_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("GODOT_AIGYM_CACHE", str(tmp_path / "c"))
    assert resolve.runtime_dir() == tmp_path / "c" / "godot-debian"
    monkeypatch.delenv("GODOT_AIGYM_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve.cache_root() == tmp_path / "xdg" / "godot-aigym"


# ---- provisioning preconditions -------------------------------------------------------------------
def test_system_without_apt_is_told_to_install_godot_and_set_godot_bin(env, monkeypatch):
    monkeypatch.undo()  # restore the real provision(), then isolate again without apt-get/dpkg on PATH
    monkeypatch.setenv("PATH", str(env / "bin"))
    monkeypatch.delenv("GODOT_BIN", raising=False)
    monkeypatch.setenv("GODOT_AIGYM_CACHE", str(env / "cache"))
    with pytest.raises(GodotNotFoundError) as exc:
        resolve_godot()
    msg = str(exc.value)
    assert "no apt-get/dpkg" in msg and "install Godot >= 4.3" in msg and "GODOT_BIN=/path/to/godot" in msg
    assert not (env / "cache").exists(), "nothing may be written when provisioning cannot run"


def test_a_cache_folder_that_cannot_be_written_is_named(env, monkeypatch):
    # was a bare FileNotFoundError / NotADirectoryError from mkdir (`doctor` printed a traceback)
    monkeypatch.undo()  # the real provision(), isolated again, with apt-get, dpkg and a keyring
    for tool in ("apt-get", "dpkg"):
        fake_godot(env / "bin" / tool, "")
    keyring = env / "keyring.gpg"
    keyring.write_text("")
    monkeypatch.setattr(provision, "KEYRING", str(keyring))
    monkeypatch.setenv("PATH", str(env / "bin"))
    monkeypatch.delenv("GODOT_BIN", raising=False)
    (env / "a_file").write_text("mine")
    monkeypatch.setenv("GODOT_AIGYM_CACHE", str(env / "a_file" / "cache"))
    with pytest.raises(GodotNotFoundError, match=rf"the runtime folder {env}/a_file/cache/godot-debian cannot be "
                                                 r"written \(Not a directory\): set GODOT_AIGYM_CACHE"):
        resolve_godot()


# ---- the Debian mirror of this machine's apt sources ------------------------------------------------
def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: https://mirror.example.org/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


def test_mirror_from_deb822_skips_security(tmp_path):
    write(tmp_path, "etc/apt/sources.list.d/debian.sources", DEB822)
    assert machine_debian_mirror(tmp_path) == "https://mirror.example.org/debian"


def test_mirror_from_deb822_skips_disabled_stanzas(tmp_path):
    write(tmp_path, "etc/apt/sources.list.d/debian.sources",
          "Types: deb\nURIs: http://disabled.example/debian\nSuites: bookworm\nEnabled: no\n\n"
          "Types: deb\nURIs: http://ftp.de.debian.org/debian\nSuites: bookworm\nComponents: main\n")
    assert machine_debian_mirror(tmp_path) == "http://ftp.de.debian.org/debian"


def test_mirror_from_one_line_sources(tmp_path):
    write(tmp_path, "etc/apt/sources.list",
          "# deb http://commented.example/debian bookworm main\n"
          "deb http://security.debian.org/debian-security bookworm-security main\n"
          "deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
          "http://ftp.fr.debian.org/debian/ bookworm main contrib\n")
    assert machine_debian_mirror(tmp_path) == "http://ftp.fr.debian.org/debian"


def test_mirror_from_list_file_in_sources_list_d(tmp_path):
    write(tmp_path, "etc/apt/sources.list.d/extra.list", "deb http://deb.debian.org/debian bookworm main\n")
    assert machine_debian_mirror(tmp_path) == "http://deb.debian.org/debian"


def test_deb822_is_preferred_over_one_line(tmp_path):
    write(tmp_path, "etc/apt/sources.list.d/debian.sources", DEB822)
    write(tmp_path, "etc/apt/sources.list", "deb http://other.example/debian bookworm main\n")
    assert machine_debian_mirror(tmp_path) == "https://mirror.example.org/debian"


@pytest.mark.parametrize("files", [
    {},  # no apt configuration at all
    {"etc/apt/sources.list": "deb http://archive.ubuntu.com/ubuntu jammy main\n"},  # not Debian
    {"etc/apt/sources.list": "deb http://security.debian.org/debian-security bookworm-security main\n"},
])
def test_no_debian_archive_means_install_godot_yourself(tmp_path, files):
    for rel, text in files.items():
        write(tmp_path, rel, text)
    with pytest.raises(GodotNotFoundError, match=r"install Godot >= 4\.3 yourself and set GODOT_BIN"):
        machine_debian_mirror(tmp_path)


def test_this_machines_mirror_is_found_or_explained():
    # Whatever this machine is, the answer is a Debian URI or the "install it yourself" message.
    try:
        uri = machine_debian_mirror()
    except GodotNotFoundError as e:
        assert "GODOT_BIN" in str(e)
    else:
        assert "/debian" in uri and not uri.endswith("/")


def test_provisioner_layout_is_inside_its_root(tmp_path):
    prov = DebianGodotProvisioner(tmp_path / "r")
    for p in (prov.apt_dir, prov.debs_dir, prov.sysroot, prov.binary, *map(Path, prov.library_dirs())):
        assert tmp_path / "r" in p.parents
    assert provision.PACKAGE == "godot" and os.path.basename(provision.KEYRING).startswith("debian-archive")
