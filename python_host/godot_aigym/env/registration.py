"""Gymnasium ids for the demo environments (registered when `godot_aigym.env` is imported).

    env = gymnasium.make("godot_aigym/CartPole-v0")
    envs = gymnasium.make_vec("godot_aigym/CartPole-v0", num_envs=16)   # 16 agents in one engine
"""

from __future__ import annotations

import gymnasium

DEMO_ENVS = {
    # id: (scene, description)
    "godot_aigym/CartPole-v0": ("res://envs/cartpole/cartpole.tscn",
                                "cart-pole on Godot 2D physics; solved: mean return >= 475 over 20 episodes"),
    "godot_aigym/Trivial-v0": ("res://envs/trivial/trivial.tscn",
                               "no physics; observations are exact functions of the actions (tests, benchmark)"),
}

# envs whose observations are camera pixels: their engines render (kept apart from DEMO_ENVS,
# whose entries other integrations register as headless scenes)
PIXEL_ENVS = {
    "godot_aigym/Reach-v0": ("res://envs/reach/reach.tscn",
                             "reach a red tile from 42x42 camera pixels; solved: mean return >= 1.8 over 100 episodes"),
}


def register_envs() -> None:
    """Register the demo ids (idempotent)."""
    envs = {**{k: (scene, {}) for k, (scene, _doc) in DEMO_ENVS.items()},
            **{k: (scene, {"rendering": True}) for k, (scene, _doc) in PIXEL_ENVS.items()}}
    for env_id, (scene, extra) in envs.items():
        if env_id in gymnasium.registry:
            continue
        gymnasium.register(
            id=env_id,
            entry_point="godot_aigym.env.godot_env:GodotEnv",
            vector_entry_point="godot_aigym.env.vector_env:GodotVectorEnv",
            kwargs={"scene": scene, **extra},
            # the engine enforces the episode limit it declares: no TimeLimit wrapper on top
            max_episode_steps=None,
        )
