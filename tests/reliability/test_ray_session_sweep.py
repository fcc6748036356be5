"""A training driver killed with SIGKILL (`python -m godot_aigym.rllib.train`, local Ray) left its
private Ray session folder (/tmp/rk*) behind for good: found by killing a real driver while its
engines ran (engines, chunks and logs were gone; Ray's agents exited within about a minute; the
folder stayed). The folder now records its creator, and the next private session sweeps the
folders of dead creators once no process names them. No Ray needed here: the rule is tested on
folders made like the real ones."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

from godot_aigym.liveness import start_time
from godot_aigym.owners import owner_tag
from godot_aigym.rllib.local_ray import OWNER_FILE, sweep_stale_sessions


def _session_folder(owner: str) -> str:
    folder = tempfile.mkdtemp(prefix="rk", dir="/tmp")
    with open(os.path.join(folder, OWNER_FILE), "w") as f:
        f.write(owner)
    os.mkdir(os.path.join(folder, "ray"))
    return folder


def _waiting_process(*args: str) -> subprocess.Popen:
    """A process that lives until its stdin closes, returned once it runs: its command line is
    then its own (just after the fork, /proc still shows the parent's, and a sweep would miss it)."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys; print('up', flush=True); sys.stdin.read()", *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "up"
    return proc


def test_sessions_of_dead_drivers_are_swept_once_no_process_names_them():
    driver = _waiting_process()
    dead_owner = f"{driver.pid}-{start_time(driver.pid)}"
    driver.stdin.close()
    driver.wait()
    dead, live, in_use = _session_folder(dead_owner), _session_folder(owner_tag()), _session_folder(dead_owner)
    legacy = tempfile.mkdtemp(prefix="rk", dir="/tmp")  # no owner file: never ours to judge
    agent = _waiting_process(f"--temp-dir={in_use}/ray")  # like a Ray agent outliving its driver
    try:
        # another process's private_session may sweep too (tests run in parallel): look at the folders
        sweep_stale_sessions()
        assert not os.path.exists(dead)
        assert os.path.isdir(live) and os.path.isdir(in_use) and os.path.isdir(legacy)
        agent.stdin.close()
        agent.wait()
        sweep_stale_sessions()
        assert not os.path.exists(in_use)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
        for folder in (dead, live, in_use, legacy):
            shutil.rmtree(folder, ignore_errors=True)
