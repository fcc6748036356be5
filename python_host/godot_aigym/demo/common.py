"""What the demo's stages share: the scenes, the thresholds, PPO's settings, the story being told."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRAIN_SCENE = "res://envs/cartpole/cartpole.tscn"
PLAY_SCENE = "res://envs/cartpole/play.tscn"
THRESHOLD = 475.0
MAX_RETURN = 500.0

# PPO for cart-pole, as tuned by rl-baselines3-zoo (CartPole-v1), learning rate and clip range
# decaying linearly to 0 over the step budget.
PPO_PARAMS = dict(n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0)
LEARNING_RATE = 1e-3
CLIP_RANGE = 0.2


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



def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
