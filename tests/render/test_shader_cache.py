"""Rendering engines of one project started at once do not race on Godot's shader cache.

Godot 4.6 writes ``user://shader_cache`` files in place; an engine reading one while another
writes it logged ``Condition "br != variant_size" is true`` (a GodotScriptError for the host).
The host now warms the cache with one short run before the project's first rendering engine
(godot_aigym/display/shader_cache.py). Each round here starts several engines at once from an
empty cache (a data folder of its own: the user's real ``user://`` is not touched) and checks
what decides the race without depending on luck: the engines found every shader cached and wrote
no file (before, each compiled and wrote; and a warm-up on another CPU count than the engines'
left binaries llvmpipe refuses, so every engine rewrote every file).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from godot_aigym.display import shader_cache
from godot_aigym.env import GodotVectorEnv

real_run_godot = shader_cache.run_godot

REACH = "res://envs/reach/reach.tscn"
ENGINES = 2  # as in the bench run that logged the error


def cache_files(data: Path) -> dict[Path, tuple[int, int]]:
    """Every shader cache file under the data folder with its (mtime ns, size)."""
    return {p: (p.stat().st_mtime_ns, p.stat().st_size)
            for p in data.glob("godot/app_userdata/*/shader_cache/*/*/*.cache")}


def test_engines_started_at_once_from_an_empty_cache_log_no_error(display, tmp_path, monkeypatch):
    """Also where cpus="auto" puts two rendering engines: nowhere (test_render_placement.py's
    subject; checked on these engines rather than on two more started the same way)."""
    data = tmp_path / "data"  # an empty user data folder: every shader is compiled and cached now
    after_warm_up: list[dict] = []

    def run_and_look(options, **kw):  # the real warm-up run, then a look at what it cached
        result = real_run_godot(options, **kw)
        after_warm_up.append(cache_files(data))
        return result

    monkeypatch.setattr(shader_cache, "run_godot", run_and_look)
    envs = GodotVectorEnv(scene=REACH, n_agents=1, n_engines=ENGINES, seed=0, rendering=True,
                          env={"XDG_DATA_HOME": str(data)})
    try:
        # cpus="auto" (the default) pins no rendering engine: each runs on every CPU the host may use
        assert [link.cpus for link in envs.links] == [None] * ENGINES
        assert [os.sched_getaffinity(link.proc.popen.pid) for link in envs.links] == [os.sched_getaffinity(0)] * ENGINES
        envs.reset(seed=0)
        obs, *_ = envs.step(envs.action_space.sample())
        assert obs["camera"].shape == (ENGINES, 42, 42, 3)
        logs = [link.proc.log() for link in envs.links]
    finally:
        envs.close()
    errors = [line for log in logs for line in log.splitlines() if "ERROR" in line]
    assert not errors, f"engines logged errors: {errors[:6]}"
    assert len(after_warm_up) == 1, "nothing warmed the cache: the engines compiled and wrote it all at once"
    assert after_warm_up[0], "the warm-up cached no shader: the test did not start from an empty cache"
    # the engines found every shader they needed and wrote nothing: they only read
    assert cache_files(data) == after_warm_up[0]


HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("HELD", flush=True)
sys.stdin.readline()  # until the test lets go
open(os.path.join(sys.argv[1], "released"), "w").close()
"""


def test_hosts_warming_one_project_take_turns(tmp_path):
    """A host warming a project waits for another host's warm-up of it (flock on the project folder)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    seen: list[bool] = []
    try:
        assert holder.stdout.readline().strip() == "HELD"

        def warm() -> None:
            with shader_cache._project_lock(tmp_path, timeout=120):
                seen.append((tmp_path / "released").exists())

        waiter = threading.Thread(target=warm)
        waiter.start()
        holder.stdin.write("go\n")
        holder.stdin.flush()
        waiter.join(timeout=120)
        assert holder.wait(timeout=120) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        holder.stdin.close()
        holder.stdout.close()
    assert seen == [True], "entered while the other host still held the project"
