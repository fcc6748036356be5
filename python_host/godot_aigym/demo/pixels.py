"""The pixel demo: `godot-aigym demo --env reach` trains PPO's CnnPolicy on the Reach env from
camera pixels only.

Reach (demo_project/envs/reach): each agent's camera hangs over a blue floor and moves in four
directions; a red tile lies somewhere. The observation is the camera's 42x42 RGB image; reaching
the tile gives +1 and ends the episode, every step pays half its progress towards the tile,
episodes are cut at 60 steps. **Solved: mean return >= 1.8 over the last 100 training episodes**
(a random policy gets about 0.1; a perfect one about 2.4, depending on the start distance).

16 agents render in one engine on the host's private X server (Mesa llvmpipe, no GPU). Written
to the output folder: ``reach_learning_curve.png`` and ``reach_episode.mp4`` (one greedy episode
as the agent saw it, upscaled), ``reach_policy.zip`` (the SB3 model) and ``reach_policy.jit`` (its
actor, exported); 10 (``--play-episodes``) seeded greedy episodes are then played from Python and
in Godot, where cTorchModel acts on the engine's own camera frames. Exit code 0: solved, and the same returns.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Sequence

import numpy as np

REACH_SCENE = "res://envs/reach/reach.tscn"
THRESHOLD = 1.8


def _torch_module():
    import torch
    return torch.nn.Module


class PixelPolicy(_torch_module()):
    """SB3's CnnPolicy actor on raw channel-last pixels, for export_policy: (B, H, W, C) floats
    0..255 -> action logits (what VecTransposeImage and SB3's image preprocessing do, inside)."""

    def __init__(self, policy) -> None:
        super().__init__()
        self.features = policy.features_extractor
        self.mlp = policy.mlp_extractor
        self.action_net = policy.action_net

    def forward(self, x):
        x = x.permute(0, 3, 1, 2) / 255.0
        return self.action_net(self.mlp.forward_actor(self.features(x)))


def play_in_engine(policy_path, seed: int, episodes: int, *, project=None, godot=None) -> dict:
    """Play `episodes` Reach episodes in the engine (cTorchModel from the cameras, no Python) with
    ``--seed seed``; the AIGYM_PLAY_RESULT dict (returns, lengths, ...)."""
    import json

    from ..display import rendering_launch_options, shared_display
    from ..engine import GodotProcess, GodotProcessError, LaunchOptions
    from ..env.project import demo_project
    from ..runtime import resolve_godot

    godot = godot or resolve_godot()
    display, support = shared_display(godot)
    options = rendering_launch_options(LaunchOptions(
        project=project or demo_project(), scene=REACH_SCENE, seed=seed, fixed_fps=50,
        user_args=("--play", "--policy", str(policy_path), "--play-episodes", str(episodes))), display, support)
    with GodotProcess(options, godot=godot) as proc:
        code = proc.wait(timeout=600)
        log = proc.log()
    for line in log.splitlines():
        if line.startswith("AIGYM_PLAY_RESULT ") and code == 0:
            return json.loads(line[len("AIGYM_PLAY_RESULT "):])
    raise GodotProcessError(f"the engine played no Reach episodes (exit code {code}):\n{log[-2000:]}")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"needs at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="godot-aigym demo --env reach", description=__doc__.split("\n\n")[0])
    ap.add_argument("--agents", type=int, default=16, help="camera agents in the engine (default 16)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-steps", type=int, default=600_000, help="training budget in agent steps")
    ap.add_argument("--time-budget", type=float, default=1200.0, help="stop training after this many seconds")
    ap.add_argument("--threshold", type=float, default=THRESHOLD, help=f"solved threshold (default {THRESHOLD})")
    ap.add_argument("--output", default=None, help="output folder (default: ./demo_output/)")
    ap.add_argument("--project", default=None, help="the Godot project (default: the demo project)")
    ap.add_argument("--play-episodes", type=_positive, default=10,
                    help="seeded greedy episodes played from Python and in the engine (default 10)")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    from ..project_tools import ProjectError
    from ..project_tools.godot_project import open_project

    args = build_parser().parse_args(argv)
    output = Path(args.output).resolve() if args.output else Path.cwd() / "demo_output"
    try:
        if args.project is not None:
            open_project(args.project)
        output.mkdir(parents=True, exist_ok=True)
    except ProjectError as e:
        print(f"[reach] --project: {e}")
        return 2
    except OSError as e:
        print(f"[reach] cannot write the output folder {output} ({e.strerror or e}): choose another --output")
        return 2
    start = time.monotonic()
    model, curve, solved_at = train(args)
    seconds = time.monotonic() - start
    mean = curve[-1][1] if curve else float("nan")
    print(f"[reach] trained {curve[-1][0] if curve else 0:,} steps in {seconds:.0f} s; mean return of the last "
          f"100 episodes {mean:.2f} (threshold {args.threshold}){'; solved at ' + format(solved_at, ',') if solved_at else ''}")
    model.save(output / "reach_policy.zip")
    plot(curve, args.threshold, output / "reach_learning_curve.png")
    ret = record_episode(model, args, output / "reach_episode.mp4")
    print(f"[reach] learning curve: {output / 'reach_learning_curve.png'}; greedy episode (return {ret:.2f}): "
          f"{output / 'reach_episode.mp4'}")
    same = play_both(model, args, output / "reach_policy.jit", episodes=args.play_episodes)
    return 0 if solved_at and same else 1


def play_both(model, args: argparse.Namespace, path: Path, seed: int = 2024, episodes: int = 10) -> bool:
    """Export the policy, play the same seeded episodes from Python and in the engine (from its
    own camera pixels); print both mean returns; True when every episode's return matches."""
    import torch

    from ..env import GodotEnv
    from ..torch_export import export_policy

    module = PixelPolicy(model.policy).eval()
    export_policy(module, torch.rand(2, *model.observation_space.shape[1:], 3) * 255, path)
    py, lengths, actions = [], [], set()
    with GodotEnv(args.project, REACH_SCENE, rendering=True, seed=seed) as env:
        for _ in range(episodes):
            obs, _ = env.reset()
            total, steps, done = 0.0, 0, False
            while not done:
                with torch.no_grad():
                    action = int(module(torch.as_tensor(obs["camera"], dtype=torch.float32)[None]).argmax())
                actions.add(action)
                obs, reward, terminated, truncated, _ = env.step(action)
                total, steps, done = total + reward, steps + 1, terminated or truncated
            py.append(total)
            lengths.append(steps)
    played = play_in_engine(path, seed, episodes, project=args.project)
    engine = played["returns"]
    same = (len(engine) == len(py) and bool(np.allclose(engine, py, atol=1e-4))
            and [int(n) for n in played["lengths"]] == lengths)
    # the policy's actions depend on the pixels when it picks several: then equal returns and
    # lengths say that the engine's model saw the frames Python saw
    print(f"[reach] {episodes} greedy episodes (seed {seed}, {len(actions)} distinct actions in Python): mean "
          f"return {np.mean(py):.2f} from Python, {np.mean(engine):.2f} in Godot from its own camera pixels "
          f"(cTorchModel, {path.name}); {'the same' if same else 'DIFFERENT'} returns and lengths")
    return same


def train(args: argparse.Namespace):
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import VecExtractDictObs, VecMonitor

    from ..env.sb3 import GodotVecEnv, folderless_logger

    curve: list[tuple[int, float]] = []
    deadline = time.monotonic() + args.time_budget

    class Progress(BaseCallback):
        """Records the learning curve; stops when solved or out of time."""
        solved_at = 0

        def _on_step(self) -> bool:
            return time.monotonic() < deadline and not self.solved_at

        def _on_rollout_end(self) -> None:
            returns = [e["r"] for e in self.model.ep_info_buffer]
            if len(returns) >= 100:
                curve.append((self.num_timesteps, float(np.mean(returns))))
                print(f"[reach] {self.num_timesteps:>8,} steps  mean return {curve[-1][1]:.2f}", flush=True)
                if curve[-1][1] >= args.threshold:
                    Progress.solved_at = self.num_timesteps

    venv = GodotVecEnv(args.project, REACH_SCENE, n_agents=args.agents, seed=args.seed, rendering=True)
    try:
        env = VecMonitor(VecExtractDictObs(venv, "camera"))
        model = PPO("CnnPolicy", env, n_steps=64, batch_size=256, n_epochs=4, learning_rate=3e-4, gamma=0.95,
                    ent_coef=0.01, seed=args.seed, verbose=0, device="cpu")
        model.set_logger(folderless_logger())  # SB3's default logger leaves a /tmp/SB3-<date> folder
        model.learn(args.max_steps, callback=Progress())
    finally:
        venv.close()
    return model, curve, Progress.solved_at


def plot(curve, threshold: float, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    if curve:
        steps, means = zip(*curve)
        ax.plot(steps, means, label="mean return, last 100 episodes")
    ax.axhline(threshold, color="green", linestyle="--", label=f"solved ({threshold})")
    ax.set_xlabel("agent steps")
    ax.set_ylabel("return")
    ax.set_title("PPO CnnPolicy on Reach, from 42x42 camera pixels")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def record_episode(model, args: argparse.Namespace, path: Path, seed: int = 2024) -> float:
    """One greedy episode through GodotEnv; the frames the agent saw, upscaled 8x, as an mp4."""
    import imageio.v3 as iio

    from ..env import GodotEnv

    frames, total = [], 0.0
    with GodotEnv(args.project, REACH_SCENE, rendering=True) as env:
        obs, _ = env.reset(seed=seed)
        done = False
        while not done:
            frames.append(obs["camera"].repeat(8, axis=0).repeat(8, axis=1))
            action, _ = model.predict(obs["camera"], deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(int(action))
            total += reward
            done = terminated or truncated
        frames.append(obs["camera"].repeat(8, axis=0).repeat(8, axis=1))
    iio.imwrite(path, np.stack(frames), fps=10)
    return total
