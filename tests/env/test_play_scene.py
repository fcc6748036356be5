"""The play scene: Godot runs policy.jit through cTorchModel with no Python involved, and
reaches exactly what Python measures with the same .jit on GodotEnv."""

from __future__ import annotations

import json

import pytest
from env_testutil import DEMO

pytest.importorskip("torch")

from godot_aigym.demo import main  # noqa: E402
from godot_aigym.demo.playback import _play_in_engine, _python_returns  # noqa: E402
from godot_aigym.env.link import project_physics_fps  # noqa: E402

POLICY = DEMO / "policy.jit"
TORCH_LIB = DEMO / "addons" / "godot_aigym" / "bin" / "libaigym_torch.linux.debug.x86_64.so"


@pytest.fixture
def policy(demo):
    if not TORCH_LIB.exists():
        pytest.skip("the TorchScript library is not built")
    assert POLICY.is_file(), "demo_project/policy.jit is missing (run `godot-aigym demo`)"
    return POLICY


def test_play_scene_matches_python(policy, godot, no_leaks):
    engine = _play_in_engine(DEMO, godot, seed=77, episodes=3, physics_fps=project_physics_fps(DEMO))
    assert engine["exit_code"] == 0 and engine["episodes"] == 3 and len(engine["returns"]) == 3
    returns, checksum = _python_returns(policy, DEMO, godot, seed=77, episodes=3)
    assert engine["returns"] == returns
    assert engine["first_episode_obs_checksum"] == pytest.approx(checksum, rel=1e-13)
    assert engine["seed"] == 77 and engine["steps"] >= sum(engine["lengths"]) - 3


def test_demo_main_without_training(policy, tmp_path, no_leaks, capsys):
    code = main(["--skip-training", "--episodes", "2", "--output", str(tmp_path)])
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["engine"]["episodes"] == 2 and len(summary["python_returns"]) == 2
    assert summary["identical_first_trajectory"]
    assert "Return reached in-engine" in out
    assert code == (0 if summary["solved"] else 1)
