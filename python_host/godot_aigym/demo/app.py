"""The demo (`main`): train in Godot from Python, deploy in Godot without Python.

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
import os
import platform
import time
from pathlib import Path
from typing import Sequence

import numpy as np
from rich.console import Console

from .common import MAX_RETURN, THRESHOLD, TRAIN_SCENE, Story, _fmt_s, _rel


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
    ap.add_argument("--project", default=None, help="the Godot project (default: the demo project)")
    ap.add_argument("--output", default=None, help="output folder (default: ./demo_output/)")
    ap.add_argument("--policy", default=None, help="where to export the policy (default: <project>/policy.jit)")
    ap.add_argument("--skip-training", action="store_true", help="use the existing policy.jit: export and play only")
    ap.add_argument("--window", action="store_true", help="play the final episodes in a window, in real time")
    ap.add_argument("--env", choices=("cartpole", "reach"), default="cartpole",
                    help="cartpole (default) or reach: the pixel demo (godot-aigym demo --env reach --help)")
    return ap



def main(argv: Sequence[str] | None = None) -> int:
    pick = argparse.ArgumentParser(add_help=False)
    pick.add_argument("--env", choices=("cartpole", "reach"), default="cartpole")
    chosen, rest = pick.parse_known_args(argv)
    if chosen.env == "reach":  # the pixel demo (demo/pixels.py)
        from .pixels import main as pixel_main
        return pixel_main(rest)
    args = build_parser().parse_args(rest)
    console = Console(highlight=False)
    story = Story()
    try:
        return _run(args, console, story)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        return 130


def _run(args: argparse.Namespace, console: Console, story: Story) -> int:
    from ..engine import GodotProcessError
    from ..env.link import project_physics_fps
    from ..runtime import resolve_godot
    from .playback import _play_in_engine, _python_returns
    from .project import DemoProjectError, ready_demo_project
    from .report import _plot, _summary
    from .training import _actor, _train

    output = Path(args.output).resolve() if args.output else Path.cwd() / "demo_output"
    try:
        output.mkdir(parents=True, exist_ok=True)
        gitignore = output / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text("# written by godot-aigym demo\n*\n")
    except OSError as e:
        console.print(f"[red]cannot write the output folder {output} ({e.strerror or e}): choose another --output[/]")
        return 2

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
    try:
        project = ready_demo_project(args.project, godot, say=lambda msg: console.print(f"[dim]{msg}[/]"))
    except DemoProjectError as e:
        console.print(f"[red]{e}[/]")
        return 2
    policy_path = Path(args.policy).resolve() if args.policy else project / "policy.jit"
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
    else:
        try:
            torch.jit.load(str(policy_path), map_location="cpu")
        except Exception as e:  # torch raises RuntimeError/ValueError with a long C++ text
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
            console.print(f"[red]--skip-training: the policy {policy_path} does not load as TorchScript ({reason}); "
                          "export one with godot_aigym.export_policy, or train without --skip-training[/]")
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

