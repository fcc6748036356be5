"""The exported policy measured twice: from Python (GodotEnv + torch.jit), then inside Godot (play scene)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .common import PLAY_SCENE, TRAIN_SCENE


def _python_returns(policy_path: Path, project: Path, godot, seed: int, episodes: int) -> list[float]:
    import warnings

    import torch

    from ..env import GodotEnv

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        jit = torch.jit.load(str(policy_path), map_location="cpu").eval()
    returns = []
    checksum = 0.0  # the play scene's "first_episode_obs_checksum": same floats, same order
    env = GodotEnv(project, TRAIN_SCENE, seed=seed, godot=godot)
    try:
        obs, _ = env.reset(seed=seed)
        for ep in range(episodes):
            if ep:
                obs, _ = env.reset()
            total = 0.0
            if ep == 0:
                for v in obs.tolist():
                    checksum += v
            with torch.no_grad():
                while True:
                    out = jit(torch.from_numpy(obs).unsqueeze(0))[0]
                    action = int(out.argmax()) if env.env_spec.discrete else np.clip(
                        out.numpy(), env.action_space.low, env.action_space.high)
                    obs, reward, terminated, truncated, _ = env.step(action)
                    total += reward
                    if ep == 0:
                        for v in obs.tolist():
                            checksum += v
                    if terminated or truncated:
                        break
            returns.append(total)
    finally:
        env.close()
    return returns, checksum


def _play_in_engine(project: Path, godot, seed: int, episodes: int, physics_fps: int, window: bool = False) -> dict:
    from ..engine import GodotProcess, GodotProcessError, LaunchOptions

    from ..env.link import engine_cpus

    options = LaunchOptions(project=project, scene=PLAY_SCENE, seed=seed, headless=not window,
                            fixed_fps=None if window else physics_fps,
                            user_args=("--play-episodes", str(episodes)))
    cpus = None if window else engine_cpus("auto")  # placed like the training engines
    proc = GodotProcess(options, godot=godot, cpus=cpus)
    with proc:
        code = proc.wait(timeout=600 if window else 180)
        log = proc.log()
    for line in log.splitlines():
        if line.startswith("AIGYM_PLAY_RESULT "):
            result = json.loads(line[len("AIGYM_PLAY_RESULT "):])
            result["exit_code"] = code
            return result
    tail = "\n".join(line for line in log.splitlines()[-25:] if "misc2" not in line)
    raise GodotProcessError(f"the play scene printed no AIGYM_PLAY_RESULT line (exit code {code}):\n{tail}")

