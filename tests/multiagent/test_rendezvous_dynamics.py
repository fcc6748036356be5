"""The rendezvous scene's known dynamics through the batch API (GodotGroupEnv), exactly: positions
read from the first observations, moves, clamping, rewards, termination, autoreset and masks."""

from __future__ import annotations

import numpy as np
import pytest
from ma_testutil import RENDEZVOUS

from godot_aigym.multiagent import GodotGroupEnv

STEP, RADIUS, TIME_COST, BONUS = 0.1, 0.1, 0.01, 1.0
MOVES = np.array([[0, 0], [STEP, 0], [-STEP, 0], [0, STEP], [0, -STEP]], np.float32)


class Model:
    """The scene's rules in float32, from the state the first observations reveal."""

    def __init__(self, obs):
        s, r = obs["scout"], obs["runner"]
        self.scout = s[:, :2].astype(np.float32)
        self.goal = (s[:, :2] + s[:, 2:4]).astype(np.float32)
        self.runner = r[:, :2].astype(np.float32)

    def step(self, scout_actions, runner_actions):
        d_s0, d_r0 = self._dist(self.scout), self._dist(self.runner)
        self.scout = np.clip(self.scout + MOVES[scout_actions], -1, 1).astype(np.float32)
        self.runner = np.clip(self.runner + np.float32(STEP) * np.clip(runner_actions, -1, 1), -1, 1).astype(np.float32)
        d_s, d_r = self._dist(self.scout), self._dist(self.runner)
        met = (d_s < RADIUS) & (d_r < RADIUS)
        bonus = np.where(met, BONUS, 0.0)
        return {"scout": d_s0 - d_s - TIME_COST + bonus, "runner": d_r0 - d_r - TIME_COST + bonus}, met

    def _dist(self, p):
        return np.hypot(*(p - self.goal).T)

    def obs(self):
        return {"scout": np.hstack([self.scout, self.goal - self.scout]),
                "runner": np.hstack([self.runner, self.goal - self.runner, self.scout - self.runner])}


@pytest.fixture(scope="module")
def env(module_leak_check):
    env = GodotGroupEnv(scene=RENDEZVOUS, n_copies=3, seed=2, autoreset_mode="disabled")
    yield env
    env.close()


def test_groups_and_spaces(env):
    assert env.group_names == ["scout", "runner"] and env.policies == {"scout": "scout", "runner": "runner"}
    assert env.n_group_agents == {"scout": 3, "runner": 3}
    assert env.group_specs["runner"].offset == 3 and env.env_spec.obs_dim == 6 and env.env_spec.action_width == 2


def test_exact_dynamics_and_rewards(env):
    obs = env.reset(seed=7)
    model = Model(obs)
    rng = np.random.default_rng(1)
    for t in range(30):
        sa = rng.integers(0, 5, 3)
        ra = rng.uniform(-1, 1, (3, 2)).astype(np.float32)
        obs, rew, term, trunc = env.step({"scout": sa, "runner": ra})
        expected_rew, met = model.step(sa, ra)
        for g, want in model.obs().items():
            np.testing.assert_allclose(obs[g], want, atol=2e-6)
            np.testing.assert_allclose(rew[g], expected_rew[g], atol=2e-6)
            np.testing.assert_array_equal(term[g], met)
            assert not trunc[g].any()
        if met.any():
            break


def test_reaching_the_goal_ends_both_episodes_with_the_bonus(env):
    obs = env.reset(seed=8)
    model = Model(obs)
    for t in range(49):  # steer both straight at the goal: the runner exactly, the scout greedily
        s_off = model.goal - model.scout
        sa = np.where(np.abs(s_off[:, 0]) >= np.abs(s_off[:, 1]), np.where(s_off[:, 0] > 0, 1, 2),
                      np.where(s_off[:, 1] > 0, 3, 4))
        sa = np.where(np.hypot(*s_off.T) < RADIUS, 0, sa)
        ra = np.clip((model.goal - model.runner) / STEP, -1, 1).astype(np.float32)
        obs, rew, term, trunc = env.step({"scout": sa, "runner": ra})
        expected, met = model.step(sa, ra)
        np.testing.assert_array_equal(term["scout"], met)
        np.testing.assert_array_equal(term["runner"], met)
        if met.all():
            assert (rew["scout"] > BONUS - TIME_COST - STEP).all() and (rew["runner"] > BONUS - TIME_COST - STEP).all()
            break
    else:
        pytest.fail("the agents did not meet at the goal")


def test_masked_reset_restarts_only_the_masked_agents(env):
    first = env.reset(seed=9)
    env.step({"scout": np.array([1, 1, 1]), "runner": np.ones((3, 2), np.float32)})
    moved = env.step({"scout": np.array([0, 0, 0]), "runner": np.zeros((3, 2), np.float32)}).obs
    obs = env.reset(mask={"runner": np.array([False, True, False])})
    np.testing.assert_array_equal(obs["scout"], moved["scout"])
    np.testing.assert_array_equal(obs["runner"][[0, 2]], moved["runner"][[0, 2]])
    assert not np.array_equal(obs["runner"][1, :2], moved["runner"][1, :2])
    assert not np.array_equal(obs["runner"][1, :2], first["runner"][1, :2])  # new draws, not the seed's
    with pytest.raises(ValueError, match="unknown agent groups"):
        env.reset(mask={"chaser": [True]})
    with pytest.raises(ValueError, match="must be 3 booleans"):
        env.reset(mask={"scout": [True]})


def test_two_engines_same_step_autoreset(module_leak_check):
    with GodotGroupEnv(scene=RENDEZVOUS, n_copies=1, n_engines=2, autoreset_mode="same_step") as env:
        assert env.n_group_agents == {"scout": 2, "runner": 2}
        obs = env.reset(seed=4)
        again = GodotGroupEnv(scene=RENDEZVOUS, n_copies=1, seed=5)  # engine 1 of the pair is seeded 4 + 1
        try:
            one = again.reset(seed=5)
            np.testing.assert_array_equal(obs["runner"][1], one["runner"][0])
        finally:
            again.close()
        still = {"scout": np.zeros(2, np.int64), "runner": np.zeros((2, 2), np.float32)}
        for t in range(50):
            step = env.step(still)
        assert step.truncated["scout"].all() and step.truncated["runner"].all()
        np.testing.assert_array_equal(step.final_obs["scout"], obs["scout"])  # nobody moved
        assert not np.array_equal(step.obs["scout"], obs["scout"])  # restarted in the same step
