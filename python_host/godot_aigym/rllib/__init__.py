"""Godot environments on Ray RLlib's new API stack (docs/SCALING.md).

Needs the ``ray`` extra (``pip install 'godot-aigym[ray]'``); the core package never imports Ray.

    from ray.rllib.algorithms.ppo import PPOConfig
    from godot_aigym.rllib import GodotEnvRunner

    config = (PPOConfig()
              .environment("godot_aigym/CartPole-v0", env_config={"n_engines": 1})
              .env_runners(env_runner_cls=GodotEnvRunner, num_env_runners=2, num_envs_per_env_runner=16))

Each EnvRunner drives ``num_envs_per_env_runner`` sub-environments as ``n_agents`` agents in
each of ``n_engines`` engines of one `GodotVectorEnv`, on the node Ray placed it on. Single-agent
only for now: a multi-agent runner (agent groups with their own spaces and policies) will sit
beside `GodotEnvRunner` once the step protocol carries groups.
"""

from __future__ import annotations

try:
    import ray  # noqa: F401
    import ray.rllib  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised in a Python without Ray (tests/rllib/test_no_ray.py)
    raise ImportError("godot_aigym.rllib needs Ray RLlib, which is an optional extra: "
                      "pip install 'godot-aigym[ray]'") from e

from .env_runner import GodotEnvRunner
from .node import GodotNodeError, node_label
from .registration import RLLIB_ENVS, godot_env_creator, register_envs, register_scene

register_envs()

__all__ = ["GodotEnvRunner", "GodotNodeError", "RLLIB_ENVS", "godot_env_creator", "node_label",
           "register_envs", "register_scene"]
