"""The shared-memory tests' fixtures (unique handles with leak checks, C builds), in a module so that
tests/reliability can use them too (its semaphore-corruption fuzz)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from shm_testutil import C_DIR, HEADER_DIR, unique_handle

from godot_aigym.shm import SharedMemory


@pytest.fixture
def handles():
    """Factory of unique handles; fails the test if any of them is left in /dev/shm."""
    made: list[str] = []

    def make(tag: str = "t") -> str:
        made.append(unique_handle(tag))
        return made[-1]

    yield make
    leaked = [h for h in made if os.path.exists(f"/dev/shm/{h}")]
    for h in leaked:
        os.unlink(f"/dev/shm/{h}")
    assert not leaked, f"chunks leaked in /dev/shm: {leaked}"


@pytest.fixture
def mem(handles):
    """A small owned chunk, closed (and checked gone) after the test."""
    m = SharedMemory(handles(), size=1 << 20, capacity=16)
    yield m
    m.close()


@pytest.fixture(scope="session")
def cc(tmp_path_factory):
    """Compile tests/shm/c/<name>.c against the headers (with ASan/UBSan when available)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is needed for the C/Python layout tests")
    out_dir = tmp_path_factory.mktemp("cbin")
    built: dict[str, Path] = {}
    probe = subprocess.run([gcc, "-fsanitize=address,undefined", "-x", "c", "-", "-o", str(out_dir / "probe")],
                           input=b"int main(void){return 0;}", capture_output=True)
    sanitize = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"] if probe.returncode == 0 else []

    def build(name: str) -> Path:
        if name not in built:
            exe = out_dir / name
            cmd = [gcc, "-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", *sanitize,
                   f"-I{HEADER_DIR}", str(C_DIR / f"{name}.c"), "-o", str(exe)]
            res = subprocess.run(cmd, capture_output=True, text=True)
            assert res.returncode == 0, f"gcc failed:\n{' '.join(cmd)}\n{res.stderr}"
            built[name] = exe
        return built[name]

    return build
