"""PettingZoo's own API test on the rendezvous scene in a real engine, and the ParallelEnv's
agents, spaces and seeds."""

from __future__ import annotations

import numpy as np
import pytest
from ma_testutil import RENDEZVOUS
from gymnasium import spaces
from pettingzoo.test import parallel_api_test

from godot_aigym.multiagent import GodotParallelEnv


@pytest.fixture(scope="module")
def env(module_leak_check):
    env = GodotParallelEnv(scene=RENDEZVOUS, n_copies=2, seed=5)
    yield env
    env.close()


def test_pettingzoo_parallel_api_test_passes(env):
    parallel_api_test(env, num_cycles=120)


def test_agents_and_spaces_per_group(env):
    assert env.possible_agents == ["scout_0", "scout_1", "runner_0", "runner_1"]
    assert env.policies == {"scout": "scout", "runner": "runner"}
    assert env.action_space("scout_1") == spaces.Discrete(5)
    assert env.action_space("runner_0") == spaces.Box(-1, 1, (2,), np.float32)
    assert env.observation_space("scout_0").shape == (4,) and env.observation_space("runner_1").shape == (6,)
    obs, infos = env.reset(seed=1)
    assert set(obs) == set(env.possible_agents) == set(infos)
    assert all(env.observation_space(a).contains(o) for a, o in obs.items())


def test_same_seed_same_episode(env):
    def rollout(seed):
        obs, _ = env.reset(seed=seed)
        trace = [np.concatenate([obs[a] for a in env.possible_agents])]
        rng = np.random.default_rng(0)
        while env.agents:
            acts = {a: (int(rng.integers(5)) if a.startswith("scout") else rng.uniform(-1, 1, 2).astype(np.float32))
                    for a in env.agents}
            obs, rew, term, trunc, _ = env.step(acts)
            trace.append(np.array([rew[a] for a in sorted(rew)]))
        return trace

    a, b, c = rollout(11), rollout(11), rollout(12)
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_finished_agents_leave_and_step_needs_live_agents(env):
    env.reset(seed=3)
    with pytest.raises(ValueError, match="no action for the live agent 'runner_1'"):
        env.step({"scout_0": 0, "scout_1": 0, "runner_0": np.zeros(2, np.float32)})
    with pytest.raises(ValueError, match="unknown agents"):
        env.step({"nobody_0": 0})
    for not_a_dict in ([0, 0], [[0], [1]], None, np.zeros(4)):  # were "unknown agents [0, 0]" or unhashable
        with pytest.raises(TypeError, match=r"actions must be a dict \{agent: action\} \(agents: \['scout_0'"):
            env.step(not_a_dict)
    with pytest.raises(ValueError, match=r"agent group 'scout'.*outside"):
        env.step({"scout_0": 7, "scout_1": 0, "runner_0": np.zeros(2, np.float32), "runner_1": np.zeros(2, np.float32)})
    live = {"scout_0": 0, "scout_1": 0, "runner_0": np.zeros(2, np.float32), "runner_1": np.zeros(2, np.float32)}
    for agent, action, message in [  # each agent's action checked as GodotEnv checks it (were cast silently)
            ("scout_1", 1.5, r"agent 'scout_1' of agent group 'scout': action 1.5 .*Discrete\(5\): expected an integer"),
            ("scout_0", "1", r"agent 'scout_0' of agent group 'scout': action '1' .*expected an integer"),
            ("runner_0", np.zeros(3, np.float32), r"agent 'runner_0' of agent group 'runner': .*shape \(3,\).*needs \(2,\)"),
            ("runner_1", ["a", "b"], r"agent 'runner_1' of agent group 'runner': .*expected real numbers")]:
        with pytest.raises(ValueError, match=message):
            env.step({**live, agent: action})
    steps = 0
    while env.agents:  # standing still: every episode is truncated at the step limit
        _, _, term, trunc, _ = env.step({a: (0 if a.startswith("scout") else np.zeros(2, np.float32)) for a in env.agents})
        steps += 1
    assert steps == 50 and all(trunc.values()) and not any(term.values())
    with pytest.raises(RuntimeError, match="call reset"):
        env.step({})


def test_step_after_close_says_closed(no_leaks):
    env = GodotParallelEnv(scene=RENDEZVOUS)
    env.close()
    with pytest.raises(RuntimeError, match="closed; create a new GodotParallelEnv"):  # was "call reset()"
        env.step({})
    with pytest.raises(RuntimeError, match="closed"):
        env.reset()
