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

from typing import Any

import numpy as np
from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.core.columns import Columns
from ray.rllib.env.env_runner import ENV_STEP_FAILURE
from ray.rllib.utils.metrics import RLMODULE_INFERENCE_TIMER, WEIGHTS_SEQ_NO
from ray.rllib.utils.numpy import convert_to_numpy
from ray.rllib.utils.spaces.space_utils import clip_action, unsquash_action

from .batch_rollout import OpenEpisodes, Rollout

DEFAULT_ENV_TO_MODULE = ("AddObservationsFromEpisodesToBatch", "AddTimeDimToBatchAndZeroPad",
                         "AddStatesFromEpisodesToBatch", "BatchIndividualItems", "NumpyToTensor")
DEFAULT_MODULE_TO_ENV = ("GetActions", "TensorToNumpy", "UnBatchToIndividualItems",
                         "RemoveSingleTsTimeRankFromBatch", "NormalizeAndClipActions", "ListifyDataForVectorEnv")
EPISODE_CALLBACKS = ("on_episode_created", "on_episode_start", "on_episode_step", "on_episode_end")


def batch_sampling_blocker(runner: Any) -> str | None:
    """Why ``runner`` must use RLlib's per-agent sampling loop, or None when the batch loop
    computes exactly what it would."""
    import gymnasium as gym

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
        if getattr(runner.config, f"callbacks_{which}", None) is not None or any(
                getattr(type(cb), which) is not getattr(RLlibCallback, which) for cb in runner._callbacks):
            return f"a {which} callback needs every episode step as an episode object"
    if not runner.episodes_to_numpy:
        return "episodes_to_numpy is off"
    return None


class BatchSampling:
    """Mixin for a `SingleAgentEnvRunner` subclass (before it in the bases)."""

    _godot_open: OpenEpisodes | None = None

    def _sample(self, *, num_timesteps: int | None = None, num_episodes: int | None = None, explore: bool,
                random_actions: bool = False, force_reset: bool = False):
        if self._godot_batch_blocker is not None:
            return super()._sample(num_timesteps=num_timesteps, num_episodes=num_episodes, explore=explore,
                                   random_actions=random_actions, force_reset=force_reset)
        if force_reset or num_episodes is not None or self._needs_initial_reset or self._godot_open is None:
            self._batch_reset()
        if num_episodes is not None:
            self._needs_initial_reset = True  # as RLlib: episodes are sampled from fresh resets
        n = self.num_envs
        ts = eps = 0
        done_episodes = []
        rollout = Rollout(self._godot_open)
        while (ts < num_timesteps) if num_timesteps is not None else (eps < num_episodes):
            actions, actions_for_env, extras = self._batch_actions(rollout.obs[-1], explore, random_actions, ts)
            results = self._try_env_step(actions_for_env)
            if results is ENV_STEP_FAILURE:  # the env was recreated: keep what finished, start afresh
                done_episodes += rollout.episodes(*self._godot_spaces, keep_open=False)[0]
                self._batch_reset()
                rollout, ts = Rollout(self._godot_open), 0
                continue
            obs, rewards, terminated, truncated, _infos = results
            extras[WEIGHTS_SEQ_NO] = np.full(n, self._weights_seq_no)
            counted, ended = rollout.add(obs, actions, rewards, terminated, truncated, extras)
            ts += counted
            eps += ended
        done, ongoing, self._godot_open = rollout.episodes(*self._godot_spaces, keep_open=num_timesteps is not None)
        done_episodes += done
        self._done_episodes_for_metrics.extend(done_episodes)
        for chunk in ongoing:
            self._ongoing_episodes_for_metrics[chunk.id_].append(chunk)
        self._log_env_steps(metric=self._metrics_num_env_steps_sampled, num_steps=ts)
        self._increase_sampled_metrics(ts, len(done_episodes))
        return done_episodes + ongoing

    @property
    def _godot_spaces(self) -> tuple[Any, Any]:
        return self.env.single_observation_space, self.env.single_action_space

    def _batch_reset(self) -> None:
        self._ongoing_episodes_for_metrics.clear()
        obs, _ = self._try_env_reset(seed=self._seed if self._needs_initial_reset else None, options=None)
        self._godot_open = OpenEpisodes.after_reset(np.asarray(obs))
        self._needs_initial_reset = False

    def _batch_actions(self, obs: np.ndarray, explore: bool, random_actions: bool, ts: int
                       ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """(actions for the episodes, actions for the env, extra model outputs), all batched."""
        if random_actions:
            actions = self.env.action_space.sample()
            return actions, actions, {}
        import torch

        batch = {Columns.OBS: torch.from_numpy(obs).to(self._device)}
        module = self.module
        with self.metrics.log_time(RLMODULE_INFERENCE_TIMER):
            if explore:  # RLlib's estimate of the algorithm's global step count
                runners = self.config.num_env_runners or 1
                out = module.forward_exploration(batch, t=(self.num_env_steps_sampled_lifetime // runners + ts) * runners)
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
        return actions, self._actions_for_env(actions), out

    def _actions_for_env(self, actions: np.ndarray) -> np.ndarray:
        """NormalizeAndClipActions on the batch (Box bounds broadcast over the agents)."""
        step = self._godot_normalize_and_clip
        if step.normalize_actions:
            return unsquash_action(actions, step._action_space_struct)
        if step.clip_actions:
            return clip_action(actions, step._action_space_struct)
        return actions

    def _init_batch_sampling(self) -> None:
        self._godot_batch_blocker = batch_sampling_blocker(self)
        self._godot_normalize_and_clip = next(
            (c for c in self._module_to_env.connectors if type(c).__name__ == "NormalizeAndClipActions"), None)
