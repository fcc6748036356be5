"""Python host <-> Godot engine through one shared-memory chunk: real engine, real chunk."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from godot_aigym import EngineDiedError, SharedMemory, sweep_stale_chunks
from godot_aigym.engine import GodotProcess, LaunchOptions, run_godot
from godot_aigym.liveness import owner_alive
from godot_aigym.shm import layout as L

SIZES = [1, 1000, 1_000_000]


def _shm_entries() -> set[str]:
    """Our chunks in /dev/shm (host pid = this process; other suites may run concurrently)."""
    mine = set()
    for name in os.listdir("/dev/shm"):
        if name.startswith("aigym_"):
            try:
                with open(f"/dev/shm/{name}", "rb") as f:
                    header = f.read(64)
            except OSError:
                continue
            if len(header) == 64 and int.from_bytes(header[56:60], "little", signed=True) == os.getpid():
                mine.add(name)
    return mine


@pytest.fixture(autouse=True)
def no_leaked_chunks():
    before = _shm_entries()
    yield
    leaked = _shm_entries() - before
    assert not leaked, f"test left /dev/shm entries behind: {leaked}"


def test_tensors_round_trip_1_to_1e6_elements(run_gdscript):
    rng = np.random.default_rng(1234)
    with SharedMemory(size=64 << 20) as mem:
        data = {}
        for n in SIZES:
            data[n] = (rng.integers(-(2**20), 2**20, n, dtype=np.int32),
                       rng.standard_normal(n).astype(np.float32),
                       rng.integers(0, 256, n, dtype=np.uint8))
            mem.newIntTensor(f"int_{n}", n).write(data[n][0])
            mem.newFloatTensor(f"float_{n}", n).write(data[n][1])
            mem.newUintTensor(f"uint_{n}", n).write(data[n][2])
            mem.newIntTensor(f"int_out_{n}", n)
            mem.newFloatTensor(f"float_out_{n}", n)
            mem.newUintTensor(f"uint_out_{n}", n)
        done = mem.newSemaphore("done", 0)
        run = run_gdscript("res://shm/test_tensors.gd", handle=mem.handle, user_args=[json.dumps(SIZES)], timeout=180)
        assert run.results["handle"] == mem.handle
        done.wait(timeout=0)  # Godot posted before exiting
        for n in SIZES:
            ints, floats, bytes_ = data[n]
            np.testing.assert_array_equal(mem.findIntTensor(f"int_out_{n}").read(), ints * 3 + 1)
            # GDScript computes in float64 and stores float32: same as numpy's float64 path.
            expected = (floats.astype(np.float64) * 2.0 + 0.5).astype(np.float32)
            np.testing.assert_array_equal(mem.findFloatTensor(f"float_out_{n}").read(), expected)
            np.testing.assert_array_equal(mem.findUintTensor(f"uint_out_{n}").read(), 255 - bytes_)


def test_100k_semaphore_round_trips_lose_and_double_nothing(godot, test_project):
    rounds = 100_000
    with SharedMemory() as mem:
        ping, pong = mem.newSemaphore("ping", 0), mem.newSemaphore("pong", 0)
        counter = mem.newIntTensor("counter", 1)
        counter.write([0])
        opts = LaunchOptions(project=test_project, script="res://shm/test_ping_pong.gd", handle=mem.handle,
                             user_args=[str(rounds)])
        with GodotProcess(opts, godot=godot) as proc:
            mem.set_peer(proc.popen)
            view = counter.view
            for i in range(rounds):
                assert view[0] == 2 * i
                view[0] = 2 * i + 1
                ping.post()
                pong.wait(timeout=30)
            assert view[0] == 2 * rounds
            assert proc.wait(timeout=60) == 0, proc.log_tail()
            output = proc.log()
        assert not pong.try_wait(), "a doubled wake-up left an extra post"
        assert 'RESULT {"name":"mismatches","value":0}' in output
        assert 'RESULT {"name":"extra_pings","value":0}' in output


ERROR_CASES = {
    "no_handle": [r"cSharedMemory\.findFloatTensor\('x'\): not attached: no shared-memory handle given",
                  r"cSharedMemorySemaphore\.init\('s'\): no shared-memory handle given",
                  r"cSharedMemorySemaphore\.post\('s'\): semaphore is not initialised"],
    "absent": [r"cSharedMemory\.init\('aigym_no_such_chunk_0000'\): chunk 'aigym_no_such_chunk_0000': "
               r"shared-memory chunk not found"],
    "bad_handle": [r"cSharedMemory\.init\('\.\./etc/passwd'\): .*invalid handle"],
    "unknown_name": [r"cSharedMemory\.findFloatTensor\('nope'\): no float32 tensor named 'nope' in chunk"],
    "wrong_kind": [r"cSharedMemory\.findIntTensor\('floats'\): 'floats' is a float32 tensor, not a int32 tensor",
                   r"cSharedMemory\.findSemaphore\('floats'\): 'floats' is a float32 tensor, not a semaphore"],
    "wrong_length": [r"cPersistentFloatTensor\.write\('floats'\): wrong length 2, the tensor holds 4 elements"],
    "named_arrays": [r"cSharedMemory\.getFloatArray\('ints'\): 'ints' is a int32 tensor, not a float32 tensor",
                     r"cSharedMemory\.getIntArray\('nope'\): no int32 tensor named 'nope' in chunk",
                     r"cSharedMemory\.sendFloatArray\('floats'\): wrong length 1, the tensor holds 4 elements",
                     r"cSharedMemory\.sendIntArray\('floats'\): 'floats' is a float32 tensor, not a int32 tensor"],
    "bad_values": [r"cPersistentFloatTensor\.write\('floats'\): element 0 is not a number: String \(a\)",
                   r"cPersistentFloatTensor\.write\('floats'\): element 0 is not a number: Array \(\[1\]\)",
                   r"cPersistentFloatTensor\.write\('floats'\): element 2 is not a number: Object",
                   r"cPersistentFloatTensor\.write\('floats'\): expected a PackedFloat32Array or an Array of numbers, "
                   r"got String \(abcd\)",
                   r"cPersistentFloatTensor\.write\('floats'\): expected a PackedFloat32Array .*got PackedFloat64Array",
                   r"cPersistentIntTensor\.write\('ints'\): element 0 is 1099511627776, outside the tensor's range "
                   r"-2147483648\.\.2147483647",
                   r"cPersistentIntTensor\.write\('ints'\): element 0 is float \(1\.7\): an integer tensor "
                   r"takes ints",
                   r"cPersistentUintTensor\.write\('bytes'\): element 0 is -1, outside the tensor's range 0\.\.255",
                   r"cSharedMemory\.sendIntArray\('ints'\): element 1 is not a number: String \(x\)",
                   r"cSharedMemory\.sendFloatArray\('floats'\): expected a PackedFloat32Array or an Array of "
                   r"numbers, got null"],
    "unknown_semaphore": [r"cSharedMemorySemaphore\.init\('no_such_sem'\): no semaphore named 'no_such_sem'"],
}


@pytest.mark.parametrize("cases", [("no_handle",), tuple(sorted(set(ERROR_CASES) - {"no_handle"}))],
                         ids=["without-handle", "with-handle"])
def test_error_cases_are_reported_by_name(run_gdscript, cases):
    """The cases that run with a chunk's handle run in one engine (one engine start instead of one
    per case): each logs its own message (all must appear, nothing else may)."""
    with SharedMemory() as mem:
        mem.newFloatTensor("floats", 4).write([7, 7, 7, 7])
        mem.newIntTensor("ints", 2)
        mem.newUintTensor("bytes", 2)
        handle = None if cases == ("no_handle",) else mem.handle
        run_gdscript("res://shm/test_errors.gd", handle=handle, user_args=[a for c in cases for a in ("--case", c)],
                     expected_errors=tuple(p for c in cases for p in ERROR_CASES[c]))


def test_missing_chunk_of_handle_is_one_warning(run_gdscript):
    """A --handle that names no chunk leaves the game detached (the seed's behaviour) but says so,
    once, naming the handle and the cause (it was silent)."""
    handle = f"aigym_missing_{random.randrange(1 << 30):x}"
    run = run_gdscript("res://shm/test_errors.gd", handle=handle, user_args=["--case", "missing_chunk"])
    warnings = [line for line in run.output.splitlines() if "--handle given but not attached" in line]
    assert len(warnings) == 1, run.output[-3000:]
    assert f"chunk '{handle}': shared-memory chunk not found" in warnings[0]


def _write_raw_chunk(name: str, data: bytes) -> None:
    fd = os.open(f"/dev/shm/{name}", os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


@pytest.mark.parametrize("corruption, message", [
    (lambda b: b"NOTAGYM!" + b[8:], r"bad magic: not a godot-aigym chunk"),
    (lambda b: b[:8] + (99).to_bytes(4, "little") + b[12:], r"unsupported layout version"),
])
def test_corrupt_header_is_rejected_with_its_cause(run_gdscript, corruption, message):
    with SharedMemory(size=1 << 16) as mem:
        mem.newFloatTensor("floats", 4)
        raw = open(mem.path, "rb").read()
    name = f"aigym_corrupt_{random.randrange(1 << 30):x}"
    _write_raw_chunk(name, corruption(raw))
    try:
        run_gdscript("res://shm/test_errors.gd", user_args=["--case", "corrupt", "--target", name],
                     expected_errors=(message,))
    finally:
        os.unlink(f"/dev/shm/{name}")


@pytest.mark.exclusive  # a fuzzed header may name a dead host: another host's sweep would remove it
def test_fuzzed_chunks_never_crash_the_engine(run_gdscript):
    rng = random.Random(20261122)
    with SharedMemory(size=1 << 16, capacity=8) as mem:
        mem.newFloatTensor("floats", 16)
        mem.newIntTensor("ints", 16)
        mem.newSemaphore("s", 0)
        raw = bytearray(open(mem.path, "rb").read())
    names = []
    hosts = {}  # name -> (host pid, start time) as written
    try:
        for i in range(40):
            data = bytearray(raw)
            for _ in range(rng.randint(1, 8)):  # corrupt the header and directory region
                pos = rng.randrange(0, 128 + 8 * 128)
                data[pos] = rng.randrange(256)
            name = f"aigym_fuzz_{i}_{rng.randrange(1 << 30):x}"
            _write_raw_chunk(name, bytes(data))
            names.append(name)
            hosts[name] = (L.I32.unpack_from(data, L.HEADER_OFFSETS["host_pid"])[0],
                           L.U64.unpack_from(data, L.HEADER_OFFSETS["host_start_time"])[0])
        run = run_gdscript("res://shm/test_errors.gd", user_args=["--case", "fuzz", "--targets", json.dumps(names)],
                           expected_errors=(r"cSharedMemory\.(init|findFloatTensor)",), timeout=120)
        # Every chunk is either rejected with a message or accepted after full validation.
        rejected = len([e for e in run.errors if "cSharedMemory.init" in e])
        assert rejected + run.results["fuzz_accepted"] == len(names)
        # A header scribbled to name a dead host (pid or start time) is a stale chunk: refused
        # and removed by the engine; a chunk of a live host is never removed (a host started
        # elsewhere on the machine may sweep stale ones too, before or after the engine looks).
        stale = {n for n in names for e in run.errors if f"chunk '{n}'" in e and "removed the stale chunk" in e}
        missing = {n for n in names if not os.path.exists(f"/dev/shm/{n}")}
        assert stale <= missing, stale - missing
        assert all(hosts[n][0] > 0 and not owner_alive(*hosts[n]) for n in missing), {n: hosts[n] for n in missing}
    finally:
        for name in names:
            if os.path.exists(f"/dev/shm/{name}"):
                os.unlink(f"/dev/shm/{name}")


@pytest.mark.parametrize("style", ["engine_args", "engine_args_equals", "user_args_equals"])
def test_handle_is_found_among_engine_and_user_arguments(godot, test_project, style):
    """`--handle X` / `--handle=X` before `--` (engine arguments) or after it (user arguments)."""
    with SharedMemory() as mem:
        mem.newFloatTensor("floats", 4).write([7, 7, 7, 7])
        mem.newIntTensor("ints", 2)
        extra = {"engine_args": dict(engine_args=["--handle", mem.handle]),
                 "engine_args_equals": dict(engine_args=[f"--handle={mem.handle}"]),
                 "user_args_equals": dict(user_args=[f"--handle={mem.handle}", "--case", "wrong_length"])}[style]
        opts = LaunchOptions(project=test_project, script="res://shm/test_errors.gd",
                             user_args=extra.get("user_args", ["--case", "wrong_length"]),
                             engine_args=extra.get("engine_args", ()))
        code, output = run_godot(opts, godot=godot, timeout=60)
        assert code == 0, output
        assert "PASS tensor untouched by the refused write" in output


HOST_SCRIPT = textwrap.dedent("""
    import sys, time
    from godot_aigym import SharedMemory
    mem = SharedMemory()
    mem.newSemaphore("ping", 0)
    mem.newSemaphore("ready", 0)
    print(mem.handle, flush=True)
    time.sleep(600)
""")


@pytest.mark.exclusive  # checks what a killed host left before its own sweep
def test_engine_quits_when_its_host_dies(godot, test_project):
    host = subprocess.Popen([sys.executable, "-c", HOST_SCRIPT], stdout=subprocess.PIPE, text=True)
    handle = host.stdout.readline().strip()
    try:
        attached = SharedMemory.attach(handle)
        ready = attached.find_semaphore("ready")
        opts = LaunchOptions(project=test_project, script="res://shm/test_wait_host.gd", handle=handle)
        with GodotProcess(opts, godot=godot) as proc:
            ready.wait(timeout=30)
            host.send_signal(signal.SIGKILL)
            host.wait()
            code = proc.wait(timeout=60)  # a safety net: the engine's wait notices within a slice
            output = proc.log()
            # the engine removed the dead host's chunk before quitting: no sweep needed
            gone_before_sweep = not os.path.exists(f"/dev/shm/{handle}")
        attached.close()
        assert code == 1, output
        assert "WAIT RETURNED false" in output
        assert f"the host process (pid {host.pid}) died; quitting" in output
        assert gone_before_sweep
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
        sweep_stale_chunks()
    assert not os.path.exists(f"/dev/shm/{handle}")


def test_engine_quits_cleanly_on_shutdown_request(godot, test_project):
    with SharedMemory() as mem:
        mem.newSemaphore("ping", 0)
        ready = mem.newSemaphore("ready", 0)
        opts = LaunchOptions(project=test_project, script="res://shm/test_wait_host.gd", handle=mem.handle)
        with GodotProcess(opts, godot=godot) as proc:
            mem.set_peer(proc.popen)
            ready.wait(timeout=30)
            mem.request_shutdown()
            assert proc.wait(timeout=10) == 0
            assert "the host asked the engine to shut down; quitting" in proc.log()


def test_host_wait_raises_when_the_engine_dies(godot, test_project):
    with SharedMemory() as mem:
        mem.newSemaphore("ping", 0)
        ready = mem.newSemaphore("ready", 0)
        never = mem.newSemaphore("never", 0)
        opts = LaunchOptions(project=test_project, script="res://shm/test_wait_host.gd", handle=mem.handle)
        with GodotProcess(opts, godot=godot) as proc:
            ready.wait(timeout=30)
            assert mem.engine_pid == proc.pid, "the engine stores its pid in the header on attach"
            os.kill(proc.pid, signal.SIGKILL)
            with pytest.raises(EngineDiedError):
                never.wait(timeout=None)  # returns by the liveness check, not by a timeout
