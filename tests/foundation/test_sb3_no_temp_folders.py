"""SB3's default logger makes an empty `SB3-<date>` folder in the temporary directory on every
`learn()`, and nothing removes it. Our training code gives SB3 `folderless_logger()` instead.

Parallel-safe: each test points Python's temporary directory at a private folder and looks only
there (other processes' SB3 runs never write into it)."""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from rich.console import Console  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402

from godot_aigym.env.sb3 import folderless_logger  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from demo_fixtures import prepared_demo  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))  # gettempdir() caches the first answer
    monkeypatch.delenv("SB3_LOGDIR", raising=False)
    return folder


def _tiny_ppo():
    import gymnasium as gym
    return PPO("MlpPolicy", gym.make("CartPole-v1"), n_steps=16, batch_size=16, n_epochs=1, device="cpu", seed=0)


def test_sb3_default_logger_makes_a_folder_that_folderless_logger_does_not(private_tmp):
    _tiny_ppo().learn(16)
    assert [p.name for p in private_tmp.iterdir() if p.name.startswith("SB3-")], \
        "SB3 no longer makes a folder by default: this test no longer shows the leak it guards against"
    for p in list(private_tmp.iterdir()):
        p.rmdir()
    model = _tiny_ppo()
    model.set_logger(folderless_logger())
    model.learn(32)
    assert model.num_timesteps >= 32
    assert list(private_tmp.iterdir()) == []


def test_demo_training_leaves_no_sb3_folder(private_tmp, godot):
    from godot_aigym.demo.common import Story
    from godot_aigym.demo.training import _train

    args = argparse.Namespace(agents=2, engines=1, episodes=1, seed=0, max_steps=64, time_budget=600.0,
                              threshold=475.0)
    model = _train(args, Console(quiet=True), Story(), prepared_demo(godot), godot)
    assert model.num_timesteps >= 64
    assert [p.name for p in private_tmp.iterdir() if p.name.startswith("SB3-")] == []


def test_every_learn_call_in_our_code_and_tests_sets_a_logger_first():
    """The cheap guard for the call sites not run here (tests of other folders, the pixel demo,
    the install test's training script): each `.learn(` follows a `set_logger(` in its file."""
    missing = []
    for path in [*(REPO / "python_host").rglob("*.py"), *(REPO / "tests").rglob("*.py")]:
        if path == Path(__file__):
            continue
        text = path.read_text(errors="replace")
        for match in re.finditer(r"^[^#\n]*(\bmodel|\))\.learn\(", text, re.M):
            if "set_logger(" not in text[:match.start()]:
                missing.append(f"{path.relative_to(REPO)}:{text.count(chr(10), 0, match.start()) + 1}")
    assert not missing, f"learn() without a folderless logger: {missing}"
