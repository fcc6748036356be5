"""GodotEnvRunner's batch sampling (arrays per vector step, episodes built in bulk) returns what
RLlib's own per-agent loop returns for the same seed and weights: the same episodes, chunks,
extra model outputs and step counts, continued across sample() calls."""

from __future__ import annotations

import os
import pickle
import signal

import gymnasium as gym
import numpy as np
import pytest

import godot_aigym.rllib as godot_rllib  # its names import RLlib on first use, in the test that uses them
from godot_aigym.rllib.train import build_config

from rllib_testutil import assert_nothing_left

TRIVIAL = "godot_aigym/Trivial-v0"
CARTPOLE = "godot_aigym/CartPole-v0"
LIMIT = 5


@pytest.fixture(autouse=True, scope="module")
def _ray(local_ray):
    yield


def _runner(env=TRIVIAL, agents=4, seed=7, batch=True, **env_config):
    config = build_config(env, env_runners=0, agents=agents, engines=1, seed=seed,
                          env_config={"max_episode_steps": LIMIT, **env_config}, fragment=LIMIT)
    runner = godot_rllib.GodotEnvRunner(config=config)
    if batch == "actor":  # what a runner in a Ray actor returns: arrays, episodes built where unpickled
        runner._godot_in_actor = True
    elif not batch:
        runner._godot_batch_blocker = "forced by the test: RLlib's per-agent loop"
    return runner


def _sample(runner, **kwargs):
    episodes = runner.sample(**kwargs)
    if runner._godot_in_actor:
        from godot_aigym.rllib.batch_rollout import EpisodeBatch

        assert isinstance(episodes, EpisodeBatch) and len(episodes) == 0
        episodes = pickle.loads(pickle.dumps(episodes))
        assert type(episodes) is list
    return episodes


def _rows(episodes):
    """Everything RLlib's learner reads from an episode, comparable across runs (ids differ)."""
    rows = []
    for ep in episodes:
        extra = {k: np.asarray(ep.get_extra_model_outputs(k)) for k in sorted(ep.extra_model_outputs)}
        rows.append((np.asarray(ep.get_observations()), np.asarray(ep.get_actions()), np.asarray(ep.get_rewards()),
                     ep.is_terminated, ep.is_truncated, ep.t_started, extra))
    return rows


def _assert_same(batched, rllib):
    assert len(batched) == len(rllib)
    for b, r in zip(batched, rllib):  # in RLlib's order: finished episodes as they ended, then ongoing chunks
        for x, y in zip(b[:3], r[:3]):
            np.testing.assert_allclose(x, y, rtol=1e-6)
        assert b[3:6] == r[3:6]
        assert b[6].keys() == r[6].keys(), (b[6].keys(), r[6].keys())
        for k in b[6]:
            np.testing.assert_allclose(b[6][k], r[6][k], rtol=1e-5, atol=1e-6, err_msg=k)


@pytest.mark.parametrize("explore", [False, True])
def test_batch_sampling_returns_what_rllibs_loop_returns(explore):
    runs, engines = [], set()
    for batch in ("actor", True, False):
        runner = _runner(batch=batch)
        try:
            assert (runner.godot_info()["batch_sampling_blocker"] is None) == bool(batch)
            engines |= set(runner.godot_info()["engine_pids"])
            calls = [_sample(runner, num_timesteps=n, explore=explore) for n in (7, 13, 4)]
            metrics = runner.get_metrics()
            runs.append((calls, int(metrics["num_env_steps_sampled_lifetime"]), float(metrics["episode_return_mean"])))
        finally:
            runner.stop()
    (actor, n_a, ret_a), (batched, n_b, ret_b), (rllib, n_r, ret_r) = runs
    assert n_a == n_b == n_r == sum(len(e) for call in batched for e in call)
    assert ret_a == pytest.approx(ret_r) and ret_b == pytest.approx(ret_r)
    for a, b, r in zip(actor, batched, rllib):
        _assert_same(_rows(b), _rows(r))
        _assert_same(_rows(a), _rows(r))
    assert_nothing_left(set(), engines)


@pytest.mark.parametrize("random_actions", [True, False])
def test_steps_overlapped_with_the_engines_record_what_a_step_by_step_loop_records(monkeypatch, random_actions):
    """`_overlapped_steps` (the next random actions drawn and the last step recorded while the
    engines step) returns the episodes, counts and metrics of the step-by-step loop, and draws
    the same random actions: no draw for a step that is not taken."""
    from godot_aigym.rllib import batch_sampling

    runs, engines = [], set()
    for overlapped in (False, True):
        if not overlapped:
            monkeypatch.setattr(batch_sampling, "_splits_steps", lambda env: False)
        else:
            monkeypatch.undo()
        runner = _runner(env=CARTPOLE, agents=4, seed=3)
        try:
            engines |= set(runner.godot_info()["engine_pids"])
            runner.env.action_space.seed(11)
            calls = [_sample(runner, num_timesteps=n, random_actions=random_actions) for n in (7, 13, 1, 30, 4)]
            metrics = runner.get_metrics()
            runs.append((calls, int(metrics["num_env_steps_sampled_lifetime"]), float(metrics["episode_return_mean"]),
                         int(runner.env.action_space.sample()[0] * 1000 + runner.env.action_space.sample()[1])))
        finally:
            runner.stop()
    (stepwise, n_s, ret_s, next_s), (overlapped_, n_o, ret_o, next_o) = runs
    assert n_s == n_o == sum(len(e) for call in stepwise for e in call)
    assert next_o == next_s  # the same draws, as many
    assert ret_o == pytest.approx(ret_s)
    for a, b in zip(overlapped_, stepwise):
        assert [(e.t_started, len(e), e.is_done) for e in a] == [(e.t_started, len(e), e.is_done) for e in b]
        _assert_same(_rows(a), _rows(b))
    assert_nothing_left(set(), engines)


def test_numpy_episode_is_what_the_constructor_builds():
    from ray.rllib.env.single_agent_episode import SingleAgentEpisode

    from godot_aigym.rllib.episode_build import SpaceStructs, numpy_episode

    obs_space, act_space = gym.spaces.Box(-1, 1, (3,), np.float32), gym.spaces.Discrete(2)
    rng = np.random.default_rng(0)
    obs, actions, rewards = rng.random((6, 3), np.float32), rng.integers(0, 2, 5), rng.random(5)
    extras = {"action_logp": rng.random(5).astype(np.float32), "weights_seq_no": np.zeros(5)}
    fast = numpy_episode(SpaceStructs(obs_space, act_space), "e1", obs, actions, rewards, extras,
                         terminated=False, truncated=True, t_started=4, start_time=1.0, last_step_time=2.5)
    slow = SingleAgentEpisode("e1", observations=obs, infos=[{} for _ in range(6)], actions=actions, rewards=rewards,
                              terminated=False, truncated=True, extra_model_outputs=extras,
                              observation_space=obs_space, action_space=act_space, t_started=4, len_lookback_buffer=0)
    slow._start_time, slow._last_step_time = 1.0, 2.5
    fast.validate()
    a, b = fast.get_state(), slow.get_state()
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], dict) and "data" in a[k]:
            np.testing.assert_array_equal(a[k].pop("data"), b[k].pop("data"), err_msg=k)
        elif k == "extra_model_outputs":
            for name in a[k]:
                np.testing.assert_array_equal(a[k][name].pop("data"), b[k][name].pop("data"))
        assert a[k] == b[k], k
    assert len(fast) == 5 and fast.t == 9 and fast.get_return() == pytest.approx(rewards.sum())


def test_chunks_continue_across_sample_calls_and_metrics_count_whole_episodes():
    runner = _runner(env=CARTPOLE, agents=8, seed=1, batch="actor")
    engines = set(runner.godot_info()["engine_pids"])
    try:
        chunks: dict[str, list] = {}
        for _ in range(6):
            for ep in _sample(runner, num_timesteps=24, random_actions=True):
                chunks.setdefault(ep.id_, []).append(ep)
        finished = []
        for parts in chunks.values():
            for a, b in zip(parts, parts[1:]):  # a continuation starts where its predecessor stopped
                assert not a.is_done and b.t_started == a.t_started + len(a), (a.t_started, len(a), b.t_started)
                np.testing.assert_array_equal(a.get_observations(-1), b.get_observations(0))
            if parts[-1].is_done:
                finished.append(sum(p.get_return() for p in parts) if parts[0].t_started == 0 else None)
            for p in parts:
                assert np.asarray(p.get_extra_model_outputs("weights_seq_no")).shape == (len(p),)
        metrics = runner.get_metrics()
        whole = [r for r in finished if r is not None]
        assert whole and float(metrics["episode_return_mean"]) > 0
        # cart-pole: +1 per step, so a whole episode's return is its length
        assert all(r == int(r) for r in whole)
    finally:
        runner.stop()
    assert_nothing_left(set(), engines)


@pytest.mark.parametrize("relaunch", [True, False])
def test_an_engine_death_is_relaunched_in_place_or_fails_the_runner(relaunch):
    """The batch loop's env-step failure path (an engine killed between two samples: the next
    step raises): with restart_failed_sub_environments the runner relaunches its engines and that
    sample() goes on to its full length, else it fails naming the setting."""
    config = build_config(CARTPOLE, env_runners=0, agents=4, engines=1, seed=5, fragment=LIMIT)
    config.fault_tolerance(restart_failed_sub_environments=relaunch)
    runner = godot_rllib.GodotEnvRunner(config=config)
    first = runner.godot_info()["engine_pids"]
    after = []
    try:
        runner.sample(num_timesteps=40, random_actions=True)
        os.kill(first[0], signal.SIGKILL)
        if relaunch:
            episodes = runner.sample(num_timesteps=40, random_actions=True)
            after = runner.godot_info()["engine_pids"]
            assert after and after != first
            assert sum(len(e) for e in episodes) >= 40
            assert runner.get_metrics()["num_env_step_failures"] == 1
        else:
            with pytest.raises(RuntimeError, match="restart_failed_sub_environments"):
                runner.sample(num_timesteps=40, random_actions=True)
    finally:
        runner.stop()
    assert_nothing_left(set(), set(first + after))


def test_a_custom_connector_falls_back_to_rllibs_loop_by_name():
    from ray.rllib.connectors.env_to_module import MeanStdFilter

    config = build_config(TRIVIAL, env_runners=0, agents=2, engines=1, seed=0,
                          env_config={"max_episode_steps": LIMIT}, fragment=LIMIT)
    config.env_runners(env_to_module_connector=lambda env, spaces, device: MeanStdFilter())
    runner = godot_rllib.GodotEnvRunner(config=config)
    try:
        assert "MeanStdFilter" in runner.godot_info()["batch_sampling_blocker"]
        episodes = runner.sample(num_timesteps=8)
        assert sum(len(e) for e in episodes) >= 8
    finally:
        runner.stop()


EPISODE_METRICS = ("episode_len_mean", "episode_len_min", "episode_len_max", "episode_return_mean",
                   "episode_return_min", "episode_return_max", "agent_episode_return_mean",
                   "module_episode_return_mean")


def test_episode_metrics_are_rllibs_with_more_finished_episodes_than_the_window():
    """get_metrics() logs only the episodes RLlib's windows keep (the last
    metrics_num_episodes_for_smoothing), chunks of earlier calls folded in: the same metrics as
    RLlib's loop, which logs every episode."""
    runs = []
    for batch in (True, False):
        config = build_config(CARTPOLE, env_runners=0, agents=8, engines=1, seed=3,
                              env_config={"max_episode_steps": 16}, fragment=LIMIT)
        config.reporting(metrics_num_episodes_for_smoothing=3)
        runner = godot_rllib.GodotEnvRunner(config=config)
        if not batch:
            runner._godot_batch_blocker = "forced by the test: RLlib's per-agent loop"
        try:
            calls, finished = [], []
            for n in (150, 181, 135):
                runner.sample(num_timesteps=n, explore=True)
                finished.append(len(runner._done_episodes_for_metrics))
                metrics = runner.get_metrics()
                calls.append({k: _metric(metrics, k) for k in EPISODE_METRICS})
            runs.append((calls, finished))
        finally:
            runner.stop()
    (batched, finished), (rllib, _) = runs
    assert max(finished) > 3  # more finished episodes than the window holds
    assert batched == rllib


def _metric(metrics, key):
    value = metrics.get(key)
    if isinstance(value, dict):  # per agent / per module
        value = {k: float(v) for k, v in value.items()}
    return value if value is None or isinstance(value, dict) else float(value)
