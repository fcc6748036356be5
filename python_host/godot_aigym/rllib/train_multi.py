"""PPO with one policy per agent group of a multi-agent Godot scene, on RLlib; then each policy
exported as ``<group>.jit`` and played in the engine (each group running its own policy).

    python -m godot_aigym.rllib.train --env godot_aigym/Rendezvous-v0 [--address auto] [--export DIR]

Solved (docs/MULTI_AGENT.md, the rendezvous demo): every group's policy has a mean episode return
over its last 100 episodes (RLlib's ``module_episode_returns_mean``) >= ``--threshold`` (1.6).
PPO settings follow `godot_aigym.multiagent.ippo`, which solves the same scene without Ray: 128
steps per copy per batch, minibatches of 512, 10 epochs, lr 3e-4, gamma 0.99, lambda 0.95, clip
0.2, entropy 0.01.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from .train import built_algo, ppo_config

MULTI_THRESHOLD = 1.6


def build_multi_config(env: str, *, env_runners: int = 1, copies: int = 16, engines: int = 1, seed: int | None = 0,
                       env_config: dict | None = None, group_policies: dict[str, str] | None = None,
                       fragment: int = 128, runner_resources: dict | None = None, cpus_per_runner: float = 1):
    """A PPOConfig with one RLModule per policy of the scene's groups (``group_policies``: group
    -> policy, default the scene's own; every group must be mapped)."""
    from .multi_agent_runner import GodotMultiAgentEnvRunner, policy_mapping_by_group, scene_groups

    groups, scene_policies, _spaces = scene_groups(env, env_config)
    mapping = scene_policies if group_policies is None else dict(group_policies)
    mapping_fn = policy_mapping_by_group(mapping, groups)
    per_runner = copies * engines
    batch = max(env_runners, 1) * per_runner * fragment
    return (ppo_config(env, GodotMultiAgentEnvRunner, env_runners=env_runners, per_runner=per_runner, engines=engines,
                       fragment=fragment, seed=seed, env_config=env_config, runner_resources=runner_resources,
                       cpus_per_runner=cpus_per_runner)
            .multi_agent(policies=sorted(set(mapping[g] for g in groups)), policy_mapping_fn=mapping_fn)
            .training(train_batch_size_per_learner=batch, minibatch_size=min(batch, 512), num_epochs=10,
                      lr=3e-4, gamma=0.99, lambda_=0.95, entropy_coeff=0.01, clip_param=0.2, kl_coeff=0.0,
                      vf_clip_param=1e4, vf_loss_coeff=0.5))


def policy_returns(result: dict) -> dict[str, float]:
    """Each policy's mean episode return (RLlib's smoothing window) from a training result."""
    return {str(k): float(v) for k, v in result.get("env_runners", {}).get("module_episode_returns_mean", {}).items()}


def train_multi(config: Any, *, threshold: float = MULTI_THRESHOLD, max_iterations: int = 200,
                on_iteration: Callable[[int, dict, Any], None] | None = None, export_dir: str | Path | None = None
                ) -> dict:
    """Train until every policy's mean return reaches ``threshold`` (or ``max_iterations``);
    with ``export_dir``, export each group's policy there as ``<group>.jit``. Returns a summary."""
    with built_algo(config) as algo:
        t0 = time.perf_counter()
        summary: dict[str, Any] = {"solved": False, "iterations": 0, "history": []}
        for it in range(1, max_iterations + 1):
            result = algo.train()
            returns = policy_returns(result)
            steps = int(result.get("env_runners", {}).get("num_env_steps_sampled_lifetime", 0))
            summary["history"].append({"iteration": it, "steps": steps, "returns": returns})
            summary.update(iterations=it, steps=steps, seconds=time.perf_counter() - t0, returns=returns)
            if on_iteration is not None:
                on_iteration(it, result, algo)
            if returns and len(returns) == len(config.policies) and all(r >= threshold for r in returns.values()):
                summary["solved"] = True
                break
        if export_dir is not None:
            summary["exported"] = export_group_policies(algo, config, export_dir)
    return summary


def export_group_policies(algo: Any, config: Any, out_dir: str | Path) -> dict[str, str]:
    """Each group's policy as ``<out_dir>/<group>.jit`` (observations -> logits for a discrete
    action, the Gaussian's mean for a box): what the engine's per-group play mode runs."""
    import gymnasium as gym
    import torch

    from ..torch_export import export_policy
    from .multi_agent_runner import scene_groups

    class PolicyOutputs(torch.nn.Module):
        def __init__(self, module: Any, mean_width: int | None) -> None:
            super().__init__()
            self.module, self.mean_width = module, mean_width

        def forward(self, obs: torch.Tensor) -> torch.Tensor:
            out = self.module.forward_inference({"obs": obs})["action_dist_inputs"]
            return out if self.mean_width is None else out[:, :self.mean_width]

    groups, _policies, spaces = scene_groups(config.env, config.env_config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for g in groups:
        policy = config.policy_mapping_fn(f"{g}_0", None)
        obs_space, act_space = spaces[g]
        mean_width = int(act_space.shape[0]) if isinstance(act_space, gym.spaces.Box) else None
        head = PolicyOutputs(algo.get_module(policy), mean_width).eval()
        paths[g] = str(export_policy(head, torch.zeros(1, obs_space.shape[0]), out_dir / f"{g}.jit"))
    return paths


def play_groups(scene: str, policies: dict[str, str], *, copies: int = 10, episodes: int = 200, seed: int = 1,
                project: Any = None) -> dict:
    """The engine plays ``episodes`` per group with each group's ``.jit`` (no Python in the loop);
    its ``AIGYM_PLAY_GROUPS`` line (``group_mean_return``...)."""
    from ..engine import GodotProcess, GodotProcessError, LaunchOptions
    from ..env.link import project_physics_fps
    from ..env.project import demo_project

    project = project or demo_project()
    arg = ",".join(f"{g}={Path(p).resolve()}" for g, p in policies.items())
    options = LaunchOptions(project=project, scene=scene, seed=seed, headless=True,
                            fixed_fps=project_physics_fps(project),
                            user_args=("--play", "--policy", arg, "--play-episodes", str(episodes),
                                       "--n-agents", str(copies)))
    with GodotProcess(options) as proc:
        code = proc.wait(timeout=600)
        log = proc.log()
    for line in log.splitlines():
        if line.startswith("AIGYM_PLAY_GROUPS ") and code == 0:
            return json.loads(line[len("AIGYM_PLAY_GROUPS "):])
    raise GodotProcessError(f"the engine played no episodes with {arg} (exit code {code}):\n{log[-2000:]}")
