"""The greedy evaluation `train` runs after every iteration: one engine kept open (`EpisodePlayer`)
plays the same fresh seeded episodes as a new engine would, every time; an evaluation that can no
longer reach the threshold stops early (None), one that can gives the full returns."""

from __future__ import annotations

import numpy as np
import pytest

from godot_aigym.rllib.train import MAX_RETURN, EpisodePlayer, _plain_actor, episode_returns, greedy_act


def balance(obs: np.ndarray, _vec) -> np.ndarray:
    """Push the cart towards where the pole falls (angle + angular velocity): a decent policy."""
    return (obs[:, 2] + obs[:, 3] > 0).astype(np.int64)


def push_left(obs: np.ndarray, _vec) -> np.ndarray:
    return np.zeros(len(obs), np.int64)


def random_act(_obs: np.ndarray, vec) -> np.ndarray:
    return vec.action_space.sample()


def test_a_kept_engine_plays_the_fresh_engines_episodes_every_time():
    fresh = {act: episode_returns(act, episodes=8, seed=7) for act in (balance, random_act)}
    with EpisodePlayer(episodes=8, seed=7) as player:
        for _ in range(2):  # in between, the engine played on: each play starts over from the seed
            for act in (random_act, balance, push_left):
                returns = player.play(act)
                if act in fresh:
                    assert returns == fresh[act], act.__name__
    assert np.mean(fresh[balance]) > 3 * np.mean(fresh[random_act]), fresh


def test_an_evaluation_stops_once_the_threshold_is_out_of_reach():
    with EpisodePlayer(episodes=8, seed=7) as player:
        full = {act: player.play(act) for act in (balance, push_left)}
        for act, returns in full.items():
            for threshold in (min(returns), np.mean(returns), np.mean(returns) + 1, MAX_RETURN):
                cut = player.play(act, unless_below=threshold, max_return=MAX_RETURN)
                if np.mean(returns) >= threshold:
                    assert cut == returns, (act.__name__, threshold)
                else:
                    assert cut is None, (act.__name__, threshold, returns)
        # early: with the largest return as threshold the first episode to end (one reward of 1
        # per step) leaves the mean no way up, so play stops at that very step
        calls = []
        assert player.play(lambda obs, vec: calls.append(1) or push_left(obs, vec),
                           unless_below=MAX_RETURN, max_return=MAX_RETURN) is None
        assert len(calls) == min(full[push_left]) < MAX_RETURN, (len(calls), full[push_left])


def test_an_evaluation_that_never_ends_raises_naming_the_cap():
    with EpisodePlayer(episodes=4, seed=7) as player:
        with pytest.raises(RuntimeError, match="max_steps=5"):
            player.play(balance, max_steps=5)
        assert player.play(push_left) is not None  # the engine is still usable


@pytest.mark.parametrize("shared", [True, False])
def test_the_greedy_action_is_the_modules_argmax(shared):
    """`greedy_act`'s plain torch path (RLlib's default PPO module) picks what the module's own
    forward_inference picks, with the value layers shared or not."""
    import gymnasium as gym
    import torch
    from ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module import DefaultPPOTorchRLModule
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    torch.manual_seed(0)  # the same initial weights every run
    module = RLModuleSpec(module_class=DefaultPPOTorchRLModule,
                          observation_space=gym.spaces.Box(-5, 5, (4,), np.float32), action_space=gym.spaces.Discrete(3),
                          model_config=DefaultModelConfig(fcnet_hiddens=[16, 16], vf_share_layers=shared)).build()
    assert _plain_actor(module) is not None
    obs = np.random.default_rng(0).normal(scale=3.0, size=(256, 4)).astype(np.float32)
    with torch.no_grad():
        expected = module.forward_inference({"obs": torch.as_tensor(obs)})["action_dist_inputs"].argmax(-1).numpy()
    assert (greedy_act(module)(obs, None) == expected).all()
    assert len(set(expected)) > 1  # not a trivial policy
