"""`BatchSampling`: the sampling loop of `GodotEnvRunner`, one module call and one env step per
vector step, episodes built in bulk at the end (`batch_rollout`).

It replaces RLlib's default connector pipelines by what they compute for a stateless module on
array observations, on the whole batch at once: env-to-module = the observations as one tensor
(AddObservationsFromEpisodesToBatch, BatchIndividualItems, NumpyToTensor; no time rank, no
state); module-to-env = GetActions (sample from ACTION_DIST_INPUTS, ACTION_LOGP), TensorToNumpy,
NormalizeAndClipActions (with the pipeline's own settings). Anything else (custom connectors, a
stateful module, dict observations, per-episode callbacks) falls back to RLlib's per-agent loop,
which runs those connectors: `batch_sampling_blocker` says why.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from typing import Any

import numpy as np
from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.core.columns import Columns
from ray.rllib.env.env_runner import NUM_ENV_STEP_FAILURES_LIFETIME
from ray.rllib.utils.metrics import ENV_STEP_TIMER, RLMODULE_INFERENCE_TIMER, WEIGHTS_SEQ_NO
from ray.rllib.utils.numpy import convert_to_numpy
from ray.rllib.utils.spaces.space_utils import clip_action, unsquash_action

from .batch_rollout import EpisodeBatch, EpisodeSummary, OpenEpisodes, Rollout
from .runner_metrics import log_episode_metrics, reduce_metrics

logger = logging.getLogger(__name__)

DEFAULT_ENV_TO_MODULE = ("AddObservationsFromEpisodesToBatch", "AddTimeDimToBatchAndZeroPad",
                         "AddStatesFromEpisodesToBatch", "BatchIndividualItems", "NumpyToTensor")
DEFAULT_MODULE_TO_ENV = ("GetActions", "TensorToNumpy", "UnBatchToIndividualItems",
                         "RemoveSingleTsTimeRankFromBatch", "NormalizeAndClipActions", "ListifyDataForVectorEnv")
EPISODE_CALLBACKS = ("on_episode_created", "on_episode_start", "on_episode_step", "on_episode_end")


def batch_sampling_blocker(runner: Any) -> str | None:
    """Why ``runner`` must use RLlib's per-agent sampling loop, or None when the batch loop
    computes exactly what it would."""
    import gymnasium as gym

    if runner.env is None:
        return "this runner has no environment (the algorithm's local runner)"
    names = tuple(type(c).__name__ for c in runner._env_to_module.connectors)
    if names != DEFAULT_ENV_TO_MODULE:
        return f"env-to-module connectors {names} are not RLlib's defaults"
    names = tuple(type(c).__name__ for c in runner._module_to_env.connectors)
    if names != DEFAULT_MODULE_TO_ENV:
        return f"module-to-env connectors {names} are not RLlib's defaults"
    if runner.module is None or runner.module.is_stateful():
        return "the RLModule is stateful (or missing)"
    if not isinstance(runner.env.single_observation_space, gym.spaces.Box):
        return f"observation space {runner.env.single_observation_space} is not a Box"
    for which in EPISODE_CALLBACKS:
        if _has_callback(runner, which):
            return f"a {which} callback needs every episode step as an episode object"
    if not runner.episodes_to_numpy:
        return "episodes_to_numpy is off"
    return None


def _has_callback(runner: Any, which: str) -> bool:
    return getattr(runner.config, f"callbacks_{which}", None) is not None or any(
        getattr(type(cb), which) is not getattr(RLlibCallback, which) for cb in runner._callbacks)


class BatchSampling:
    """Mixin for a `SingleAgentEnvRunner` subclass (before it in the bases)."""

    _godot_open: OpenEpisodes | None = None

    def _sample(self, *, num_timesteps: int | None = None, num_episodes: int | None = None, explore: bool,
                random_actions: bool = False, force_reset: bool = False):
        if self._godot_batch_blocker is not None:
            episodes = super()._sample(num_timesteps=num_timesteps, num_episodes=num_episodes, explore=explore,
                                       random_actions=random_actions, force_reset=force_reset)
            self._godot_sampled += sum(len(e) for e in episodes)
            return episodes
        if force_reset or num_episodes is not None or self._needs_initial_reset or self._godot_open is None:
            self._batch_reset()
        if num_episodes is not None:
            self._needs_initial_reset = True  # as RLlib: episodes are sampled from fresh resets
        ts = eps = 0
        failed_parts = []
        rollout = Rollout(self._godot_open, {WEIGHTS_SEQ_NO: self._weights_seq_no})
        # per step: no method of this object (in a Ray actor each goes through Ray's tracing wrapper)
        random_space = self.env.action_space if random_actions else None  # looked up once, not per step
        policy = None if random_actions else _plain(self, "_batch_actions")
        env_step, add, no_extras = self.env.unwrapped.step, rollout.add, {}
        overlapped = num_timesteps is not None and _splits_steps(self.env.unwrapped)  # our vector env
        while overlapped:
            try:
                ts = _overlapped_steps(self.env.unwrapped, rollout, num_timesteps,
                                       random_space.sample if random_space is not None else None, policy, explore)
                break
            except _StepFailed as failed:  # as below
                self._env_step_failed(failed.__cause__)
                failed_parts.append(rollout.pack(*self._godot_spaces, keep_open=False)[0])
                self._batch_reset()
                rollout = Rollout(self._godot_open, {WEIGHTS_SEQ_NO: self._weights_seq_no})
                random_space = self.env.action_space if random_actions else None
        while not overlapped and ((ts < num_timesteps) if num_timesteps is not None else (eps < num_episodes)):
            if policy is None:
                actions = actions_for_env = random_space.sample()
                extras = no_extras
            else:
                actions, actions_for_env, extras = policy(rollout.obs[-1], explore, ts)
            try:  # `EnvRunner._try_env_step` without its per-step timer and counter (`_log_step_times`)
                obs, rewards, terminated, truncated, _infos = env_step(actions_for_env)
            except Exception as e:
                self._env_step_failed(e)  # raises, or relaunched the engines:
                failed_parts.append(rollout.pack(*self._godot_spaces, keep_open=False)[0])  # keep what finished
                self._batch_reset()
                rollout, ts = Rollout(self._godot_open, {WEIGHTS_SEQ_NO: self._weights_seq_no}), 0
                random_space = self.env.action_space if random_actions else None  # the new env's
                env_step, add = self.env.unwrapped.step, rollout.add
                continue
            counted, ended = add(obs, actions, rewards, terminated, truncated, extras)
            ts += counted
            eps += ended
        self._log_step_times(rollout)
        packed, self._godot_open = rollout.pack(*self._godot_spaces, keep_open=num_timesteps is not None)
        parts = failed_parts + [packed]
        num_done = 0
        for part in parts:
            for summary in part.summaries():  # what get_metrics() reads, without building episodes here
                if summary.is_done:
                    self._done_episodes_for_metrics.append(summary)
                    num_done += 1
                else:
                    self._ongoing_episodes_for_metrics[summary.id_].append(summary)
        self._log_env_steps(metric=self._metrics_num_env_steps_sampled, num_steps=ts)
        self._increase_sampled_metrics(ts, num_done)
        self._godot_sampled += ts
        if self._godot_in_actor and len(parts) == 1:
            return EpisodeBatch(packed)  # built into episodes where it is unpickled
        episodes = [ep for part in parts for ep in part.build()]
        done = [ep for ep in episodes if ep.is_done]  # RLlib's order: finished episodes, then ongoing chunks
        return done + [ep for ep in episodes if not ep.is_done]

    def get_metrics(self):
        """RLlib's metrics, computed cheaply (`runner_metrics`).

        RLlib logs 9 windowed values per finished episode (`_log_episode_metrics`, window
        ``ceil(metrics_num_episodes_for_smoothing / num_env_runners)``) into stats that keep the
        last ``window`` values and are emptied by every ``reduce()``: only the last ``window``
        episodes reach the result, so only they are logged (each with its earlier chunks folded
        in as RLlib folds them), each key as one value pre-reduced by its own Stats; the logger
        is then reduced by `reduce_metrics`. The same metrics (tested against RLlib's loop)."""
        if self._godot_batch_blocker is not None:
            return super().get_metrics()
        if self._done_episodes_for_metrics:
            window = max(1, math.ceil(self.config.metrics_num_episodes_for_smoothing
                                      / (self.config.num_env_runners or 1)))
            ongoing = self._ongoing_episodes_for_metrics
            done = self._done_episodes_for_metrics
            kept = [_folded(ep, ongoing.pop(ep.id_, None)) for ep in done][-window:] if ongoing else done[-window:]
            self._done_episodes_for_metrics.clear()
            log_episode_metrics(self, kept)
        return reduce_metrics(self.metrics)

    def _env_step_failed(self, e: Exception) -> None:
        """What `EnvRunner._try_env_step` does when a step raised: relaunch the engines
        (``restart_failed_sub_environments``) or fail this runner. The step bypasses the
        info-dict wrapper: NEXT_STEP infos are empty."""
        self.metrics.log_value(NUM_ENV_STEP_FAILURES_LIFETIME, 1, reduce="lifetime_sum")
        if self.config.restart_failed_sub_environments:
            logger.exception(f"GodotEnvRunner: environment step failed, relaunching the engines: {e}")
            self.make_env()
            return
        raise RuntimeError(f"GodotEnvRunner {self.worker_index}: environment step failed (set "
                           "fault_tolerance(restart_failed_sub_environments=True) to relaunch the engines "
                           f"instead): {e}") from e

    def _log_step_times(self, rollout: Rollout) -> None:
        steps = len(rollout.times)
        if steps > 1:
            self.metrics.log_value(ENV_STEP_TIMER, (rollout.times[-1] - rollout.times[0]) / (steps - 1))
        if steps:
            self._log_env_steps(metric=self._metrics_num_try_env_step, num_steps=steps)

    @property
    def _godot_spaces(self) -> tuple[Any, Any]:
        return self.env.single_observation_space, self.env.single_action_space

    def _batch_reset(self) -> None:
        self._ongoing_episodes_for_metrics.clear()
        obs, _ = self._try_env_reset(seed=self._seed if self._needs_initial_reset else None, options=None)
        self._godot_open = OpenEpisodes.after_reset(np.asarray(obs))
        self._needs_initial_reset = False

    def _batch_actions(self, obs: np.ndarray, explore: bool, ts: int
                       ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """(actions for the episodes, actions for the env, extra model outputs), all batched."""
        import torch

        batch = {Columns.OBS: torch.from_numpy(obs).to(self._device)}
        module = self.module
        with self.metrics.log_time(RLMODULE_INFERENCE_TIMER):
            if explore:  # RLlib's estimate of the algorithm's global step count
                runners = self.config.num_env_runners or 1
                t = (self.num_env_steps_sampled_lifetime // runners + ts) * runners
                out = module.forward_exploration(batch, t=t)
            else:
                out = module.forward_inference(batch)
        if Columns.ACTIONS not in out:  # GetActions
            dist_cls = module.get_exploration_action_dist_cls() if explore else module.get_inference_action_dist_cls()
            dist = dist_cls.from_logits(out[Columns.ACTION_DIST_INPUTS])
            if not explore:
                dist = dist.to_deterministic()
            out[Columns.ACTIONS] = dist.sample()
            if Columns.ACTION_LOGP not in out:
                out[Columns.ACTION_LOGP] = dist.logp(out[Columns.ACTIONS])
        out = convert_to_numpy(out)  # TensorToNumpy
        actions = out.pop(Columns.ACTIONS)
        return actions, _actions_for_env(self._godot_normalize_and_clip, actions), out

    def _init_batch_sampling(self) -> None:
        import ray

        self._godot_sampled = 0  # environment steps this runner process sampled
        self._godot_batch_blocker = batch_sampling_blocker(self)
        # a runner in a Ray actor hands its samples to Ray's serializer: send arrays, not episodes,
        # unless an on_sample_end callback wants to see the episodes here
        self._godot_in_actor = (ray.is_initialized() and ray.get_runtime_context().get_actor_id() is not None
                                and self._godot_batch_blocker is None and not _has_callback(self, "on_sample_end"))
        self._godot_normalize_and_clip = next(
            (c for c in self._module_to_env.connectors if type(c).__name__ == "NormalizeAndClipActions"), None)


class _StepFailed(Exception):
    """The env's step raised (``__cause__``), told apart from the policy's errors."""


def _splits_steps(env: Any) -> bool:
    """Whether ``env`` sends a step and waits for it in two calls (`GodotVectorEnv`)."""
    return callable(getattr(env, "step_async", None)) and callable(getattr(env, "step_wait", None))


def _overlapped_steps(env: Any, rollout: Rollout, num_timesteps: int, draw: Any, policy: Any, explore: bool) -> int:
    """Step ``env`` until ``num_timesteps`` counted steps are recorded in ``rollout`` (RLlib's
    count: a step's count is known from the step before it, so whether a step is the last is known
    when it is sent); returns them. While the engines step, the runner records the step before and,
    with random actions (``draw``), draws the next actions, work that otherwise waits in line with
    the engines'; with a ``policy`` its actions need the observations, so only the recording
    overlaps. The same draws in the same order as a step-by-step loop, each step's time taken
    when its answer arrives. Raises `_StepFailed` from the env's error once every step that
    completed is recorded. A function, not a method (each method of a Ray actor is wrapped)."""
    if num_timesteps <= 0:
        return 0
    step_async, step_wait, add, envs, no_extras = env.step_async, env.step_wait, rollout.add, env.num_envs, {}
    if policy is None:
        actions = for_env = draw()
        extras = no_extras
    else:
        actions, for_env, extras = policy(rollout.obs[-1], explore, 0)
    sent = envs - rollout.pending_resets  # counted steps up to the step in flight
    ts, answered, in_env = 0, None, True  # answered: the last step's results, not recorded yet
    try:
        step_async(for_env)
        while True:
            in_env = False
            last = sent >= num_timesteps
            if not last and policy is None:
                next_actions = next_for_env = draw()
                next_extras = no_extras
            if answered is not None:
                ts += add(*answered)[0]
                answered = None
            in_env = True
            obs, rewards, terminated, truncated, _infos = step_wait()
            in_env = False
            answered = (obs, actions, rewards, terminated, truncated, extras, time.perf_counter())
            if last:
                break
            if policy is not None:
                next_actions, next_for_env, next_extras = policy(obs, explore, sent)
            in_env = True
            step_async(next_for_env)
            in_env = False
            sent += envs - int(np.count_nonzero(terminated | truncated))  # the next step's resets
            actions, extras = next_actions, next_extras
    except Exception as e:
        if not in_env:  # the policy's or our own error: not the env's
            raise
        if answered is not None:
            add(*answered)
        raise _StepFailed(str(e)) from e
    return ts + add(*answered)[0]


def _folded(ep: EpisodeSummary, chunks: list | None) -> EpisodeSummary:
    """``ep`` with ``chunks``, the chunks of it returned before, added in RLlib's order
    (`get_metrics`; a function, not a method: a Ray actor's methods each go through Ray's
    tracing wrapper, ~4 us per finished episode)."""
    if not chunks:
        return ep
    length, ret, duration = len(ep), ep.get_return(), ep.get_duration_s()
    for chunk in chunks:
        length += len(chunk)
        ret += chunk.get_return()
        duration += chunk.get_duration_s()
    return EpisodeSummary(ep.id_, length, ret, duration, True)


def _actions_for_env(step: Any, actions: np.ndarray) -> np.ndarray:
    """NormalizeAndClipActions (the connector ``step``) on the batch (Box bounds broadcast over the agents)."""
    if step.normalize_actions:
        return unsquash_action(actions, step._action_space_struct)
    if step.clip_actions:
        return clip_action(actions, step._action_space_struct)
    return actions


def _plain(obj: Any, name: str) -> Any:
    """``obj.name`` bound without the wrapper Ray's actor classes put around every method
    (`ray.util.tracing.tracing_helper`, a no-op without tracing but a call layer per step)."""
    return inspect.unwrap(getattr(type(obj), name)).__get__(obj)
