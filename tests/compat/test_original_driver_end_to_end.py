"""A GodotAIGym-style project end to end: its original-style Python driver
(original_driver/InvPendulum.py, `import _GodotEnv`, launches the game itself) runs
unchanged against godot_aigym.compat through the real engine, and every value the game
sends back is checked against the pendulum recomputed here."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

import godot_aigym.compat as compat
from gdscript_runs import GodotRun, check_log
from godot_aigym.compat import SharedMemorySemaphore, SharedMemoryTensor, godot_executable
from godot_aigym.shm import EngineDiedError, sweep_stale_chunks

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "original_driver" / "InvPendulum.py"

# the game's constants (project/Pendulum.gd, project/Environment.gd)
G_OVER_L, INIT_THETA, DT, MAX_STEPS = 10.0, 1.0, 0.05, 20
MAX_TORQUE = 8.0  # the driver clamps to this


@pytest.fixture(scope="module")
def ported_project(tmp_path_factory, godot, built_core):
    """tests/compat/project copied to a temporary folder and given the addon the way
    docs/PORTING.md says: `godot-aigym add PROJECT_DIR` (copies, registers, imports)."""
    project = tmp_path_factory.mktemp("compat") / "InvPendulum"
    shutil.copytree(HERE / "project", project, ignore=shutil.ignore_patterns(".godot", "addons", ".gitignore"))
    add = subprocess.run([sys.executable, "-m", "godot_aigym", "add", str(project), "--godot", str(godot.path)],
                         capture_output=True, text=True, timeout=600)
    assert add.returncode == 0, f"godot-aigym add failed:\n{add.stdout[-3000:]}\n{add.stderr[-3000:]}"
    assert (project / "addons" / "godot_aigym" / "godot_aigym.gdextension").is_file()
    return project


def expected_episode(torques: list[float]) -> tuple[list[float], list[tuple[list[float], float, int]]]:
    """The game's pendulum, in float64 like GDScript, values rounded to float32 like the tensors."""
    f32 = lambda xs: [float(np.float32(x)) for x in xs]  # noqa: E731
    theta, omega, steps = INIT_THETA, 0.0, 0
    reset_obs = f32([math.cos(theta), math.sin(theta), omega])
    out = []
    for torque in torques:
        torque = float(np.float32(min(max(torque, -MAX_TORQUE), MAX_TORQUE)))
        omega += (-G_OVER_L * math.sin(theta) + torque) * DT
        theta += omega * DT
        steps += 1
        done = 1 if steps >= MAX_STEPS else 0
        if done:
            steps = 0
        th = math.fmod(theta + math.pi, 2 * math.pi) - math.pi
        reward = -(th * th + .1 * omega * omega + .001 * torque * torque)
        out.append((f32([math.cos(theta), math.sin(theta), omega]), float(np.float32(reward)), done))
    return reset_obs, out


def test_original_driver_runs_unchanged_through_the_real_engine(ported_project, godot, tmp_path):
    torques = [1.0, -2.0, 12.0, 0.5] + [0.0] * 18  # 12 is clamped by the driver; episode ends at 20
    handle = f"environment_{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [compat.SHIM_DIR, os.environ.get("PYTHONPATH")])))
    # own session: if something hangs, the safety timeout kills the driver AND the game it started
    driver = subprocess.Popen(
        [sys.executable, str(DRIVER), godot_executable(headless=True, godot=godot), str(ported_project), handle,
         json.dumps(torques)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = driver.communicate(timeout=300)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.communicate()
        sweep_stale_chunks(prefix=handle)  # a killed driver could not unlink its chunk
    engine_log = (tmp_path / "stdout.txt").read_text() + (tmp_path / "stderr.txt").read_text()
    assert driver.returncode == 0, f"driver failed:\n{stdout}\n{stderr}\n--- engine log ---\n{engine_log}"
    check_log(GodotRun.parse(0, engine_log))
    assert "Running as OpenAIGym environment" in engine_log

    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    reset_obs, steps = expected_episode(torques)
    assert lines[0] == {"reset": reset_obs}
    got = lines[1:1 + len(torques)]
    assert len(got) == len(torques)
    for i, (line, (obs, reward, done)) in enumerate(zip(got, steps)):
        np.testing.assert_allclose(line["obs"], obs, rtol=1e-6, atol=1e-6, err_msg=f"step {i}")
        assert line["reward"] == pytest.approx(reward, rel=1e-6, abs=1e-6), f"step {i}"
        assert line["done"] == done, f"step {i}"
    assert [line["done"] for line in got].index(1) == MAX_STEPS - 1
    assert lines[-2] == {"timed_wait_200ms": False}
    assert lines[-1] == {"exit_code": 0}  # the game quit on the exit action
    assert not os.path.exists(f"/dev/shm/{handle}")


def test_engine_that_cannot_start_ends_the_original_wait(godot, tmp_path):
    """The driver's own Popen line with a bad project path: Godot exits before attaching, and
    the original API's endless wait() raises EngineDiedError instead of hanging."""
    handle = f"environment_{uuid.uuid4().hex[:8]}"
    with SharedMemoryTensor(handle) as mem:
        sem_act = SharedMemorySemaphore("sem_action", 0)
        sem_obs = SharedMemorySemaphore("sem_observation", 0)
        mem.newFloatTensor("observation", 3)
        with open(tmp_path / "stdout.txt", "wb") as out:
            process = subprocess.Popen([godot_executable(headless=True, godot=godot), "--path",
                                        str(tmp_path / "no_such_project"), "--handle", handle],
                                       stdout=out, stderr=subprocess.STDOUT)
        try:
            sem_act.post()
            with pytest.raises(EngineDiedError, match="sem_observation"):
                sem_obs.wait()
        finally:
            process.wait(timeout=60)
    assert process.returncode != 0
    assert not os.path.exists(f"/dev/shm/{handle}")
