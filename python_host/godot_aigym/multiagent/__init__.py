"""Multi-agent, multi-policy Godot scenes (docs/MULTI_AGENT.md): a GymGroupEnv scene declares
agent groups (GymAgentGroup children), each with a policy name and its own spaces.

* `GodotGroupEnv` -- the batch API: per-group numpy arrays for observations, rewards and flags,
  one step for every group (one command per engine); ``n_copies`` copies of the scene per engine
  x ``n_engines`` engines. What an RLlib MultiAgentEnv or runner builds on.
* `GodotParallelEnv` -- a PettingZoo ``ParallelEnv`` (agent ids ``"<group>_<i>"``); needs the
  ``multiagent`` extra (pettingzoo), imported only when used.
"""

from .batch import GodotGroupEnv, GroupStep, agent_id

__all__ = ["GodotGroupEnv", "GodotParallelEnv", "GroupStep", "agent_id"]


def __getattr__(name: str):
    if name == "GodotParallelEnv":  # pettingzoo is optional: imported on first use
        from .parallel import GodotParallelEnv
        return GodotParallelEnv
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
