"""Name squatting and crash-safe creation of SharedObject segments.

Another local user who creates /dev/shm/<name> first, world-writable, must not receive our
data: mounting (including the default create=None) refuses a segment owned by another uid
or granting group/other access, with an error naming owner and mode. A creator killed while
creating leaves only a temporary file that the sweeps remove.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from godot_aigym.shared_object import ObjectNotPrivateError, SharedObject, SharedObjectError
from godot_aigym.shared_object.segment import sweep_stale

OTHER_UID = 54321
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _squat(path: str, uid: int | None, mode: int) -> None:
    """Create `path` as user `uid` (a real setuid child) or as us, with `mode`."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            if uid is not None:
                os.setgid(uid)
                os.setuid(uid)
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode)
            os.fchmod(fd, mode)
            os.write(fd, b"squatter's bytes".ljust(4096, b"\0"))
            os.close(fd)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.parametrize("uid, mode, expected", [
    (OTHER_UID, 0o666, rf"owned by uid {OTHER_UID}, not by .* \(mode 0666\)"),
    (OTHER_UID, 0o600, r"permission denied \(owned by uid 54321, mode 0600\)|owned by uid 54321"),
    (None, 0o666, r"its mode 0666 gives group/other access"),
    (None, 0o640, r"its mode 0640 gives group/other access"),
])
def test_default_create_none_refuses_a_squatted_name(name, uid, mode, expected):
    path = f"/dev/shm/{name}"
    _squat(path, uid, mode)
    before = open(path, "rb").read()
    with pytest.raises(ObjectNotPrivateError, match=rf"shared object {name!r}: .*({expected})") as err:
        SharedObject(name, data={"secret": "hunter2"})
    assert isinstance(err.value, SharedObjectError)
    assert open(path, "rb").read() == before  # the secret never reached the squatter's file
    with pytest.raises(ObjectNotPrivateError):
        SharedObject(name, create=False)


def test_chown_fchown_to_another_uid_is_refused(name):
    obj = SharedObject(name, data=[1, 2, 3])
    try:
        os.chown(f"/dev/shm/{name}", OTHER_UID, -1)
        with pytest.raises(ObjectNotPrivateError, match=rf"owned by uid {OTHER_UID}"):
            SharedObject(name, create=False)
    finally:
        os.chown(f"/dev/shm/{name}", os.getuid(), -1)
        obj.close()


@pytest.mark.exclusive  # checks what a killed host left before its own sweep
@pytest.mark.parametrize("killed_in", ["ftruncate", "link"])
def test_creator_killed_while_creating_leaves_only_a_swept_temporary(name, killed_in):
    code = textwrap.dedent(f"""
        import os, signal
        from godot_aigym.shared_object import SharedObject
        def die(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)
        os.{killed_in} = die
        SharedObject({name!r}, data=[1.0, 2.0])
    """)
    env = {**os.environ, "PYTHONPATH": os.path.join(REPO, "python_host")}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err
    assert not os.path.exists(f"/dev/shm/{name}")  # the name never appears half-made
    temps = [n for n in os.listdir("/dev/shm") if n.startswith(f".aigym-new.{proc.pid}.")]
    assert len(temps) == 1, temps
    assert temps[0] in sweep_stale()
    assert not os.path.exists(f"/dev/shm/{temps[0]}")


def test_a_real_shared_object_made_world_writable_by_another_user_is_refused(name):
    """The attack of issue 10: the squatter makes a genuine SharedObject first, opens it to
    everyone, and waits for our SharedObject(name, data=secret) to mount it."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            os.setgid(OTHER_UID)
            os.setuid(OTHER_UID)
            SharedObject(name, data={"secret": ""}, init_size=256)
            os.chmod(f"/dev/shm/{name}", 0o666)
            code = 0
        finally:
            os._exit(code)  # no exit handlers: the squatted name stays
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with pytest.raises(ObjectNotPrivateError, match=rf"owned by uid {OTHER_UID}, not by .* \(mode 0666\)"):
        SharedObject(name, data={"secret": "hunter2"})


def test_running_out_of_file_descriptors_is_a_resource_error_not_a_squatter(name):
    """EMFILE on our own segment was reported as 'not a regular file ... not a segment we made'
    (an ObjectNotPrivateError, a PermissionError): it must name the real cause instead."""
    import resource
    ours = SharedObject(name, data={"x": 1}, init_size=256)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    fds = []
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 8, hard))
        with pytest.raises(SharedObjectError, match=rf"cannot open shared object {name!r}: Too many open files") as err:
            while True:  # use up the last descriptors, then mount
                try:
                    fds.append(os.open("/dev/null", os.O_RDONLY))
                except OSError:
                    break
            SharedObject(name, create=False)
        assert not isinstance(err.value, PermissionError)
    finally:
        for fd in fds:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    again = SharedObject(name, create=False)
    assert again.fetch()["x"] == 1
    again.close()
    ours.close()
