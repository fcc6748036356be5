"""`GodotVecEnv`: Godot agents as a Stable-Baselines3 `VecEnv` (N agents per engine x M engines).

SB3 algorithms train on it unchanged:

    from stable_baselines3 import PPO
    from godot_aigym.env.sb3 import GodotVecEnv
    venv = GodotVecEnv(scene="res://envs/cartpole/cartpole.tscn", n_agents=16)
    model = PPO("MlpPolicy", venv)
    model.set_logger(folderless_logger())  # else SB3 leaves an empty /tmp/SB3-<date> folder
    model.learn(100_000)

SB3's VecEnv resets finished environments in the same step and hands the last observation
over in ``infos[i]["terminal_observation"]`` (``"TimeLimit.truncated"`` marks truncations):
exactly the engine's SAME_STEP autoreset, so no reset costs an extra round trip.
(`GodotEnv`, the single-agent Gymnasium env, works with SB3 directly as well.)
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from .vector_env import GodotVectorEnv


class GodotVecEnv(VecEnv):
    """An SB3 VecEnv over `GodotVectorEnv` (same arguments; ``autoreset_mode`` is SAME_STEP)."""

    def __init__(self, project=None, scene: str | None = None, *, n_agents: int = 1, n_engines: int = 1,
                 seed: int | None = None, **kwargs: Any) -> None:
        self.venv = GodotVectorEnv(project, scene, n_agents=n_agents, n_engines=n_engines, seed=seed,
                                   autoreset_mode=AutoresetMode.SAME_STEP, **kwargs)
        self.render_mode = None
        super().__init__(self.venv.num_envs, self.venv.single_observation_space, self.venv.single_action_space)
        self._actions: np.ndarray | None = None

    # -- VecEnv API ------------------------------------------------------------------------------------
    def reset(self) -> np.ndarray:
        seed = None
        if self._seeds and self._seeds[0] is not None:
            seed = int(self._seeds[0])
        obs, _ = self.venv.reset(seed=seed)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self):
        obs, rewards, terminated, truncated, infos = self.venv.step(self._actions)
        dones = terminated | truncated
        out_infos: list[dict] = [{} for _ in range(self.num_envs)]
        if infos:  # SAME_STEP's infos are empty unless an episode ended (cheaper than dones.any())
            final = infos["final_obs"]
            for i in dones.nonzero()[0].tolist():
                out_infos[i]["terminal_observation"] = final[i]
                out_infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return obs, rewards.astype(np.float32), dones, out_infos

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        value = getattr(self.venv, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
        method = getattr(self.venv, method_name)
        return [method(*method_args, **method_kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None for _ in range(self.num_envs)]

    def _get_indices(self, indices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, int):
            return [indices]
        return list(indices)


def folderless_logger():
    """An SB3 logger that keeps the recorded values in memory and writes no file or folder.

    Without one, every ``learn()`` calls SB3's ``configure()``, which makes an empty
    ``SB3-<date>`` folder in the temporary directory that nothing removes. Use it as
    ``model.set_logger(folderless_logger())`` before ``learn()``.
    """
    from stable_baselines3.common.logger import Logger

    return Logger(folder=None, output_formats=[])
