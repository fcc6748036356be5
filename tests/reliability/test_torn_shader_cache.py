"""A shader cache file cut short by a killed rendering engine fails no later environment.

Godot's compatibility renderer writes its shader cache in place (display/shader_cache.py says
how engines of one host avoid racing on it); an engine SIGKILLed mid-write leaves a file cut
short, and an engine of another host may read a file while one rewrites it. Godot then logs
"_load_from_cache" errors and compiles the shader from source: the frame is right, so the
errors are not the game's and must not fail the host's command (before: GodotScriptError on
the first step; a crash-cycle run's rendering host ended that way).
"""

from __future__ import annotations

import os

import numpy as np

from godot_aigym.env import GodotEnv
from godot_aigym.env.link import demo_project, prepare_project

REACH = "res://envs/reach/reach.tscn"


def test_a_shader_cache_cut_short_by_a_killed_engine_fails_no_env(godot, tmp_path):
    demo = demo_project()
    prepare_project(demo, godot)
    settings = dict(rendering=True, env={"XDG_DATA_HOME": str(tmp_path / "data")})  # a private cache
    env = GodotEnv(demo, REACH, **settings)
    try:
        env.reset(seed=0)
        first, *_ = env.step(env.action_space.sample())
    finally:
        env.close()
    cached = [p for p in (tmp_path / "data").rglob("*") if p.is_file() and p.stat().st_size > 1]
    assert cached, "the first engine cached no shader"
    for path in cached:  # what a SIGKILL in the middle of each write leaves
        os.truncate(path, path.stat().st_size // 2)
    env = GodotEnv(demo, REACH, **settings)  # this host warmed the cache already: the engine reads it
    try:
        env.reset(seed=0)
        obs, *_ = env.step(env.action_space.sample())
        log = env._link.proc.log()
    finally:
        env.close()
    assert "_load_from_cache" in log, "the engine read no torn cache file: the test tests nothing"
    assert obs["camera"].shape == first["camera"].shape and np.asarray(obs["camera"]).any()
