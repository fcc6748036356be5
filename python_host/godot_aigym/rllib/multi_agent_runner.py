"""`GodotMultiAgentEnvRunner`: RLlib's `MultiAgentEnvRunner` over one `GodotMultiAgentVectorEnv`
(all copies of a group scene in ``n_engines`` engines), and the policy mapping by group.

RLlib's own runner would build its vector env with one env per sub-env (one engine per copy);
this one asks our creator for ``num_envs_per_env_runner`` copies batched in ``n_engines`` engines,
on the node the runner landed on (`prepare_node`), engines pinned as `GodotEnvRunner` pins them.
Sampling itself is RLlib's per-agent loop (see docs/SCALING.md for what that costs).
"""

from __future__ import annotations

import os
import socket
from typing import Any, Callable, Mapping

from ray.rllib.callbacks.utils import make_callback
from ray.rllib.env.env_context import EnvContext
from ray.rllib.env.multi_agent_env_runner import MultiAgentEnvRunner

from .env_runner import runner_cpus
from .node import GodotNodeError, node_label
from .registration import RLLIB_GROUP_ENVS, group_env_creator, unknown_env_error


def group_of(agent_id: str) -> str:
    """``"<group>_<index>"`` -> the group (agent ids of `godot_aigym.multiagent.agent_id`)."""
    group, sep, index = str(agent_id).rpartition("_")
    if not sep or not index.isdigit():
        raise ValueError(f"{agent_id!r} is not a Godot agent id ('<group>_<index>')")
    return group


def policy_mapping_by_group(group_policies: Mapping[str, str], groups: list[str] | None = None
                            ) -> Callable[..., str]:
    """RLlib's ``policy_mapping_fn`` sending every agent of group ``g`` to ``group_policies[g]``.
    ``groups`` (the scene's): each must have a mapping, else ValueError naming the group."""
    mapping = dict(group_policies)
    missing = [g for g in (groups or []) if g not in mapping]
    if missing:
        raise ValueError(f"agent group {missing[0]!r} has no policy mapping (mapped: {sorted(mapping)}; "
                         f"the scene's groups: {groups})")

    def policy_mapping_fn(agent_id: Any, episode: Any = None, **kwargs: Any) -> str:
        group = group_of(agent_id)
        if group not in mapping:
            raise ValueError(f"agent group {group!r} (agent {agent_id!r}) has no policy mapping "
                             f"(mapped: {sorted(mapping)})")
        return mapping[group]

    return policy_mapping_fn


def scene_groups(name: str, env_config: Mapping[str, Any] | None = None) -> tuple[list[str], dict[str, str], dict]:
    """(groups, group -> policy, group -> (observation space, action space)) of a registered group
    scene, read from one engine started for it here (the scene is the only place they are declared)."""
    if name not in RLLIB_GROUP_ENVS:
        raise unknown_env_error(name)
    config = {k: v for k, v in (env_config or {}).items() if k not in ("n_engines", "num_envs", "log_dir")}
    env = group_env_creator(name, config)
    try:
        ge = env.group_env
        return (list(ge.group_names), dict(ge.policies),
                {g: (ge.observation_spaces[g], ge.action_spaces[g]) for g in ge.group_names})
    finally:
        env.close()


class GodotMultiAgentEnvRunner(MultiAgentEnvRunner):
    """Use with ``config.env_runners(env_runner_cls=GodotMultiAgentEnvRunner,
    num_envs_per_env_runner=<copies>)``, ``config.environment(<group scene name>,
    env_config={"n_engines": M})`` and ``config.multi_agent(policies=..., policy_mapping_fn=
    policy_mapping_by_group(...))`` (`train.build_multi_config` does all three)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        import torch

        torch.set_num_threads(1)
        super().__init__(*args, **kwargs)

    def make_env(self) -> None:
        if getattr(self, "env", None) is not None:
            env, self.env = self.env, None
            env.close()
        name = self.config.env
        if name not in RLLIB_GROUP_ENVS:
            raise unknown_env_error(name)
        env_config = dict(self.config.env_config or {})
        env_config["num_envs"] = self.config.num_envs_per_env_runner
        if "cpus" not in env_config:
            env_config["cpus"] = runner_cpus(self.worker_index, int(env_config.get("n_engines", 1)))
        ctx = EnvContext(env_config, worker_index=self.worker_index or 0, num_workers=self.config.num_env_runners,
                         remote=self.config.remote_worker_envs)
        try:
            self.env = group_env_creator(name, ctx)
        except GodotNodeError:
            raise
        except Exception as e:
            if hasattr(e, "add_note"):
                e.add_note(f"(in EnvRunner {self.worker_index} on {node_label()})")
            raise
        self.num_envs = self.env.num_envs
        self._needs_initial_reset = True
        make_callback("on_environment_created", callbacks_objects=self._callbacks,
                      callbacks_functions=self.config.callbacks_on_environment_created,
                      kwargs=dict(env_runner=self, metrics_logger=self.metrics, env=self.env, env_context=ctx))

    def godot_info(self) -> dict[str, Any]:
        engines = [] if self.env is None else [p.pid for p in self.env.engines]
        return {"worker_index": self.worker_index, "host": socket.gethostname(), "pid": os.getpid(),
                "engine_pids": engines}
