"""One engine per chunk (engine_pid compare-and-swap), and no attaching to a chunk another
user owns or can read (name squatting): Python side and the engine's C attach."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from shm_testutil import child_env, read_json_line, spawn_python, unique_handle

from godot_aigym.liveness import start_time
from godot_aigym.shm import ChunkClaimed, ChunkNotFound, ChunkNotPrivate, SharedMemory, SharedMemoryError, layout as L

OTHER_UID = 54321  # no passwd entry needed: the kernel only knows numbers


def _engine_child(handle: str) -> subprocess.Popen:
    proc = spawn_python(f"""
        import json, os, sys
        from godot_aigym.shm import SharedMemory
        mem = SharedMemory.attach({handle!r}, as_engine=True)
        print(json.dumps({{"pid": os.getpid()}}), flush=True)
        sys.stdin.readline()
    """)
    assert read_json_line(proc)["pid"] == proc.pid
    return proc


def test_second_engine_is_refused_naming_the_holder(mem):
    holder = _engine_child(mem.handle)
    try:
        assert mem.engine_pid == holder.pid
        with pytest.raises(ChunkClaimed, match=rf"chunk already claimed by another engine that is still running "
                                               rf"\(pid {holder.pid}\)") as err:
            SharedMemory.attach(mem.handle, as_engine=True)
        assert err.value.holder_pid == holder.pid
        assert mem.engine_pid == holder.pid  # untouched
        SharedMemory.attach(mem.handle).close()  # a tool that is not an engine may still look
    finally:
        holder.kill()
        holder.wait()
    # the holder died: its stale claim is taken over
    taker = SharedMemory.attach(mem.handle, as_engine=True)
    assert mem.engine_pid == os.getpid()
    taker.close()


def test_c_claim_agrees(cc, mem):
    holder = _engine_child(mem.handle)
    try:
        out = json.loads(subprocess.run([str(cc("chunk_peer")), "claim", mem.handle], capture_output=True, text=True,
                                        env=child_env(), check=True).stdout)
        assert out["status"] == L.ERR_CLAIMED and out["holder"] == holder.pid
    finally:
        holder.kill()
        holder.wait()
    out = json.loads(subprocess.run([str(cc("chunk_peer")), "claim", mem.handle], capture_output=True, text=True,
                                    env=child_env(), check=True).stdout)
    assert out["status"] == L.OK and mem.engine_pid == out["pid"]  # dead holder taken over


def _write_claim(mem, pid: int, started: int) -> None:
    with open(mem.path, "r+b") as f:
        f.seek(L.HEADER_OFFSETS["engine_pid"])
        f.write(pid.to_bytes(4, "little", signed=True))
        f.seek(L.HEADER_OFFSETS["engine_start_time"])
        f.write(started.to_bytes(8, "little"))


@pytest.mark.parametrize("side", ["python", "c"])
def test_a_claim_whose_pid_was_reused_is_taken_over(cc, mem, side):
    """The engine that claimed died and its pid now belongs to an unrelated process: the claim
    records the engine's start time, so the pid's new owner is not taken for the engine. A
    claim with the holder's own start time, or none yet (0: being made), is still refused."""
    bystander = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        now = start_time(bystander.pid)
        assert now > 0

        def claim() -> tuple[int, int]:
            if side == "python":
                try:
                    SharedMemory.attach(mem.handle, as_engine=True).close()
                    return L.OK, os.getpid()
                except ChunkClaimed as err:
                    return L.ERR_CLAIMED, err.holder_pid
            out = json.loads(subprocess.run([str(cc("chunk_peer")), "claim", mem.handle], capture_output=True,
                                            text=True, env=child_env(), check=True).stdout)
            return out["status"], out["pid"] if out["status"] == L.OK else out["holder"]

        for live_claim in (now, 0):
            _write_claim(mem, bystander.pid, live_claim)
            assert claim() == (L.ERR_CLAIMED, bystander.pid)
            assert mem.engine_pid == bystander.pid
        _write_claim(mem, bystander.pid, now - 1)  # the dead engine started earlier than the pid's new owner
        status, taker = claim()
        assert status == L.OK and mem.engine_pid == taker != bystander.pid
        assert mem._fields().engine_start_time.value not in (0, now - 1)  # the taker's own start time
    finally:
        bystander.stdin.close()
        bystander.wait()


@pytest.mark.parametrize("change", ["chown", "chmod"])
def test_attach_refuses_a_chunk_that_is_not_private(mem, cc, change):
    if change == "chown":
        os.chown(mem.path, OTHER_UID, -1)
        expected = rf"owned by uid {OTHER_UID}, not by .* \(mode 0600\)"
    else:
        os.chmod(mem.path, 0o666)
        expected = r"its mode 0666 gives group/other access"
    with pytest.raises(ChunkNotPrivate, match=rf"shared memory '{mem.handle}': chunk is not private to this user "
                                              rf".*{expected}") as err:
        SharedMemory.attach(mem.handle, as_engine=True)
    assert err.value.owner_uid == (OTHER_UID if change == "chown" else os.getuid())
    assert mem.engine_pid == 0  # nothing was claimed
    out = json.loads(subprocess.run([str(cc("chunk_peer")), "claim", mem.handle], capture_output=True, text=True,
                                    env=child_env(), check=True).stdout)
    assert out["status"] == L.ERR_NOT_PRIVATE
    assert out["mode"] == (0o600 if change == "chown" else 0o666)
    assert out["owner_uid"] == (OTHER_UID if change == "chown" else os.getuid())
    os.chown(mem.path, os.getuid(), -1)  # hand it back so close() can clean up normally


def _as_other_user(code: str) -> None:
    """Run `code` in a forked child that became OTHER_UID for real (setuid)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        status = 1
        try:
            os.setgid(OTHER_UID)
            os.setuid(OTHER_UID)
            exec(code, {"os": os})
            status = 0
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_squatter_users_world_writable_chunk_is_refused():
    handle = unique_handle("sq")
    path = f"/dev/shm/{handle}"
    _as_other_user(f"fd = os.open({path!r}, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o666)\n"
                   f"os.fchmod(fd, 0o666)\nos.ftruncate(fd, 1 << 16)\nos.close(fd)")
    try:
        with pytest.raises(ChunkNotPrivate, match=rf"owned by uid {OTHER_UID}"):
            SharedMemory.attach(handle)
    finally:
        os.unlink(path)


def test_another_user_cannot_attach_and_gets_our_error(mem):
    """Seen from the other side: our 0600 chunk is closed to another user, with a clear error."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            os.setuid(OTHER_UID)
            try:
                SharedMemory.attach(mem.handle)
            except ChunkNotPrivate as exc:
                code = 0 if "permission denied (owned by root (uid 0), mode 0600)" in str(exc) else 3
            except BaseException:
                code = 4
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_not_private_is_a_shared_memory_error_and_a_permission_error():
    assert issubclass(ChunkNotPrivate, SharedMemoryError) and issubclass(ChunkNotPrivate, PermissionError)


@pytest.mark.parametrize("planted", ["symlink", "directory"])
def test_a_planted_symlink_or_directory_is_refused_by_our_errors(planted):
    """Another user plants a symlink (to one of our files) or a directory under a name we use:
    the chunk and SharedObject attaches refuse it with our documented errors, never a bare
    OSError (SharedObject raised OSError ELOOP / EINVAL), and follow no link."""
    from godot_aigym.shared_object import ObjectNotPrivateError, SharedObject

    handle = unique_handle("pl")
    path = f"/dev/shm/{handle}"
    with SharedMemory() as ours:
        _as_other_user(f"os.symlink({ours.path!r}, {path!r})" if planted == "symlink" else f"os.mkdir({path!r}, 0o777)")
        try:
            with pytest.raises(SharedMemoryError):
                SharedMemory.attach(handle)
            kind = "a symbolic link" if planted == "symlink" else "a directory"
            with pytest.raises(ObjectNotPrivateError, match=f"it is {kind} \\(owned by uid {OTHER_UID}"):
                SharedObject(handle, data=[1, 2, 3])
            with pytest.raises(ObjectNotPrivateError, match=f"it is {kind}"):
                SharedObject(handle, create=False)
        finally:
            (os.unlink if planted == "symlink" else os.rmdir)(path)


@pytest.mark.exclusive  # the chunk looks stale: another host's start-up sweep would remove it first
@pytest.mark.parametrize("gone", ["dead pid", "reused pid"])
def test_an_engine_attach_refuses_and_removes_a_chunk_whose_host_is_gone(gone):
    """As the engine (C, test_shm_hardening.py): a chunk whose host pid is dead, or now another
    process (start time differs), is stale: the engine-side attach removes it, ChunkNotFound; a
    host-side attach (tools, tests) still reads it. Made again when a host of another test run
    on this machine swept it first (exclusive only keeps this run's hosts away)."""
    reaped = subprocess.Popen([sys.executable, "-c", "pass"])
    reaped.wait()
    for _ in range(5):
        mem = SharedMemory(size=1 << 16)
        try:
            if gone == "dead pid":
                L.I32.pack_into(mem._mm, L.HEADER_OFFSETS["host_pid"], reaped.pid)
            else:
                at = L.HEADER_OFFSETS["host_start_time"]
                L.U64.pack_into(mem._mm, at, L.U64.unpack_from(mem._mm, at)[0] + 1)
            try:
                SharedMemory.attach(mem.handle).close()  # not as the engine: no judgement
            except ChunkNotFound:
                continue  # swept by another host before we looked
            with pytest.raises(ChunkNotFound) as refused:
                SharedMemory.attach(mem.handle, as_engine=True)
            if "removed the stale chunk" not in str(refused.value):
                continue  # swept by another host between the two attaches
            assert re.search(r"the host process that created it \(pid \d+\) is gone; removed the stale chunk",
                             str(refused.value)), refused.value
            assert not os.path.exists(mem.path)
            assert mem.engine_pid == 0  # refused before any claim
            return
        finally:
            mem.close()
    pytest.fail("another host swept every stale chunk before the attach could look at it")
