"""Godot scenes as RLlib environment names (`ray.tune.register_env`).

RLlib's `SingleAgentEnvRunner` looks a string ``config.env`` up in Tune's registry and calls
the creator with ``EnvContext | {"num_envs": n}`` when vectorizing through the vector entry
point. Our creator answers with ONE `GodotVectorEnv` of ``n`` sub-environments
(``n_agents`` x ``n_engines``), never one engine per sub-environment. `GodotEnvRunner` calls the
same creator, whatever ``gym_env_vectorize_mode`` says.

``env_config`` keys: ``n_engines`` (default 1; ``n_agents`` = num_envs / n_engines),
``log_dir``, and any `godot_aigym.env.EnvOptions` field (``project``, ``scene``, ``seed``,
``max_episode_steps``, ``action_repeat``, ``cpus``, ``timeout``, ``step_timeout``...).
"""

from __future__ import annotations

import functools
import os
from typing import Any, Mapping

from ray.tune.registry import register_env

from ..env import GodotEnvError, GodotVectorEnv
from ..env.registration import DEMO_ENVS
from .node import node_label, prepare_node

# name -> (scene, project or None for the demo project)
RLLIB_ENVS: dict[str, tuple[str, str | None]] = {}

_RUNNER_KEYS = ("num_envs", "n_engines", "log_dir")


def register_envs() -> None:
    """Register the demo scenes under their gymnasium ids (``godot_aigym/CartPole-v0``...) and the
    multi-agent demo (``godot_aigym/Rendezvous-v0``)."""
    for env_id, (scene, _doc) in DEMO_ENVS.items():
        register_scene(env_id, scene)
    for env_id, scene in DEMO_GROUP_ENVS.items():
        register_group_scene(env_id, scene)


def register_scene(name: str, scene: str, project: str | os.PathLike | None = None) -> None:
    """Make ``name`` usable in ``config.environment(name, env_config=...)`` for a scene with a
    GymEnv node (``project``: its Godot project, None = the demo project). Call it in the driver
    before building the algorithm; Tune's registry carries it to every node."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"an RLlib environment name must be a non-empty string, got {name!r}")
    RLLIB_ENVS[name] = (scene, None if project is None else os.fspath(project))
    register_env(name, functools.partial(_create, name, scene, RLLIB_ENVS[name][1]))


def reregister_all() -> None:
    """Register every known scene again. Tune's registry sends registrations to the running Ray
    instance once and forgets them, so a second Ray instance in the same process (ray.shutdown,
    then ray.init) would not know them: RLlib's own runner then falls back to gymnasium's ids."""
    for name, (scene, project) in list(RLLIB_ENVS.items()):
        register_scene(name, scene, project)
    for name, (scene, project) in list(RLLIB_GROUP_ENVS.items()):
        register_group_scene(name, scene, project)


def godot_env_creator(name: str, env_config: Mapping[str, Any]) -> GodotVectorEnv:
    """The vector env of a registered name (what RLlib's registry entry does)."""
    if name not in RLLIB_ENVS:
        raise unknown_env_error(name)
    scene, project = RLLIB_ENVS[name]
    return _create(name, scene, project, env_config)


def unknown_env_error(name: Any) -> ValueError:
    known = ", ".join(sorted({**RLLIB_ENVS, **RLLIB_GROUP_ENVS})) or "none"
    return ValueError(f"{name!r} is not a Godot environment known to godot_aigym.rllib (registered: {known}); "
                      "register your scene with godot_aigym.rllib.register_scene(name, scene, project) "
                      "(register_group_scene for a scene with agent groups)")


def _create(name: str, scene: str, project: str | None, env_config: Mapping[str, Any]) -> GodotVectorEnv:
    config = dict(env_config or {})
    if "num_envs" not in config:
        raise ValueError(
            f"{name}: RLlib asked for a single sub-environment, which would start one Godot engine per "
            "sub-environment. Let godot_aigym batch them: config.env_runners(env_runner_cls="
            "godot_aigym.rllib.GodotEnvRunner) (or gym_env_vectorize_mode='vector_entry_point')")
    num_envs = config.pop("num_envs")
    n_engines = config.pop("n_engines", 1)
    log_dir = config.pop("log_dir", None)
    config.setdefault("scene", scene)
    path, runtime = prepare_node(config.pop("project", project), config.pop("godot", None))
    env = GodotVectorEnv(project=path, num_envs=num_envs, n_engines=n_engines, log_dir=log_dir, godot=runtime,
                         **config)
    try:
        check_same_spaces(env)
    except BaseException:
        env.close()
        raise
    return env


def check_same_spaces(env: GodotVectorEnv) -> None:
    """Every engine of one vector env must declare the same spaces (a project edited between
    launches, or engines of different versions, would otherwise train on garbage)."""
    first = env.links[0].spec
    for k, link in enumerate(env.links[1:], start=1):
        spec = link.spec
        for what in ("observation_space", "action_space"):
            if getattr(spec, what) != getattr(first, what):
                raise GodotEnvError(f"engine {k} of {env!r} on {node_label()} declares {what} "
                                    f"{getattr(spec, what)}, engine 0 declares {getattr(first, what)}")


# --- multi-agent scenes (agent groups) -----------------------------------------------------------

# name -> (scene, project or None for the demo project)
RLLIB_GROUP_ENVS: dict[str, tuple[str, str | None]] = {}

DEMO_GROUP_ENVS = {"godot_aigym/Rendezvous-v0": "res://envs/rendezvous/rendezvous.tscn"}


def register_group_scene(name: str, scene: str, project: str | os.PathLike | None = None) -> None:
    """Make ``name`` usable in ``config.environment(name, env_config=...)`` for a scene with agent
    groups (a GymGroupEnv), run by `GodotMultiAgentEnvRunner`: its creator builds ONE
    `GodotMultiAgentVectorEnv` of ``num_envs`` copies (``n_copies`` per engine x ``n_engines``)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"an RLlib environment name must be a non-empty string, got {name!r}")
    RLLIB_GROUP_ENVS[name] = (scene, None if project is None else os.fspath(project))
    register_env(name, functools.partial(_create_group, name, scene, RLLIB_GROUP_ENVS[name][1]))


def _create_group(name: str, scene: str, project: str | None, env_config: Mapping[str, Any]):
    from ..multiagent import GodotGroupEnv
    from .multi_agent_env import GodotMultiAgentEnv, GodotMultiAgentVectorEnv

    config = dict(env_config or {})
    num_envs = config.pop("num_envs", None)
    n_engines = config.pop("n_engines", 1)
    log_dir = config.pop("log_dir", None)
    config.setdefault("scene", scene)
    path, runtime = prepare_node(config.pop("project", project), config.pop("godot", None))
    if num_envs is None:  # one copy as a plain MultiAgentEnv (RLlib's own runner, env checks)
        return GodotMultiAgentEnv(project=path, godot=runtime, **config)
    if num_envs % n_engines:
        raise ValueError(f"{name}: num_envs_per_env_runner={num_envs} copies do not split over n_engines={n_engines}")
    env = GodotGroupEnv(project=path, n_copies=num_envs // n_engines, n_engines=n_engines, log_dir=log_dir,
                        godot=runtime, autoreset_mode="next_step", **config)
    try:
        return GodotMultiAgentVectorEnv(env)
    except BaseException:
        env.close()
        raise


def group_env_creator(name: str, env_config: Mapping[str, Any]):
    """The env of a registered group-scene name (a vector env with ``num_envs``, else one copy)."""
    if name not in RLLIB_GROUP_ENVS:
        raise unknown_env_error(name)
    scene, project = RLLIB_GROUP_ENVS[name]
    return _create_group(name, scene, project, env_config)


# The demo scenes are known wherever this module is imported: the driver (through any name of the
# package) and every runner's process (through its class's module).
register_envs()
