"""The learning-curve PNG of the demo (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


def learning_curve(path: Path, episodes: Sequence[tuple[int, float]], evals: Sequence[tuple[int, float]], *,
                   threshold: float, max_return: float | None, title: str, solved_at: int | None) -> Path:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    if episodes:
        steps = np.array([s for s, _ in episodes], dtype=np.float64)
        rets = np.array([r for _, r in episodes], dtype=np.float64)
        ax.scatter(steps, rets, s=3, alpha=0.25, color="tab:blue", label="training episodes", linewidths=0)
        window = max(1, min(100, len(rets) // 10 or 1))
        kernel = np.ones(window) / window
        if len(rets) >= window:
            smooth = np.convolve(rets, kernel, mode="valid")
            ax.plot(steps[window - 1:], smooth, color="tab:blue", lw=2, label=f"mean of {window} episodes")
    if evals:
        ax.plot([s for s, _ in evals], [r for _, r in evals], "o-", color="tab:green", ms=5,
                label="deterministic evaluation")
    ax.axhline(threshold, ls="--", color="tab:red", lw=1, label=f"solved threshold ({threshold:g})")
    if solved_at is not None:
        ax.axvline(solved_at, ls=":", color="tab:gray", lw=1)
        ax.annotate(f"solved at {solved_at:,} steps", (solved_at, 0.45 * threshold), textcoords="offset points",
                    xytext=(-6, 0), ha="right", fontsize=9, color="tab:gray")
    ax.set_xlabel("agent steps")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:,.0f}"))
    ax.set_ylabel("episode return")
    if max_return:
        ax.set_ylim(0, max_return * 1.05)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
