"""Training: PPO (Stable-Baselines3) on the Godot cart-pole, with progress, evaluation and early stop."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from rich.console import Console

from .common import CLIP_RANGE, LEARNING_RATE, PPO_PARAMS, TRAIN_SCENE, Story, _fmt_s


def _train(args, console: Console, story: Story, project: Path, godot):
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import VecMonitor

    from ..env import GodotVectorEnv
    from ..env.sb3 import GodotVecEnv, folderless_logger

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a small MLP: one thread is fastest, and the engine keeps the other core
    t_start = time.perf_counter()
    venv = eval_env = None
    try:
        venv = VecMonitor(GodotVecEnv(project, TRAIN_SCENE, n_agents=args.agents, n_engines=args.engines,
                                      seed=args.seed, godot=godot))
        venv.seed(args.seed)
        eval_env = GodotVectorEnv(project, TRAIN_SCENE, n_agents=args.episodes, seed=10_000 + args.seed, godot=godot)
        budget = args.max_steps
        model = PPO("MlpPolicy", venv, learning_rate=lambda p: p * LEARNING_RATE, clip_range=lambda p: p * CLIP_RANGE,
                    seed=args.seed, device="cpu", verbose=0, **PPO_PARAMS)
        model.set_logger(folderless_logger())  # SB3's default logger leaves a /tmp/SB3-<date> folder per learn()
        console.print(f"[green]✓[/] {args.agents * args.engines} cart-poles ready in "
                      f"{_fmt_s(time.perf_counter() - t_start)}; training PPO ({model.policy.__class__.__name__}, "
                      f"{sum(p.numel() for p in model.policy.parameters()):,} parameters)")
        progress = Progress(TextColumn("[bold blue]training"), BarColumn(), TextColumn("{task.completed:>7,}/{task.total:,} steps"),
                            TextColumn("{task.fields[rate]:>6} steps/s"), TextColumn("return {task.fields[ret]}"),
                            TimeElapsedColumn(), console=console, transient=False,
                            disable=not console.is_terminal)
        callback = _DemoCallback(BaseCallback, story, progress, eval_env, args, console, t_start)
        with progress:
            callback.task = progress.add_task("train", total=budget, rate="-", ret="-")
            model.learn(total_timesteps=budget, callback=callback.sb3)
        story.train_steps = int(model.num_timesteps)
        story.train_seconds = time.perf_counter() - t_start
        story.stages["training"] = story.train_seconds
    finally:
        for env in (venv, eval_env):
            if env is not None:
                env.close()
        torch.set_num_threads(threads)
    rate = story.train_steps / max(story.train_seconds, 1e-9)
    if story.solved_at is not None:
        console.print(f"[green]✓[/] solved after {story.solved_at:,} agent steps and {_fmt_s(story.solved_time)} "
                      f"({rate:,.0f} agent steps/s including PPO updates)")
    else:
        console.print(f"[yellow]![/] not solved within the budget ({story.train_steps:,} steps, "
                      f"{_fmt_s(story.train_seconds)}); exporting the last policy anyway")
    return model


class _DemoCallback:
    """Progress, learning-curve data, periodic deterministic evaluation, early stop when solved."""

    def __init__(self, base, story: Story, progress, eval_env, args, console: Console, t_start: float):
        outer = self
        self.story, self.progress, self.eval_env, self.args, self.console = story, progress, eval_env, args, console
        self.t_start = t_start
        self.task = None
        self.last_eval = 0
        self.last_print = 0
        self.stop = False

        class _CB(base):
            def _on_step(self) -> bool:
                for info in self.locals["infos"]:
                    ep = info.get("episode")
                    if ep is not None:
                        outer.story.episodes.append((self.num_timesteps, float(ep["r"])))
                if outer.stop:
                    return False
                if time.perf_counter() - outer.t_start > outer.args.time_budget:
                    outer.console.print("[yellow]time budget reached[/]")
                    return False
                return True

            def _on_rollout_end(self) -> None:
                outer.rollout_end(self.model, self.num_timesteps)

        self.sb3 = _CB()

    def rollout_end(self, model, steps: int) -> None:
        recent = [r for _, r in self.story.episodes[-50:]]
        mean = float(np.mean(recent)) if recent else float("nan")
        elapsed = time.perf_counter() - self.t_start
        self.progress.update(self.task, completed=steps, rate=f"{steps / max(elapsed, 1e-9):,.0f}",
                             ret=f"{mean:6.1f}" if recent else "-")
        if not self.console.is_terminal and steps - self.last_print >= 20_000:
            self.last_print = steps
            self.console.print(f"  {steps:>8,} steps  {elapsed:6.1f} s  mean training return {mean:6.1f}")
        # evaluate (deterministic actions) once the stochastic policy is close, at most every 10k steps
        if recent and mean >= 0.9 * self.args.threshold and steps - self.last_eval >= 10_000:
            self.last_eval = steps
            ev = evaluate(model, self.eval_env, seed=10_000 + self.args.seed)
            self.story.evals.append((steps, ev))
            self.console.print(f"  evaluation at {steps:,} steps: mean return {ev:.1f} over {self.args.episodes} "
                               f"episodes ({_fmt_s(time.perf_counter() - self.t_start)})")
            if ev >= self.args.threshold:
                self.story.solved_at = steps
                self.story.solved_time = time.perf_counter() - self.t_start
                self.stop = True


def evaluate(model, venv, seed: int) -> float:
    """Mean return of one deterministic episode per agent of a GodotVectorEnv (NEXT_STEP autoreset)."""
    obs, _ = venv.reset(seed=seed)
    n = venv.num_envs
    returns = np.zeros(n)
    done = np.zeros(n, dtype=bool)
    while not done.all():
        actions, _ = model.predict(obs, deterministic=True)
        obs, rewards, terminated, truncated, _ = venv.step(actions)
        returns += np.where(done, 0.0, rewards)
        done |= terminated | truncated
    return float(returns.mean())


def _actor(policy):
    """observation -> action logits (discrete) or mean action (box) of an SB3 actor-critic policy."""
    import torch

    class Actor(torch.nn.Module):
        def __init__(self, p):
            super().__init__()
            self.features = p.pi_features_extractor if hasattr(p, "pi_features_extractor") else p.features_extractor
            self.body = p.mlp_extractor.policy_net
            self.head = p.action_net

        def forward(self, obs: torch.Tensor) -> torch.Tensor:
            return self.head(self.body(self.features(obs)))

    return Actor(policy).cpu().eval()

