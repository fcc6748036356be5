"""The demo: train in Godot from Python, deploy in Godot without Python (`godot-aigym demo`).

Needs the `demo` extra (`pip install 'godot-aigym[demo]'`: torch, Stable-Baselines3, matplotlib).
The stages live in their own modules, so importing one (e.g. `demo.plot`) loads only that one:
`app` (arguments, the story from set-up to summary), `training` (PPO), `playback` (the exported
policy from Python and in the engine), `report` (plot, table, files), `plot` (the learning-curve
PNG), `project` (the demo project: the checkout's, or a prepared copy when installed), `common`
(what the stages share: scenes, thresholds, PPO's settings); `pixels`: the pixel demo
(`godot-aigym demo --env reach`, PPO's CnnPolicy on camera frames).
"""

from __future__ import annotations

from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo with command-line arguments `argv`; the exit code (0: solved in Python and in Godot)."""
    from .app import main as app_main

    return app_main(argv)


__all__ = ["main"]
