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
such as `local_ray`, costs no Ray/RLlib import (seconds of CPU). The demo scenes
(``godot_aigym/CartPole-v0``...) are registered with RLlib (`registration`) as soon as Ray Tune's
registry, where RLlib looks names up, is imported: at once if it already is, else right after
whatever imports it (``from ray.rllib.algorithms.ppo import PPOConfig`` does), and by the first
name used. So after a plain ``import godot_aigym.rllib``, ``PPOConfig().environment(
"godot_aigym/CartPole-v0")`` finds our creator, in whichever order the two imports come.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import sys
import warnings

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

_TUNE_REGISTRY = "ray.tune.registry"  # where RLlib looks a config's env name up


def _register_demo_scenes() -> None:
    importlib.import_module(".registration", __name__)  # registers them when first imported


class _RegisterAfterTuneRegistry(importlib.abc.MetaPathFinder):
    """Registers the demo scenes right after Ray Tune's registry module has been imported, by
    whoever imports it (RLlib, Ray Tune, the user), without importing Ray ourselves. Removes
    itself (sys.meta_path becomes a new list), finds the module's spec with the other finders, runs that spec's loader, then
    registers. Returns the spec found (importlib then stops asking finders), or None."""

    _aigym_tune_hook = True  # how a hook is known, also one of the class before a reload

    def find_spec(self, name, path=None, target=None):
        if name != _TUNE_REGISTRY:
            return None
        _stop_waiting_for_tune()
        for finder in sys.meta_path:
            if _is_hook(finder):  # another copy (a reload's): it would ask us, and we it, for ever
                continue
            spec = finder.find_spec(name, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _ThenRegister(spec.loader)
        return spec


class _ThenRegister(importlib.abc.Loader):
    """A module's own loader, then the registration; the module keeps its own loader."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader  # as if we had never been there
        self.loader.exec_module(module)
        try:
            _register_demo_scenes()
        except Exception as e:  # never Ray's own import failing for us: the first name used tries again
            warnings.warn(f"godot_aigym.rllib could not register the demo scenes with Ray Tune: {e!r}",
                          RuntimeWarning, stacklevel=2)


def _is_hook(finder) -> bool:
    return getattr(type(finder), "_aigym_tune_hook", False) is True


def _stop_waiting_for_tune() -> None:
    # a new list, not the old one changed in place: another thread's import may be walking it
    # (importlib releases its lock between finders), and would skip the finder after a removed one
    sys.meta_path = [f for f in sys.meta_path if not _is_hook(f)]


if _TUNE_REGISTRY in sys.modules:  # Ray Tune already there: registering costs no import of Ray
    _register_demo_scenes()
elif not any(map(_is_hook, sys.meta_path)):  # one hook, whatever reloads this module
    sys.meta_path.insert(0, _RegisterAfterTuneRegistry())

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
    _register_demo_scenes()  # using the package registers the demo scenes (Tune's registry imported or not)
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
