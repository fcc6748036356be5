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

The names below are imported on first use (PEP 562): importing the package, or a Ray-free helper
such as `local_ray`, costs no Ray/RLlib import (seconds of CPU). The first name used imports
`registration`, which registers the demo scenes (``godot_aigym/CartPole-v0``...) with RLlib.
"""

from __future__ import annotations

import importlib
import importlib.util
import os

_EXTRA = "godot_aigym.rllib needs Ray RLlib, which is an optional extra: pip install 'godot-aigym[ray]'"


def _check_ray() -> None:
    """Fail at import, naming the extra, when Ray (with its rllib package) is not installed; found
    without importing it."""
    try:
        spec = importlib.util.find_spec("ray")
    except ImportError as e:  # pragma: no cover - exercised in a Python without Ray (tests/rllib/test_optional_ray.py)
        raise ImportError(_EXTRA) from e
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    if not any(os.path.isfile(os.path.join(f, "rllib", "__init__.py")) for f in folders):
        raise ImportError(_EXTRA)


_check_ray()

# public name -> the module that defines it
_EXPORTS = {
    "GodotEnvRunner": "env_runner",
    "GodotMultiAgentEnv": "multi_agent_env", "GodotMultiAgentVectorEnv": "multi_agent_env",
    "GodotMultiAgentEnvRunner": "multi_agent_runner", "policy_mapping_by_group": "multi_agent_runner",
    "GodotNodeError": "node", "node_label": "node",
    **dict.fromkeys(("RLLIB_ENVS", "RLLIB_GROUP_ENVS", "godot_env_creator", "group_env_creator", "register_envs",
                     "register_group_scene", "register_scene"), "registration"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    importlib.import_module(".registration", __name__)  # using the package registers the demo scenes
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
