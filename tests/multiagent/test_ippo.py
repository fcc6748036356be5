"""The independent-PPO check runs on the batch API end to end: rollouts, one update per group,
the per-group target, and the export of each group's actor for play mode (a short run, not a
training: the training to the documented threshold is measured in docs/MULTI_AGENT.md)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from godot_aigym.multiagent import ippo  # noqa: E402


def test_one_iteration_reaches_a_trivial_target_and_exports(tmp_path, no_leaks, capsys):
    code = ippo.main(["--copies", "2", "--horizon", "60", "--epochs", "1", "--minibatch", "64",
                      "--target", "scout=-100,runner=-100", "--export", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "SOLVED after 1 iterations, 120 steps" in out
    assert (tmp_path / "scout.jit").is_file() and (tmp_path / "runner.jit").is_file()


def test_unknown_target_group_is_refused(no_leaks):
    with pytest.raises(SystemExit, match=r"--target names unknown groups \['chaser'\]"):
        ippo.main(["--copies", "1", "--target", "chaser=1"])
