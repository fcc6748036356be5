"""The demo: train in Godot from Python, deploy in Godot without Python.

    godot-aigym demo            (or: make demo, python -m godot_aigym.demo)

1. set-up: the engine, the extension libraries, the demo project's import;
2. training: PPO (Stable-Baselines3) on the cart-pole of demo_project/envs/cartpole, simulated by
   Godot's 2D physics, 16 agents batched in one headless engine, with a progress bar; training
   stops when a deterministic evaluation reaches the solved threshold (mean return >= 475 over
   20 episodes, episodes end at 500 steps), or at the step / time budget;
3. a learning-curve PNG (demo_output/learning_curve.png);
4. export of the policy to TorchScript (demo_project/policy.jit);
5. the return of that .jit measured from Python (GodotEnv, seed 2024), then the play scene run
   headless: Godot loads policy.jit through cTorchModel and plays the same 20 episodes with no
   Python involved; both returns are printed side by side.

`main(argv)` returns the exit code: 0 when the policy is solved both in Python and in the engine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from rich.console import Console
from rich.table import Table

TRAIN_SCENE = "res://envs/cartpole/cartpole.tscn"
PLAY_SCENE = "res://envs/cartpole/play.tscn"
THRESHOLD = 475.0
MAX_RETURN = 500.0
REPO = Path(__file__).resolve().parents[3]

# PPO for cart-pole, as tuned by rl-baselines3-zoo (CartPole-v1), learning rate and clip range
# decaying linearly to 0 over the step budget.
PPO_PARAMS = dict(n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0)
LEARNING_RATE = 1e-3
CLIP_RANGE = 0.2


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="godot-aigym demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--agents", type=int, default=16, help="cart-poles per engine for training (default 16)")
    ap.add_argument("--engines", type=int, default=1, help="engine processes for training (default 1)")
    ap.add_argument("--seed", type=int, default=0, help="seed of training (PPO and the engines)")
    ap.add_argument("--max-steps", type=int, default=300_000, help="training budget in agent steps (default 300k)")
    ap.add_argument("--time-budget", type=float, default=480.0,
                    help="stop training after this many seconds (default 480)")
    ap.add_argument("--episodes", type=int, default=20, help="episodes of each evaluation (default 20)")
    ap.add_argument("--play-seed", type=int, default=2024, help="seed of the final Python and in-engine episodes")
    ap.add_argument("--threshold", type=float, default=THRESHOLD, help="solved threshold (default 475)")
    ap.add_argument("--project", default=None, help="the Godot project (default: demo_project)")
    ap.add_argument("--output", default=None, help="output folder (default: demo_output/)")
    ap.add_argument("--policy", default=None, help="where to export the policy (default: <project>/policy.jit)")
    ap.add_argument("--skip-training", action="store_true", help="use the existing policy.jit: export and play only")
    ap.add_argument("--window", action="store_true", help="play the final episodes in a window, in real time")
    return ap


@dataclass
class Story:
    t0: float = field(default_factory=time.perf_counter)
    stages: dict[str, float] = field(default_factory=dict)
    episodes: list[tuple[int, float]] = field(default_factory=list)
    evals: list[tuple[int, float]] = field(default_factory=list)
    solved_at: int | None = None
    solved_time: float | None = None
    train_steps: int = 0
    train_seconds: float = 0.0
    python_returns: list[float] = field(default_factory=list)
    engine_result: dict[str, Any] = field(default_factory=dict)
    godot_path: str = "godot"
    python_checksum: float = 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0


def _fmt_s(s: float) -> str:
    return f"{s:.1f} s" if s < 120 else f"{int(s // 60)} min {s % 60:.0f} s"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(highlight=False)
    story = Story()
    try:
        return _run(args, console, story)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        return 130


def _run(args: argparse.Namespace, console: Console, story: Story) -> int:
    from ..engine import GodotProcessError
    from ..env.link import demo_project, prepare_project, project_physics_fps
    from ..runtime import resolve_godot

    project = Path(args.project).resolve() if args.project else demo_project()
    output = Path(args.output).resolve() if args.output else REPO / "demo_output"
    policy_path = Path(args.policy).resolve() if args.policy else project / "policy.jit"
    output.mkdir(parents=True, exist_ok=True)
    gitignore = output / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("# written by godot-aigym demo\n*\n")

    console.rule("[bold]godot-aigym demo: train in Godot from Python, deploy in Godot")
    console.print(f"Environment: cart-pole on Godot 2D physics ({TRAIN_SCENE}), solved = mean return "
                  f">= {args.threshold:g} over {args.episodes} episodes (max {MAX_RETURN:g})")
    if not args.skip_training:
        console.print(f"Budget: up to {args.max_steps:,} agent steps or {_fmt_s(args.time_budget)} of training; "
                      f"{args.agents} agents x {args.engines} engine(s); seed {args.seed}")

    # 1. set-up ----------------------------------------------------------------------------------
    t = time.perf_counter()
    godot = resolve_godot()
    story.godot_path = str(godot.path)
    bin_dir = project / "addons" / "godot_aigym" / "bin"
    missing = [k for k in ("core", "torch") if not (bin_dir / f"libaigym_{k}.linux.debug.x86_64.so").is_file()]
    if missing:
        console.print(f"[red]the extension libraries {missing} are not built in {bin_dir}: run `make build` "
                      "(or `godot-aigym setup`)[/]")
        return 2
    prepare_project(project, godot)
    import torch  # noqa: F401  (timed as set-up)
    import stable_baselines3  # noqa: F401
    story.stages["set-up"] = time.perf_counter() - t
    console.print(f"[green]✓[/] set-up in {_fmt_s(story.stages['set-up'])}: Godot {godot.version}, "
                  f"{os.cpu_count()} CPU cores, Python {platform.python_version()}, torch {torch.__version__}, "
                  f"stable-baselines3 {stable_baselines3.__version__}")

    physics_fps = project_physics_fps(project)

    # 2. training ------------------------------------------------------------------------------------
    if not args.skip_training:
        model = _train(args, console, story, project, godot)
        if model is None:
            return 1
        _plot(args, console, story, output)
        # 3. export
        t = time.perf_counter()
        from .. import export_policy

        actor = _actor(model.policy)
        obs_dim = int(np.prod(model.observation_space.shape))
        export_policy(actor, torch.zeros(1, obs_dim), policy_path)
        story.stages["export"] = time.perf_counter() - t
        console.print(f"[green]✓[/] exported the policy to {_rel(policy_path)} "
                      f"({policy_path.stat().st_size / 1024:.0f} KiB TorchScript) in {_fmt_s(story.stages['export'])}")
    elif not policy_path.is_file():
        console.print(f"[red]--skip-training needs an existing policy: {policy_path} not found[/]")
        return 2

    # 4. the .jit measured from Python ------------------------------------------------------------
    t = time.perf_counter()
    story.python_returns, story.python_checksum = _python_returns(policy_path, project, godot, args.play_seed,
                                                                  args.episodes)
    story.stages["python evaluation"] = time.perf_counter() - t
    py_mean = float(np.mean(story.python_returns))
    console.print(f"[green]✓[/] Python (GodotEnv + torch, {args.episodes} episodes, seed {args.play_seed}): "
                  f"mean return {py_mean:.1f} in {_fmt_s(story.stages['python evaluation'])}")

    # 5. the play scene: the policy inside Godot, no Python ---------------------------------------
    t = time.perf_counter()
    if policy_path != project / "policy.jit":
        console.print(f"[yellow]the play scene loads res://policy.jit; {policy_path} is elsewhere, so the engine "
                      "plays the project's own policy.jit[/]")
    try:
        story.engine_result = _play_in_engine(project, godot, args.play_seed, args.episodes, physics_fps,
                                              window=args.window)
    except GodotProcessError as e:
        console.print(f"[red]the play scene failed: {e}[/]")
        return 1
    story.stages["in-engine play"] = time.perf_counter() - t
    eng_mean = float(story.engine_result["mean_return"])
    console.print(f"[green]✓[/] Godot play scene (cTorchModel, headless, no Python): mean return {eng_mean:.1f} "
                  f"({story.engine_result['steps']:,} steps in {story.engine_result['seconds']:.2f} s in-engine)")

    return _summary(args, console, story, output, policy_path)


# -- training -------------------------------------------------------------------------------------
def _train(args, console: Console, story: Story, project: Path, godot):
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import VecMonitor

    from ..env import GodotVectorEnv
    from ..env.sb3 import GodotVecEnv

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


# -- evaluation of the exported .jit ------------------------------------------------------------------
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


# -- outputs ---------------------------------------------------------------------------------------------
def _plot(args, console: Console, story: Story, output: Path) -> None:
    from .plot import learning_curve

    title = (f"PPO on Godot cart-pole: {args.agents} agents x {args.engines} engine(s), "
             f"{story.train_steps:,} steps in {_fmt_s(story.train_seconds)}")
    path = learning_curve(output / "learning_curve.png", story.episodes, story.evals, threshold=args.threshold,
                          max_return=MAX_RETURN, title=title, solved_at=story.solved_at)
    console.print(f"[green]✓[/] learning curve: {_rel(path)}")


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _summary(args, console: Console, story: Story, output: Path, policy_path: Path) -> int:
    py = np.array(story.python_returns, dtype=np.float64)
    eng = np.array(story.engine_result.get("returns", []), dtype=np.float64)
    same = int(np.sum(py == eng)) if len(py) == len(eng) else 0
    solved_py = bool(py.mean() >= args.threshold)
    solved_eng = bool(len(eng) and eng.mean() >= args.threshold)
    total = story.elapsed()

    table = Table(title="godot-aigym demo", show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("value", justify="right")
    if not args.skip_training:
        table.add_row("training", f"{story.train_steps:,} agent steps in {_fmt_s(story.train_seconds)} "
                      f"({story.train_steps / max(story.train_seconds, 1e-9):,.0f}/s)")
        table.add_row("solved at", f"{story.solved_at:,} steps, {_fmt_s(story.solved_time)}"
                      if story.solved_at is not None else "not within the budget")
    table.add_row(f"return in Python (GodotEnv, {len(py)} ep.)", f"{py.mean():.1f} ± {py.std():.1f}")
    table.add_row(f"return in Godot (play scene, {len(eng)} ep.)", f"{eng.mean():.1f} ± {eng.std():.1f}" if len(eng) else "-")
    eng_sum = story.engine_result.get("first_episode_obs_checksum")
    # Godot's JSON prints 15 significant digits: equal to that precision = the same trajectory
    same_traj = eng_sum is not None and math.isclose(eng_sum, story.python_checksum, rel_tol=1e-13, abs_tol=1e-9)
    table.add_row("identical returns", f"{same}/{len(py)} episodes")
    table.add_row("first episode, sum of all observations",
                  f"Python {story.python_checksum:.9f} / Godot {eng_sum:.9f}: "
                  f"{'identical trajectory' if same_traj else 'DIFFERENT'}" if eng_sum is not None else "-")
    table.add_row("solved threshold", f">= {args.threshold:g}: Python {'yes' if solved_py else 'NO'}, "
                  f"Godot {'yes' if solved_eng else 'NO'}")
    table.add_row("wall time (whole demo)", _fmt_s(total))
    table.add_row("policy", _rel(policy_path))
    if not args.skip_training:
        table.add_row("learning curve", _rel(output / "learning_curve.png"))
    console.print(table)
    console.print(f"[bold]Return reached in-engine: {eng.mean():.1f}   measured in Python: {py.mean():.1f}[/]")

    summary = {
        "threshold": args.threshold, "episodes": args.episodes, "seed": args.seed, "play_seed": args.play_seed,
        "agents": args.agents, "engines": args.engines, "train_steps": story.train_steps,
        "train_seconds": story.train_seconds, "solved_at_steps": story.solved_at, "solved_seconds": story.solved_time,
        "evaluations": story.evals, "python_returns": story.python_returns, "engine": story.engine_result,
        "python_mean_return": float(py.mean()), "engine_mean_return": float(eng.mean()) if len(eng) else None,
        "identical_episodes": same, "python_obs_checksum": story.python_checksum,
        "identical_first_trajectory": same_traj, "solved": solved_py and solved_eng, "stages_seconds": story.stages,
        "wall_seconds": total, "policy": str(policy_path),
    }
    (output / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if story.episodes:
        with open(output / "episodes.csv", "w") as f:
            f.write("agent_steps,return\n")
            f.writelines(f"{s},{r:g}\n" for s, r in story.episodes)
    if solved_py and solved_eng:
        console.print(f"[bold green]SOLVED[/] in {_fmt_s(total)}: watch it with "
                      f"`{story.godot_path} --path {_rel(policy_path.parent)}` (the main scene plays policy.jit)")
        return 0
    console.print("[bold red]NOT SOLVED[/]")
    return 1
