"""The C header and the Python mirror agree byte for byte, and the C helpers work on Python's chunks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading

import numpy as np
import pytest

from shm_testutil import child_env

from godot_aigym.shm import SharedMemory, layout as L

WAIT_OK, WAIT_TIMEOUT, WAIT_PEER_DEAD, WAIT_SHUTDOWN = 0, 1, 2, 3


@pytest.fixture(scope="module")
def dump(cc):
    out = subprocess.run([str(cc("layout_dump"))], capture_output=True, text=True, check=True, env=child_env())
    return json.loads(out.stdout)


def test_constants_match(dump):
    c = dump["constants"]
    assert c["MAGIC"].encode() == L.MAGIC and c["MAGIC_SIZE"] == len(L.MAGIC)
    for name in ("LAYOUT_VERSION", "HEADER_SIZE", "ENTRY_SIZE", "DIR_OFFSET", "ALIGN", "NAME_SIZE", "NAME_MAX",
                 "HANDLE_MAX", "MAX_CAPACITY", "ENGINE_RECORD_SIZE", "ENGINE_TEXT_SIZE", "SEM_SLOT_SIZE", "SEM_SIZE", "SEM_MAGIC", "SEM_VALUE_MAX",
                 "SEM_WAITERS_MAX", "KIND_TENSOR", "KIND_SEMAPHORE",
                 "DTYPE_NONE", "DTYPE_INT32", "DTYPE_FLOAT32", "DTYPE_UINT8", "STATUS_COUNT"):
        assert c[name] == getattr(L, name), name
    assert c["sizeof_header"] == L.HEADER_STRUCT.size == L.HEADER_SIZE
    assert c["sizeof_entry"] == L.ENTRY_STRUCT.size == L.ENTRY_SIZE
    assert c["alignof_header"] == c["alignof_entry"] == 8


@pytest.mark.parametrize("which, fields", [("header", L.HEADER_FIELDS), ("entry", L.ENTRY_FIELDS),
                                           ("sem", L.SEM_FIELDS),
                                           ("engine_record", L.ENGINE_RECORD_FIELDS)])
def test_offsets_and_sizes_match(dump, which, fields):
    import struct

    c_fields = dump[which]
    assert list(c_fields) == [name for name, _, _ in fields], "same fields in the same order"
    for name, code, offset in fields:
        assert c_fields[name] == [offset, struct.calcsize("<" + code)], name
        # naturally aligned: both compilers and numpy/ctypes agree without packing pragmas
        assert offset % min(struct.calcsize("<" + code), 8) == 0, name
    # the Python struct really puts each field at that offset
    for i, (name, code, offset) in enumerate(fields):
        prefix = "<" + "".join(c for _, c, _ in fields[:i])
        assert struct.calcsize(prefix) == offset, name
    size = {"header": L.HEADER_SIZE, "entry": L.ENTRY_SIZE, "sem": L.SEM_SIZE,
            "engine_record": L.ENGINE_RECORD_SIZE}[which]
    assert struct.calcsize("<" + "".join(c for _, c, _ in fields)) == size


def test_messages_names_and_helpers_match(dump):
    assert {int(k): v for k, v in dump["status_messages"].items()} == L.STATUS_MESSAGES
    assert dump["type_names"] == {"1/1": L.type_name(1, 1), "1/2": L.type_name(1, 2), "1/3": L.type_name(1, 3),
                                  "2/0": L.type_name(2, 0), "9/9": L.type_name(9, 9)}
    assert {int(k): v for k, v in dump["data_offset_for"].items()} == {
        n: L.data_offset_for(n) for n in (1, 64, 1024)}
    assert {int(k): v for k, v in dump["engine_record_offset_for"].items()} == {
        n: L.engine_record_offset_for(n) for n in (1, 64, 1024)}


def test_chunk_bytes_are_what_the_spec_says(mem):
    """A fresh chunk's header and a directory entry, decoded independently of layout.py."""
    t = mem.newFloatTensor("obs", 16)
    raw = open(mem.path, "rb").read(L.data_offset_for(16))
    assert raw[0:8] == b"AIGYMSHM"
    assert int.from_bytes(raw[8:12], "little") == 3
    assert int.from_bytes(raw[12:16], "little") == 128
    assert int.from_bytes(raw[16:24], "little") == mem.size == os.path.getsize(mem.path)
    assert int.from_bytes(raw[24:28], "little") == 128
    assert int.from_bytes(raw[28:32], "little") == 16
    assert int.from_bytes(raw[32:36], "little") == 1
    assert int.from_bytes(raw[36:40], "little") == 16  # sizeof(aigym_sem)
    assert int.from_bytes(raw[40:48], "little") == 128 + 16 * 128 + 1024  # directory, engine record
    assert int.from_bytes(raw[48:56], "little") == 64
    assert int.from_bytes(raw[56:60], "little") == os.getpid()
    e = raw[128:256]
    assert e[:4] == b"obs\0" and e[4:64] == bytes(60)
    assert [int.from_bytes(e[a:b], "little") for a, b in ((64, 68), (68, 72), (72, 80), (80, 88), (88, 96))] == [
        L.KIND_TENSOR, L.DTYPE_FLOAT32, 16, 128 + 16 * 128 + 1024, 64]
    assert t.offset % 64 == 0
    sem = mem.newSemaphore("ready", 3)
    slot = open(mem.path, "rb").read()[sem._entry.offset:sem._entry.offset + 64]
    assert [int.from_bytes(slot[i:i + 4], "little") for i in (0, 4, 8, 12)] == [3, 0, 0x4D534741, 0]
    assert slot[8:12] == b"AGSM" and slot[16:] == bytes(48)


def test_c_attach_errors(cc, handles):
    out = subprocess.run([str(cc("chunk_peer")), "errors", handles()], capture_output=True, text=True,
                         env=child_env(), check=True)
    res = json.loads(out.stdout)
    assert res == {"null": L.ERR_NO_HANDLE, "empty": L.ERR_NO_HANDLE, "slash": L.ERR_BAD_HANDLE,
                   "dot": L.ERR_BAD_HANDLE, "missing": L.ERR_NOT_FOUND, "mapped": 0}


def test_c_peer_round_trip_on_python_chunk(cc, mem):
    pf = mem.newFloatTensor("py_floats", 16)
    pi = mem.newIntTensor("py_ints", 5)
    pimg = mem.newUintTensor("py_img", 300)
    ef = mem.newFloatTensor("engine_floats", 16)
    ei = mem.newIntTensor("engine_ints", 5)
    eimg = mem.newUintTensor("engine_img", 300)
    to_engine = mem.newSemaphore("to_engine", 0)
    to_host = mem.newSemaphore("to_host", 0)
    floats = np.linspace(-1, 1, 16, dtype=np.float32)
    ints = np.array([-5, 0, 7, 2**31 - 2, -(2**31)], dtype=np.int32)
    img = (np.arange(300) % 256).astype(np.uint8)
    pf.write(floats)
    pi.write(ints)
    pimg.write(img)

    proc = subprocess.Popen([str(cc("chunk_peer")), "roundtrip", mem.handle], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=child_env())
    try:
        to_engine.post()
        to_host.wait(timeout=20)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    res = json.loads(out)
    assert res["attach"] == 0 and res["entry_count"] == 8 and res["wait"] == WAIT_OK and res["post"] == 0
    assert res["unknown"] == L.ERR_UNKNOWN_NAME
    assert res["wrong_dtype"] == L.ERR_WRONG_KIND and res["stored"] == "float32 tensor"
    assert res["wrong_kind"] == L.ERR_WRONG_KIND and res["stored_sem"] == "semaphore"
    assert res["invalid"] == L.ERR_INVALID_NAME
    np.testing.assert_array_equal(np.array(res["read_floats"], dtype=np.float32), floats)
    np.testing.assert_array_equal(ef.read(), 2 * floats)
    np.testing.assert_array_equal(ei.read(), (ints.astype(np.int64) + 1).astype(np.int32))
    np.testing.assert_array_equal(eimg.read(), 255 - img)
    assert mem.engine_pid == proc.pid  # the C side announced itself


def _start_c_waiter(cc, mem, sem, timeout_ms, spin_us, peer_pid, watch_shutdown):
    proc = subprocess.Popen([str(cc("chunk_peer")), "wait", mem.handle, sem, str(timeout_ms), str(spin_us),
                             str(peer_pid), str(int(watch_shutdown))], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=child_env())
    ready = json.loads(proc.stdout.readline() or "{}")
    assert ready == {"ready": 1}, proc.stderr.read()
    return proc


def _finish(proc, timeout=10.0):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return json.loads(out)


@pytest.mark.parametrize("spin_us", [0, 50])
def test_c_wait_ok_and_timeout(cc, mem, spin_us):
    s = mem.newSemaphore("s", 0)
    proc = _start_c_waiter(cc, mem, "s", 60_000, spin_us, 0, False)  # a safety net: the post below ends it
    s.post()
    assert _finish(proc)["wait"] == WAIT_OK
    res = _finish(_start_c_waiter(cc, mem, "s", 50, spin_us, 0, False))
    assert res["wait"] == WAIT_TIMEOUT and res["message"] == "timed out waiting for the semaphore"
    assert res["elapsed_ms"] >= 49


def test_c_wait_notices_dead_peer(cc, mem):
    mem.newSemaphore("s", 0)
    victim = subprocess.Popen(["sleep", "60"])
    proc = _start_c_waiter(cc, mem, "s", -1, 50, victim.pid, False)
    victim.kill()  # left a zombie on purpose: the C check must see through it
    try:
        res = _finish(proc, timeout=10)
    finally:
        victim.wait()
    assert res["wait"] == WAIT_PEER_DEAD and res["message"] == "the peer process died while we waited"


def test_c_wait_sees_shutdown_request(cc, mem):
    mem.newSemaphore("s", 0)
    proc = _start_c_waiter(cc, mem, "s", -1, 0, 0, True)
    mem.request_shutdown()
    assert _finish(proc)["wait"] == WAIT_SHUTDOWN


def test_python_waits_on_c_post_and_sees_c_death(cc, mem):
    """The C process is the engine: Python's wait aborts with EngineDiedError when it dies."""
    from godot_aigym.shm import EngineDiedError

    to_py = mem.newSemaphore("to_py", 0)
    mem.newSemaphore("idle", 0)
    proc = _start_c_waiter(cc, mem, "idle", -1, 0, 0, False)
    assert mem.engine_pid == proc.pid
    threading.Timer(0.2, proc.send_signal, (signal.SIGKILL,)).start()
    with pytest.raises(EngineDiedError, match=rf"engine process pid {proc.pid} died while waiting on "
                                              rf"semaphore 'to_py'"):
        to_py.wait()  # no timeout: only the liveness check can end it
    proc.wait()
