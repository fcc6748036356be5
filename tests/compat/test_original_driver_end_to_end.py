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


def _variant(ported_project: Path, tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the ported game with one line of Environment.gd changed."""
    project = tmp_path / "InvPendulum"
    shutil.copytree(ported_project, project, symlinks=True)
    script = project / "Environment.gd"
    text = script.read_text()
    assert old in text
    script.write_text(text.replace(old, new))
    return project


def _start_game(project: Path, handle: str, godot, log) -> subprocess.Popen:
    return subprocess.Popen([godot_executable(headless=True, godot=godot), "--path", str(project), "--handle", handle],
                            stdout=log, stderr=subprocess.STDOUT)


def _pendulum_chunk(handle: str):
    mem = SharedMemoryTensor(handle)
    sems = SharedMemorySemaphore("sem_action", 0), SharedMemorySemaphore("sem_observation", 0)
    mem.newFloatTensor("agent_action", 1)
    env_action = mem.newIntTensor("env_action", 2)
    mem.newFloatTensor("observation", 3)
    mem.newFloatTensor("reward", 1)
    mem.newIntTensor("done", 1)
    return mem, sems, env_action


def test_a_game_that_stops_on_a_script_error_ends_the_original_wait(ported_project, godot, tmp_path):
    """A line left unported (Godot 3's RigidBody2D call) stops the game's _physics_process after it
    took the action; the game lives on and waits for the next action, so the driver's endless
    wait() would never return: it raises EngineScriptError naming the error, the script and line."""
    project = _variant(ported_project, tmp_path, "$Anchor/Pendulum.torque = agent_action[0]",
                       "$Anchor/Pendulum.set_applied_torque(agent_action[0])")
    line = next(i for i, text in enumerate((project / "Environment.gd").read_text().splitlines(), 1)
                if "set_applied_torque" in text)
    handle = f"environment_{uuid.uuid4().hex[:8]}"
    mem, (sem_act, sem_obs), _ = _pendulum_chunk(handle)
    with mem, open(tmp_path / "game.log", "wb") as log:
        process = _start_game(project, handle, godot, log)
        try:
            sem_act.post()
            with pytest.raises(compat.EngineScriptError) as err:
                sem_obs.wait()
            assert process.poll() is None, "the game is alive: a stop on an error is not a death"
        finally:
            process.kill()
            process.wait(timeout=60)
    assert "Nonexistent function 'set_applied_torque'" in err.value.text
    assert f"res://Environment.gd:{line}, _physics_process" in err.value.text
    assert err.value.semaphore == "sem_action" and err.value.error_count == 1
    assert "sem_observation" in str(err.value) and err.value.text in str(err.value)
    assert not os.path.exists(f"/dev/shm/{handle}")


def test_errors_a_game_logs_and_answers_do_not_stop_the_driver(ported_project, godot, tmp_path):
    """The rule for benign errors: an error the game logs and then answers (posts) after, or logs
    while the driver is not waiting, changes nothing. Here every step logs one before its answer
    and one after it (so the game waits for the next action with an error unanswered, which the
    driver's post answers), and the game is slow to answer, so the driver's wait checks the game
    while it works."""
    project = _variant(ported_project, tmp_path, "\t\tsem_observation.post()\n",
                       "\t\tpush_error(\"benign before\")\n\t\tOS.delay_msec(150)\n\t\tsem_observation.post()\n"
                       "\t\tpush_error(\"benign after\")\n")
    handle = f"environment_{uuid.uuid4().hex[:8]}"
    mem, (sem_act, sem_obs), env_action = _pendulum_chunk(handle)
    with mem, open(tmp_path / "game.log", "wb") as log:
        process = _start_game(project, handle, godot, log)
        try:
            for _ in range(4):
                sem_act.post()
                sem_obs.wait()
            env_action.write([0, 1])  # the exit action
            sem_act.post()
            assert process.wait(timeout=120) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=60)
    assert (tmp_path / "game.log").read_text().count("benign before") >= 4
