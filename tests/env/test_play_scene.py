"""The play scene: Godot runs policy.jit through cTorchModel with no Python involved, and
reaches exactly what Python measures with the same .jit on GodotEnv."""

from __future__ import annotations

import json

import pytest
from env_testutil import DEMO

pytest.importorskip("torch")

from godot_aigym.demo import main  # noqa: E402

POLICY = DEMO / "policy.jit"
TORCH_LIB = DEMO / "addons" / "godot_aigym" / "bin" / "libaigym_torch.linux.debug.x86_64.so"


@pytest.fixture
def policy(demo):
    if not TORCH_LIB.exists():
        pytest.skip("the TorchScript library is not built")
    assert POLICY.is_file(), "demo_project/policy.jit is missing (run `godot-aigym demo`)"
    return POLICY


def test_demo_main_plays_the_policy_in_engine_as_python_measures_it(policy, tmp_path, no_leaks, capsys):
    """`godot-aigym demo --skip-training`: the play scene (policy.jit through cTorchModel, no
    Python) and GodotEnv + torch on the same .jit and seed reach exactly the same returns. One run
    of the demo checks both the CLI's story and the engine/Python agreement (each costs engines)."""
    code = main(["--skip-training", "--episodes", "3", "--play-seed", "77", "--output", str(tmp_path)])
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "summary.json").read_text())
    engine = summary["engine"]
    assert engine["exit_code"] == 0 and engine["episodes"] == 3 and len(engine["returns"]) == 3
    assert engine["seed"] == 77 and engine["steps"] >= sum(engine["lengths"]) - 3
    assert len(summary["python_returns"]) == 3 and engine["returns"] == summary["python_returns"]
    assert engine["first_episode_obs_checksum"] == pytest.approx(summary["python_obs_checksum"], rel=1e-13)
    assert summary["identical_first_trajectory"] and summary["identical_episodes"] == 3
    assert "Return reached in-engine" in out
    assert code == (0 if summary["solved"] else 1)
