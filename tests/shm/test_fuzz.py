"""Corrupted chunks never crash either validator: Python raises BadChunk, C returns the same status."""

from __future__ import annotations

import os
import random
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from shm_testutil import child_env, unique_handle

from godot_aigym.shm import BadChunk, SharedMemory, SharedMemoryError, layout as L
from godot_aigym.shm.validate import check, parse

CAPACITY = 8
SIZE = 4096


def _make_base() -> bytes:
    """A valid chunk image with tensors of every dtype, semaphores and free directory slots."""
    with SharedMemory(unique_handle("fz"), size=SIZE, capacity=CAPACITY) as m:
        m.newFloatTensor("obs", 16).write(range(16))
        m.newIntTensor("act", 5)
        m.newUintTensor("img.rgb", 100)
        m.newSemaphore("obs_ready", 0)
        m.newSemaphore("act-ready", 1)
        m.newFloatTensor("r", 1)
        with open(m.path, "rb") as f:
            return f.read()


BASE = _make_base()
_, BASE_ENTRIES = parse(BASE)

# (offset, width) of every integer field in the header and in every directory slot
WIDTH = {"I": 4, "i": 4, "Q": 8}
FIELDS = [(off, WIDTH[code]) for _, code, off in L.HEADER_FIELDS if not code.endswith("s")]
FIELDS += [(L.entry_offset(i) + off, WIDTH[code])
           for i in range(CAPACITY) for _, code, off in L.ENTRY_FIELDS if not code.endswith("s")]
# values near the valid ones reach the deeper checks
NEAR = sorted({0, 1, 2, 3, 32, 63, 64, 65, 128, CAPACITY, CAPACITY + 1, L.MAX_CAPACITY, L.MAX_CAPACITY + 1, SIZE,
               SIZE - 1, SIZE + 1, L.data_offset_for(CAPACITY)} | {e.offset for e in BASE_ENTRIES}
              | {e.offset + e.nbytes for e in BASE_ENTRIES} | {e.count for e in BASE_ENTRIES}
              | {e.nbytes for e in BASE_ENTRIES})


def mutate(buf: bytearray, ops: list[tuple]) -> bytearray:
    """Apply ('field', i, value) / ('byte', pos, value) / ('name', slot, bytes) / ('resize', n)."""
    for op in ops:
        if op[0] == "field":
            off, width = FIELDS[op[1] % len(FIELDS)]
            if off + width <= len(buf):
                buf[off:off + width] = (op[2] % (1 << (8 * width))).to_bytes(width, "little")
        elif op[0] == "byte" and buf:
            buf[op[1] % len(buf)] = op[2]
        elif op[0] == "name":
            off = L.entry_offset(op[1] % CAPACITY)
            raw = op[2][:L.NAME_SIZE]
            if off + len(raw) <= len(buf):
                buf[off:off + len(raw)] = raw
        elif op[0] == "resize":
            n = op[1]
            buf = buf[:n] if n <= len(buf) else buf + bytes(n - len(buf))
    return buf


def _value():
    return st.one_of(st.sampled_from(NEAR), st.integers(0, 2**64 - 1), st.sampled_from([2**32 - 1, 2**63, 2**64 - 1]))


OPS = st.lists(st.one_of(
    st.tuples(st.just("field"), st.integers(0, len(FIELDS) - 1), _value()),
    st.tuples(st.just("byte"), st.integers(0, L.data_offset_for(CAPACITY) + 256), st.integers(0, 255)),
    st.tuples(st.just("name"), st.integers(0, CAPACITY - 1),
              st.one_of(st.sampled_from([b"obs\0", b"act\0", b"\0", b"x" * 64, b"a b\0", b"r\0"]),
                        st.binary(max_size=64))),
    st.tuples(st.just("resize"), st.one_of(st.integers(0, 200), st.integers(0, 2 * SIZE))),
), min_size=1, max_size=6)


def _assert_consistent(buf, header, entries) -> None:
    """What a successful parse promises: every entry is in bounds, aligned, unique and sized right."""
    assert header.total_size == len(buf) and header.entry_count == len(entries) <= header.capacity
    names = set()
    prev_end = header.data_offset
    for e in entries:
        assert e.name not in names and L.name_valid(e.name.encode())
        names.add(e.name)
        assert e.offset % 64 == 0 and prev_end <= e.offset and e.offset + e.nbytes <= len(buf)
        prev_end = e.offset + e.nbytes
        if e.kind == L.KIND_TENSOR:
            assert e.nbytes == e.count * L.DTYPE_SIZES[e.dtype]
        else:
            assert e.kind == L.KIND_SEMAPHORE and e.nbytes == L.SEM_SLOT_SIZE and e.dtype == 0


def assert_parser_agrees_with_check(buf: bytes) -> None:
    """`parse` raises the BadChunk `check` predicts (status, entry, message) or returns a consistent chunk."""
    status, bad_entry, header, entries = check(buf, L.SEM_SIZE)
    assert 0 <= status < L.STATUS_COUNT
    try:
        header, entries = parse(buf, "fuzz")
    except BadChunk as exc:
        assert exc.status == status != L.OK and exc.entry == bad_entry
        assert str(exc).startswith(f"shared memory 'fuzz': {L.STATUS_MESSAGES[status]}")
    else:
        assert status == L.OK
        _assert_consistent(buf, header, entries)


# Hypothesis's search (and shrinking of a failure) on 300 images; the 1,500 seeded images of
# test_c_and_python_validators_agree go through the same parser check (generating an example
# costs Hypothesis ~3 ms, 10x the check itself).
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_python_parser_never_crashes(ops):
    assert_parser_agrees_with_check(bytes(mutate(bytearray(BASE), ops)))


@pytest.mark.exclusive  # a fuzzed header may name a dead host: another host's sweep would remove it
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(OPS)
def test_attach_of_corrupt_file_raises_cleanly(ops):
    buf = mutate(bytearray(BASE), ops)
    handle = unique_handle("fa")
    path = f"/dev/shm/{handle}"
    with open(path, "xb") as f:
        f.write(buf)
    try:
        try:
            m = SharedMemory.attach(handle)
        except SharedMemoryError:
            return
        with m:  # validated: every entry is usable without touching memory outside the chunk
            for name in m.names():
                try:
                    m.find_tensor(name).read()
                except SharedMemoryError:
                    m.find_semaphore(name).value
    finally:
        os.unlink(path)


def test_c_and_python_validators_agree(cc, tmp_path):
    """The C validator (ASan-instrumented when available) on the same corrupted images; the Python
    parser agrees with the Python check on each of them."""
    exe = cc("validate_files")
    rng = random.Random(20240601)
    images: list[bytes] = [BASE, b"", BASE[:127], BASE[:128]]
    for _ in range(1500):
        ops = []
        for _ in range(rng.randint(1, 4)):
            kind = rng.random()
            if kind < 0.6:
                value = rng.choice(NEAR) if rng.random() < 0.7 else rng.getrandbits(64)
                ops.append(("field", rng.randrange(len(FIELDS)), value))
            elif kind < 0.8:
                ops.append(("byte", rng.randrange(L.data_offset_for(CAPACITY) + 256), rng.randrange(256)))
            elif kind < 0.93:
                ops.append(("name", rng.randrange(CAPACITY),
                            rng.choice([b"obs\0", b"r\0", b"\0", b"x" * 64, b"a b\0", rng.randbytes(8)])))
            else:
                ops.append(("resize", rng.choice([rng.randrange(200), rng.randrange(2 * SIZE)])))
        images.append(bytes(mutate(bytearray(BASE), ops)))
    paths = []
    for i, img in enumerate(images):
        p = tmp_path / f"{i}.bin"
        p.write_bytes(img)
        paths.append(str(p))
    out = subprocess.run([str(exe), *paths], capture_output=True, text=True, env=child_env())
    assert out.returncode == 0, out.stderr[-3000:]
    c_results = [tuple(map(int, line.split())) for line in out.stdout.splitlines()]
    assert len(c_results) == len(images)
    statuses = set()
    for img, (c_status, c_bad) in zip(images, c_results):
        status, bad, _, _ = check(img, L.SEM_SIZE)
        assert (c_status, c_bad) == (status, -1 if bad is None else bad), f"image {images.index(img)}"
        assert_parser_agrees_with_check(img)
        statuses.add(status)
    # the corpus reaches most checks, not just the magic
    assert len(statuses) >= 12, sorted(statuses)
