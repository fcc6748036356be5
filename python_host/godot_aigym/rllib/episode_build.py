"""`numpy_episode()`: a finished-numpy `SingleAgentEpisode` from arrays, without the per-buffer
checks of its constructor (~150 us per episode there, ~8 us here: hundreds of episodes per
sample batch are rebuilt on the driver).

It fills exactly the attributes `SingleAgentEpisode.__init__` (Ray 2.60) sets for the same
arguments with ``len_lookback_buffer=0``; `tests/rllib/test_batch_sampling.py` compares the two
(``get_state()``), so a Ray upgrade that changes the layout fails there, not in training.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ray.rllib.env.single_agent_episode import _REWARDS_BOX_SPACE, SingleAgentEpisode
from ray.rllib.env.utils.infinite_lookback_buffer import InfiniteLookbackBuffer
from ray.rllib.utils.spaces.space_utils import get_base_struct_from_space

_REWARDS_STRUCT = get_base_struct_from_space(_REWARDS_BOX_SPACE)


def _buffer(data: Any, space: Any = None, struct: Any = None) -> InfiniteLookbackBuffer:
    buf = object.__new__(InfiniteLookbackBuffer)
    buf.data = data
    buf.lookback = 0
    buf.finalized = not isinstance(data, list)
    buf._space = space
    buf._space_struct = struct
    return buf


class SpaceStructs:
    """An episode's spaces with their base structs, computed once per batch."""

    def __init__(self, observation_space: Any, action_space: Any) -> None:
        self.observation_space, self.action_space = observation_space, action_space
        self.obs_struct = get_base_struct_from_space(observation_space)
        self.action_struct = get_base_struct_from_space(action_space)


def numpy_episode(spaces: SpaceStructs, id_: str, observations: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
                  extra_model_outputs: dict[str, np.ndarray], *, terminated: bool, truncated: bool, t_started: int,
                  start_time: float | None, last_step_time: float | None) -> SingleAgentEpisode:
    """What ``SingleAgentEpisode(id_, observations=..., infos=[{}...], actions=..., rewards=...,
    terminated=..., truncated=..., extra_model_outputs=..., observation_space=..., action_space=...,
    t_started=..., len_lookback_buffer=0)`` builds, timers set."""
    if not len(observations) == len(actions) + 1 == len(rewards) + 1:
        raise ValueError(f"episode {id_}: {len(observations)} observations for {len(actions)} actions "
                         f"and {len(rewards)} rewards")
    ep = object.__new__(SingleAgentEpisode)
    ep.id_ = id_
    ep.agent_id = ep.module_id = ep.multi_agent_episode_id = None
    ep.observations = _buffer(observations, spaces.observation_space, spaces.obs_struct)
    ep._observation_space = spaces.observation_space
    ep.infos = _buffer([{} for _ in range(len(observations))])
    ep.actions = _buffer(actions, spaces.action_space, spaces.action_struct)
    ep._action_space = spaces.action_space
    ep.rewards = _buffer(rewards, _REWARDS_BOX_SPACE, _REWARDS_STRUCT)
    ep.is_terminated, ep.is_truncated = terminated, truncated
    ep.extra_model_outputs = {k: _buffer(v) for k, v in extra_model_outputs.items()}
    ep.t_started = t_started
    ep.t = len(rewards) + t_started
    ep._custom_data = {}
    ep._start_time, ep._last_step_time = start_time, last_step_time
    ep._last_added_observation = ep._last_added_infos = None
    return ep
