"""`GodotEnvRunner`: RLlib's single-agent EnvRunner driving one `GodotVectorEnv` on its node.

RLlib's own runner builds its vector env with ``gym.make_vec``; in the default "sync" mode that
would be one engine per sub-environment. This runner always asks our creator for
``num_envs_per_env_runner`` sub-environments batched in ``n_engines`` engines, resolves what the
node needs first, and pins each runner's engines to their own CPUs of the node.

Failures: an engine that dies makes ``sample()`` raise; RLlib then ends this runner's process
(`FaultTolerantActorManager`) and, with ``restart_failed_env_runners``, starts a new one that
launches fresh engines. With ``restart_failed_sub_environments`` the runner itself relaunches
its engines instead. Either way the vector env has already stopped its engines and unlinked
their chunks.
"""

from __future__ import annotations

import gc
import os
import socket
from typing import Any

from gymnasium.wrappers.vector import DictInfoToList
from ray.rllib.callbacks.utils import make_callback
from ray.rllib.env.env_context import EnvContext
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner
from ray.tune.registry import ENV_CREATOR, _global_registry

from .batch_sampling import BatchSampling
from .node import GodotNodeError, node_label
from .registration import RLLIB_ENVS, RLLIB_GROUP_ENVS, godot_env_creator, unknown_env_error


def runner_cpus(worker_index: int | None, n_engines: int, usable: list[int] | None = None) -> list[list[int]]:
    """One CPU per engine, spread over runners: runner w's engine k takes the
    ``((w - 1) * n_engines + k)``-th usable CPU counted from the last (the first ones are left to
    the driver and the learner). Without this, every runner process would put its first engine
    on the same last CPU."""
    usable = sorted(os.sched_getaffinity(0)) if usable is None else sorted(usable)
    first = max((worker_index or 1) - 1, 0) * n_engines
    return [[usable[-1 - (first + k) % len(usable)]] for k in range(n_engines)]


class GodotEnvRunner(BatchSampling, SingleAgentEnvRunner):
    """Use with ``config.env_runners(env_runner_cls=GodotEnvRunner, num_envs_per_env_runner=N)``
    and ``config.environment(<registered name>, env_config={"n_engines": M, ...})``.

    Samples through `BatchSampling` (arrays per vector step, episodes built in bulk) whenever
    RLlib's default connectors and a stateless module allow it, else through RLlib's own loop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        import torch

        # inference on a few dozen observations: one thread, no contention with the engines
        torch.set_num_threads(1)
        super().__init__(*args, **kwargs)
        self._init_batch_sampling()
        if _in_ray_actor():  # a process of its own: its start-up heap lives as long as it does
            # keep full garbage collections during sampling from traversing torch's, Ray's and
            # RLlib's ~300k objects (300-600 ms each on a busy 2-vCPU node)
            gc.freeze()

    def make_env(self) -> None:
        if self.env is not None:
            env, self.env = self.env, None
            env.close()
        name = self.config.env
        if not isinstance(name, str):
            raise ValueError(f"GodotEnvRunner runs environments registered by name, got config.env={name!r}")
        env_config = dict(self.config.env_config or {})
        env_config["num_envs"] = self.config.num_envs_per_env_runner
        if "cpus" not in env_config:
            env_config["cpus"] = runner_cpus(self.worker_index, int(env_config.get("n_engines", 1)))
        ctx = EnvContext(env_config, worker_index=self.worker_index or 0, num_workers=self.num_workers,
                         remote=self.config.remote_worker_envs)
        if name in RLLIB_GROUP_ENVS:
            raise ValueError(f"{name!r} is a scene with agent groups: run it with godot_aigym.rllib."
                             "GodotMultiAgentEnvRunner (godot_aigym.rllib.train_multi.build_multi_config)")
        try:
            if name in RLLIB_ENVS:
                vector_env = godot_env_creator(name, ctx)
            elif _global_registry.contains(ENV_CREATOR, name):
                vector_env = _global_registry.get(ENV_CREATOR, name)(ctx)
            else:
                raise unknown_env_error(name)
        except GodotNodeError:  # already names the node
            raise
        except Exception as e:  # say where: the runner may be on any node of the cluster
            if hasattr(e, "add_note"):
                e.add_note(f"(in EnvRunner {self.worker_index} on {node_label()})")
            raise
        self.env = DictInfoToList(vector_env)
        self.num_envs = vector_env.num_envs
        self._needs_initial_reset = True
        make_callback("on_environment_created", callbacks_objects=self._callbacks,
                      callbacks_functions=self.config.callbacks_on_environment_created,
                      kwargs=dict(env_runner=self, metrics_logger=self.metrics, env=vector_env, env_context=ctx))

    def godot_info(self) -> dict[str, Any]:
        """Where this runner and its engines run: host, Ray node id, pids, each engine's parent chain."""
        try:
            import ray

            node_id = ray.get_runtime_context().get_node_id()
        except Exception:
            node_id = None
        engines = [] if self.env is None else [p.pid for p in self.env.unwrapped.engines]
        return {"worker_index": self.worker_index, "host": socket.gethostname(), "node_id": node_id,
                "pid": os.getpid(), "engine_pids": engines, "sampled": self._godot_sampled,
                "batch_sampling_blocker": self._godot_batch_blocker,
                "engine_parents": {pid: _parent_chain(pid) for pid in engines}}


def _in_ray_actor() -> bool:
    import ray

    return ray.is_initialized() and ray.get_runtime_context().get_actor_id() is not None


def _parent_chain(pid: int, depth: int = 4) -> list[tuple[int, str]]:
    """[(pid, command name), ...] from ``pid`` up ``depth`` parents (read from /proc)."""
    chain = []
    for _ in range(depth):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            break
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        chain.append((pid, comm))
        pid = int(stat[stat.rindex(")") + 2:].split()[1])
        if pid <= 1:
            break
    return chain
