"""Godot environments on Ray RLlib's new API stack (docs/SCALING.md).

Needs the ``ray`` extra (``pip install 'godot-aigym[ray]'``); the core package never imports Ray.

    from ray.rllib.algorithms.ppo import PPOConfig
    from godot_aigym.rllib import GodotEnvRunner

    config = (PPOConfig()
              .environment("godot_aigym/CartPole-v0", env_config={"n_engines": 1})
              .env_runners(env_runner_cls=GodotEnvRunner, num_env_runners=2, num_envs_per_env_runner=16))

Each EnvRunner drives ``num_envs_per_env_runner`` sub-environments as ``n_agents`` agents in
each of ``n_engines`` engines of one `GodotVectorEnv`, on the node Ray placed it on.

Multi-agent scenes (agent groups, each with its policy): `GodotMultiAgentEnvRunner` drives
``num_envs_per_env_runner`` copies of the scene as one `GodotMultiAgentVectorEnv`;
`train_multi.build_multi_config` maps each group to its policy (`policy_mapping_by_group`).
"""

from __future__ import annotations

try:
    import ray  # noqa: F401
    import ray.rllib  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised in a Python without Ray (tests/rllib/test_no_ray.py)
    raise ImportError("godot_aigym.rllib needs Ray RLlib, which is an optional extra: "
                      "pip install 'godot-aigym[ray]'") from e

from .env_runner import GodotEnvRunner
from .multi_agent_env import GodotMultiAgentEnv, GodotMultiAgentVectorEnv
from .multi_agent_runner import GodotMultiAgentEnvRunner, policy_mapping_by_group
from .node import GodotNodeError, node_label
from .registration import (RLLIB_ENVS, RLLIB_GROUP_ENVS, godot_env_creator, group_env_creator, register_envs,
                           register_group_scene, register_scene)

register_envs()

__all__ = ["GodotEnvRunner", "GodotMultiAgentEnv", "GodotMultiAgentEnvRunner", "GodotMultiAgentVectorEnv",
           "GodotNodeError", "RLLIB_ENVS", "RLLIB_GROUP_ENVS", "godot_env_creator", "group_env_creator", "node_label",
           "policy_mapping_by_group", "register_envs", "register_group_scene", "register_scene"]
