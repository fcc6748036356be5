"""`godot-aigym demo --env reach`, as a short smoke (the full training is run by hand: see
docs/DEMO.md, "Reach"): it trains one rollout (4 agents x PPO's n_steps 64 = 256 steps,
the smallest learn() SB3 runs), writes the curve, the model and a video, and plays the exported
policy from Python and in the engine: the same seeded episodes give the same returns (the engine's
cTorchModel acting on its own camera frames as the exported CNN does on the frames Python sees);
3 of them (`--play-episodes`; the demo's default is 10: the same comparison, 7 x 2 episodes less
of rendering engines stepping)."""

from __future__ import annotations

import re

import imageio.v3 as iio
import pytest

from godot_aigym.demo import main
from godot_aigym.demo.pixels import build_parser


def test_reach_demo_smoke_writes_curve_model_and_video(display, tmp_path, capsys):
    code = main(["--env", "reach", "--agents", "4", "--max-steps", "256", "--output", str(tmp_path),
                 "--play-episodes", "3"])
    assert code == 1  # one rollout does not solve it (no 100 episodes yet): the exit code says so
    out = capsys.readouterr().out
    # Python == Godot over 3 seeded episodes, returns and lengths (the line also says how many
    # distinct greedy actions Python's side took: 2 here after one rollout; not asserted, as it
    # depends on the training's numerics)
    assert re.search(r"3 greedy episodes \(seed 2024, \d+ distinct actions in Python\).*the same returns and lengths", out), out
    assert (tmp_path / "reach_learning_curve.png").stat().st_size > 0
    assert (tmp_path / "reach_policy.zip").stat().st_size > 0
    frames = iio.imread(tmp_path / "reach_episode.mp4")
    assert frames.shape[1:] == (336, 336, 3) and len(frames) >= 2
    assert frames.std() > 5  # floor and tile, not a blank picture


@pytest.mark.parametrize("bad", ["0", "-2"])
def test_play_episodes_must_be_at_least_one(bad, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--play-episodes", bad])
    assert "--play-episodes: needs at least 1" in capsys.readouterr().err
