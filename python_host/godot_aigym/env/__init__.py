"""Gymnasium environments backed by Godot scenes (docs/ENVIRONMENTS.md).

* `GodotEnv` -- a single-agent `gymnasium.Env` (one engine process, one agent).
* `GodotVectorEnv` -- a `gymnasium.vector.VectorEnv`: N agents in one engine x M engines.
* `GodotAsyncVectorEnv` -- the same engines in envpool's asynchronous style (`send` / `recv`).
* `godot_aigym.env.sb3.GodotVecEnv` -- the same for Stable-Baselines3 (imports SB3 lazily).
* Gymnasium ids for the demo scenes, registered on import: ``godot_aigym/CartPole-v0``,
  ``godot_aigym/Trivial-v0`` and ``godot_aigym/Reach-v0`` (camera pixels: its engines render).
"""

from .async_vector_env import GodotAsyncVectorEnv
from .godot_env import GodotEnv
from .link import EngineLink
from .options import EnvOptions
from .project import demo_project
from .protocol import GodotEnvError, GodotScriptError, GodotScriptWarning, Results
from .registration import register_envs
from .vector_env import GodotVectorEnv

register_envs()

__all__ = ["GodotEnv", "GodotVectorEnv", "GodotAsyncVectorEnv", "EnvOptions", "GodotEnvError", "GodotScriptError",
           "GodotScriptWarning", "EngineLink", "Results", "demo_project", "register_envs"]
