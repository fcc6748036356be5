"""MultiDiscrete action spaces, end to end on the dials scene (a combination lock, agent-node
callbacks): spaces, exact dynamics, action checking, the vector env, and play mode, where
GDScript turns a TorchScript policy's logits into one action per dimension."""

from __future__ import annotations

import json
import warnings

import gymnasium
import numpy as np
import pytest
from env_testutil import DIALS
from gymnasium.utils.env_checker import check_env

from godot_aigym.engine import GodotProcess, LaunchOptions
from godot_aigym.env import GodotEnv, GodotVectorEnv

NVEC = [3, 3, 3]


def greedy(obs: np.ndarray) -> np.ndarray:
    """Turn every dial towards its code: obs is (position - code) / 9 per dial."""
    return (1 - np.sign(np.round(obs * 9))).astype(np.int64)


@pytest.fixture(scope="module")
def dials(demo):
    env = GodotEnv(demo, DIALS, seed=11)
    yield env
    env.close()


def test_spaces_and_gymnasium_checker(dials):
    assert dials.action_space == gymnasium.spaces.MultiDiscrete(NVEC)
    assert dials.observation_space == gymnasium.spaces.Box(-1.0, 1.0, (3,), np.float32)
    assert dials.env_spec.action_width == 3 and not dials.env_spec.discrete
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(dials, skip_render_check=True)
    assert not [str(w.message) for w in caught]


def test_every_dial_moves_as_told_and_the_lock_opens(dials):
    obs, _ = dials.reset(seed=5)
    first = obs.copy()
    d = np.round(obs * 9).astype(int)
    total, steps = 0.0, 0
    rng = np.random.default_rng(0)
    for _ in range(6):  # random turns: each dial moves by action - 1 unless it is at 0 or 9
        a = rng.integers(0, 3, 3)
        obs, reward, terminated, truncated, _ = dials.step(a)
        moved = np.round(obs * 9).astype(int) - d
        assert all(m == step or m == 0 for m, step in zip(moved, a - 1)), (a, moved)
        d = np.round(obs * 9).astype(int)
        assert reward == pytest.approx(-np.abs(d).sum() / 9, abs=1e-6)
        total, steps = total + reward, steps + 1
        if terminated:
            break
    while not (d == 0).all():  # greedy turns never hit a stop: every dial closes in on its code
        obs, reward, terminated, truncated, _ = dials.step(greedy(obs))
        new = np.round(obs * 9).astype(int)
        assert (np.abs(new) == np.maximum(np.abs(d) - 1, 0)).all()
        d, steps = new, steps + 1
        assert terminated == (d == 0).all() and not truncated
    assert reward == 0.0 and steps <= 6 + 9
    again, _ = dials.reset(seed=5)
    assert np.array_equal(again, first)  # same seed, same lock


@pytest.mark.parametrize("bad", [[3, 0, 0], [-1, 1, 1], [1, 1], [[1, 1, 1]], [0.5, 1, 1], [np.nan, 1, 1], "abc", None])
def test_bad_actions_are_refused_and_the_env_stays_usable(dials, bad):
    dials.reset(seed=1)
    with pytest.raises(ValueError, match=r"MultiDiscrete\(\[3 3 3\]\)"):
        dials.step(bad)
    obs, *_ = dials.step(np.array([1.0, 1.0, 1.0]))  # integral floats are fine
    assert obs.shape == (3,)


def test_vector_env_opens_every_lock(demo, no_leaks):
    venv = GodotVectorEnv(demo, DIALS, n_agents=3, n_engines=2, seed=4)
    try:
        assert venv.single_action_space == gymnasium.spaces.MultiDiscrete(NVEC)
        assert venv.action_space.shape == (6, 3)
        obs, _ = venv.reset(seed=4)
        with pytest.raises(ValueError, match="sub-environment 4"):
            bad = np.ones((6, 3), np.int64)
            bad[4, 2] = 3
            venv.step(bad)
        opened = np.zeros(6, bool)
        for _ in range(10):
            obs, reward, terminated, truncated, _ = venv.step(greedy(obs))
            opened |= terminated
            assert not truncated.any()
        assert opened.all()
    finally:
        venv.close()


@pytest.fixture
def greedy_policy(tmp_path):
    torch = pytest.importorskip("torch")

    class Greedy(torch.nn.Module):
        """Logits per dial [down, stay, up]: the best one turns the dial towards its code."""

        def forward(self, obs):
            d = obs * 10.0
            return torch.stack([d, 0.5 - d.abs(), -d], dim=2).reshape(obs.shape[0], 9)

    path = tmp_path / "greedy.jit"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.jit.trace(Greedy().eval(), torch.zeros(1, 3)).save(str(path))
    return path


def _play(demo, godot, policy, seed: int, episodes: int) -> tuple[int, str]:
    options = LaunchOptions(project=demo, scene=DIALS, seed=seed, headless=True, fixed_fps=50,
                            user_args=("--play", "--policy", str(policy), "--play-episodes", str(episodes)))
    with GodotProcess(options, godot=godot) as proc:
        code = proc.wait(timeout=120)
        return code, proc.log()


def test_play_mode_takes_one_argmax_per_dimension(demo, godot, dials, greedy_policy, no_leaks):
    code, log = _play(demo, godot, greedy_policy, seed=21, episodes=4)
    lines = [ln for ln in log.splitlines() if ln.startswith("AIGYM_PLAY_RESULT ")]
    assert code == 0 and lines, log[-2000:]
    result = json.loads(lines[0].split(" ", 1)[1])
    # The same episodes, played by Python with the same greedy rule on the same seed (the module's
    # engine: a reset with a seed starts the same episodes whatever came before).
    lengths, returns = [], []
    obs, _ = dials.reset(seed=21)
    for ep in range(4):
        if ep:
            obs, _ = dials.reset()
        total, n, done = 0.0, 0, False
        while not done:
            obs, reward, terminated, truncated, _ = dials.step(greedy(obs))
            total, n, done = total + reward, n + 1, terminated or truncated
        lengths.append(n)
        returns.append(total)
    assert result["lengths"] == lengths and max(lengths) <= 9
    assert result["returns"] == pytest.approx(returns, rel=1e-5)


def test_play_mode_refuses_policies_that_do_not_fit_the_spaces(demo, godot, tmp_path, no_leaks):
    torch = pytest.importorskip("torch")
    from godot_aigym.torch_export import export_policy

    four_outputs = tmp_path / "four.jit"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.jit.trace(torch.nn.Linear(3, 4).eval(), torch.zeros(1, 3)).save(str(four_outputs))
    five_inputs = export_policy(torch.nn.Linear(5, 9), torch.zeros(1, 5), tmp_path / "five.jit")
    for path, message in ((four_outputs, "outputs 4 values per observation; the action space needs 9"),
                          (five_inputs, "takes 5 values per observation; the observation space has 3")):
        code, log = _play(demo, godot, path, seed=1, episodes=1)
        assert code != 0 and message in log, log[-1500:]
