"""The demo's outputs: learning curve, summary table, summary.json and episodes.csv."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from .common import MAX_RETURN, Story, _fmt_s, _rel


def _plot(args, console: Console, story: Story, output: Path) -> None:
    from .plot import learning_curve

    title = (f"PPO on Godot cart-pole: {args.agents} agents x {args.engines} engine(s), "
             f"{story.train_steps:,} steps in {_fmt_s(story.train_seconds)}")
    path = learning_curve(output / "learning_curve.png", story.episodes, story.evals, threshold=args.threshold,
                          max_return=MAX_RETURN, title=title, solved_at=story.solved_at)
    console.print(f"[green]✓[/] learning curve: {_rel(path)}")


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

