"""`runner_metrics`: the cheap get_metrics path gives what RLlib's MetricsLogger gives (no engine, no Ray)."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

# Ray and RLlib are imported in the tests, never at collection (every xdist worker collects this module)


def _metrics_logger():
    from ray.rllib.utils.metrics.metrics_logger import MetricsLogger

    return MetricsLogger()


def _filled(seed: int):
    """A runner-like logger: windowed means/mins/maxes with 0, 1 or several values (ints,
    floats, a NaN), EMA timers, sums and lifetime sums."""
    rng = np.random.default_rng(seed)
    logger = _metrics_logger()
    logger.log_value("weights_seq_no", 3, window=1)
    logger.log_value("timer", 0.25)
    logger.log_value("steps", 256, reduce="sum")
    logger.log_value(("per_agent", "a0"), 256, reduce="lifetime_sum", with_throughput=True)
    for key, reduce in (("len_mean", "mean"), ("len_min", "min"), ("len_max", "max")):
        for value in rng.integers(1, 50, rng.integers(1, 5)).tolist():  # python ints, as RLlib logs lengths
            logger.log_value(key, value, reduce=reduce, window=100)
    for key, reduce in (("ret_mean", "mean"), (("per_module", "m"), "mean"), ("ret_min", "min"), ("ret_max", "max")):
        logger.log_value(key, float(rng.normal()), reduce=reduce, window=100)  # one value
    logger.log_value("with_nan", float("nan"), window=100)
    logger.log_value("emptied", 1.0, window=100)
    logger.reduce()  # every Stats emptied ...
    for key, reduce in (("len_min", "min"), ("ret_mean", "mean"), (("per_module", "m"), "mean")):
        logger.log_value(key, np.float64(rng.normal()), reduce=reduce, window=100)  # ... some refilled with one value
    logger.log_value("len_max", np.int64(7), reduce="max", window=100)
    logger.log_value("len_mean", 4, reduce="mean", window=100)
    logger.log_value("len_mean", 9, reduce="mean", window=100)  # two values
    logger.log_value("with_nan", float("nan"), window=100)
    return logger


def _states(result: dict) -> dict:
    out = {}
    for key, value in result.items():
        if isinstance(value, dict):
            out[key] = _states(value)
        else:
            state = value.get_state()
            for k in [k for k in state if "time" in k]:  # wall-clock stamps of throughput stats
                state.pop(k)
            out[key] = (type(value), state, [type(v) for v in state.get("values", [])])
    return out


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b


@pytest.mark.parametrize("seed", range(4))
def test_reduce_metrics_is_what_metrics_logger_reduce_returns(seed):
    from godot_aigym.rllib.runner_metrics import reduce_metrics

    ours, rllibs = _filled(seed), _filled(seed)
    got, want = reduce_metrics(ours), rllibs.reduce()
    assert list(got) == list(want)
    assert _same(_states(got), _states(want))
    assert _same(_states(ours.reduce()), _states(rllibs.reduce()))  # both emptied alike


class _Episode:
    def __init__(self, length, ret, duration):
        self.length, self.ret, self.duration = length, ret, duration

    def __len__(self):
        return self.length

    def get_return(self):
        return self.ret

    def get_duration_s(self):
        return self.duration


class _Runner:
    """What `log_episode_metrics` uses of a runner: RLlib's `_log_episode_metrics` and a logger."""

    def __init__(self, window: int):
        from types import SimpleNamespace

        from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

        self.metrics = _metrics_logger()
        self.config = SimpleNamespace(metrics_num_episodes_for_smoothing=window, num_env_runners=1)
        self._log_episode_metrics = SingleAgentEnvRunner._log_episode_metrics.__get__(self)


def test_episode_metrics_pre_reduced_are_rllibs_per_episode_pushes():
    from godot_aigym.rllib.runner_metrics import log_episode_metrics, reduce_metrics

    rng = np.random.default_rng(0)
    ours, rllibs = _Runner(window=5), _Runner(window=5)
    for call in range(4):
        episodes = [_Episode(int(rng.integers(1, 500)), float(rng.normal() * 100), float(rng.random()))
                    for _ in range(int(rng.integers(1, 5)))]
        log_episode_metrics(ours, episodes)
        for ep in episodes:
            rllibs._log_episode_metrics(len(ep), ep.get_return(), ep.get_duration_s())
        assert _same(_states(reduce_metrics(ours.metrics)), _states(rllibs.metrics.reduce())), call


class _DerivingRunner(_Runner):
    """A runner whose `_log_episode_metrics` computes a value instead of routing one (the
    per-episode path), as a later RLlib might."""

    def __init__(self, window: int):
        super().__init__(window)
        routed = self._log_episode_metrics

        def log(length, ret, sec):
            routed(length, ret, sec)
            self.metrics.log_value("return_per_step", ret / length, window=window)

        self._log_episode_metrics = log


@pytest.mark.parametrize("case", ["more_than_the_window", "a_nan_return", "a_derived_value"])
def test_episode_metrics_pre_reduced_in_every_case_are_rllibs(case):
    from godot_aigym.rllib.runner_metrics import log_episode_metrics, reduce_metrics

    rng = np.random.default_rng(1)
    make = _DerivingRunner if case == "a_derived_value" else _Runner
    ours, rllibs = make(window=3), make(window=3)
    for call in range(3):
        episodes = [_Episode(int(rng.integers(1, 500)), float(rng.normal() * 100), float(rng.random()))
                    for _ in range(int(rng.integers(4, 8)))]
        if case == "a_nan_return":
            episodes[-1].ret = float("nan")
        log_episode_metrics(ours, episodes)
        for ep in episodes:
            rllibs._log_episode_metrics(len(ep), ep.get_return(), ep.get_duration_s())
        assert _same(_states(reduce_metrics(ours.metrics)), _states(rllibs.metrics.reduce())), call


def test_metrics_result_crosses_pickling_as_a_plain_dict():
    from godot_aigym.rllib.runner_metrics import MetricsResult, reduce_metrics

    result = reduce_metrics(_filled(0))
    assert isinstance(result, MetricsResult)
    back = pickle.loads(pickle.dumps(result))
    assert type(back) is dict
    assert _same(_states(back), _states(_filled(0).reduce()))
