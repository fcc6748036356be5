"""The environment protocol between Python and the GymEnv node (docs/ENVIRONMENTS.md).

Per environment (names prefixed, default ``gym_``, so several environments could share a chunk):

=================  =========  =======================================================================
entry              kind       content
=================  =========  =======================================================================
``spec``           uint8      u32 length + UTF-8 JSON written by the engine: spaces, agents, limits
``seed``           int32[2]   a 64-bit seed (low, high word) for RESET with FLAG_SEED
``sem_action``     semaphore  host -> engine: a command is in ``in``
``sem_obs``        semaphore  engine -> host: ``spec`` (start-up) or ``out`` (after a command) is ready
``in``             float32    [command, flags, reset count, 0 | reset mask (n) | actions (n * width)]
``out``            float32    [obs (n * D) | reward (n) | terminated (n) | truncated (n) | final obs (n * D)]
=================  =========  =======================================================================

``in`` and ``out`` are created by the host after it read ``spec`` (their sizes come from it).
One command = one ``sem_action`` post and one ``sem_obs`` post back, for all agents at once.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

PROTOCOL = "godot_aigym.env"
PROTOCOL_VERSION = 1
DEFAULT_PREFIX = "gym_"
SPEC_CAPACITY = 65536

CMD_STEP = 1
CMD_RESET = 2
CMD_CLOSE = 3
FLAG_SAME_STEP_AUTORESET = 1
FLAG_SEED = 2
IN_HEADER = 4


class GodotEnvError(RuntimeError):
    """The environment could not be set up (bad scene, spec mismatch, engine-side error)."""


class GodotScriptError(GodotEnvError):
    """The engine logged errors (script errors, push_error) while it ran a command."""


class GodotScriptWarning(UserWarning):
    """Like GodotScriptError, with ``engine_errors="warn"``."""


ENGINE_ERRORS = ("raise", "warn", "ignore")


def entry_names(prefix: str = DEFAULT_PREFIX) -> dict[str, str]:
    return {k: prefix + k for k in ("spec", "seed", "errors", "sem_action", "sem_obs", "in", "out")}


F32_MAX = float(np.finfo(np.float32).max)


def _bounds(values: list[Any], default: float) -> np.ndarray:
    """Bounds from the spec; unbounded (null) becomes the largest float32, as in gymnasium's CartPole
    (finite bounds keep samplers and checkers happy)."""
    out = [default if v is None else float(v) for v in values]
    return np.clip(np.array(out, dtype=np.float64), -F32_MAX, F32_MAX).astype(np.float32)


@dataclass(frozen=True)
class EnvSpec:
    """What the engine declared about itself."""

    raw: dict
    name: str
    n_agents: int
    obs_dim: int
    observation_space: spaces.Box
    action_space: spaces.Space
    action_width: int
    discrete: bool
    max_episode_steps: int
    action_repeat: int
    physics_ticks_per_second: int
    in_size: int
    out_size: int

    @classmethod
    def parse(cls, data: bytes | np.ndarray) -> "EnvSpec":
        raw = parse_spec_bytes(data)
        if raw is None:
            raise GodotEnvError("the engine wrote no environment description")
        if "error" in raw:
            raise GodotEnvError(f"the environment reported an error: {raw['error']}")
        if raw.get("protocol") != PROTOCOL or raw.get("version") != PROTOCOL_VERSION:
            raise GodotEnvError(f"protocol mismatch: engine speaks {raw.get('protocol')!r} version "
                                f"{raw.get('version')!r}, this host {PROTOCOL!r} version {PROTOCOL_VERSION} "
                                "(update the addon in the Godot project or the Python package)")
        n = int(raw["n_agents"])
        obs = raw["observation"]
        d = int(obs["shape"][0])
        observation_space = spaces.Box(_bounds(obs["low"], -math.inf), _bounds(obs["high"], math.inf),
                                       shape=(d,), dtype=np.float32)
        act = raw["action"]
        if act["type"] == "discrete":
            action_space: spaces.Space = spaces.Discrete(int(act["n"]))
            width, discrete = 1, True
        elif act["type"] == "multi_discrete":
            nvec = [int(k) for k in act["nvec"]]
            if not nvec or min(nvec) < 1:
                raise GodotEnvError(f"invalid multi_discrete action space: nvec {nvec}")
            action_space = spaces.MultiDiscrete(nvec)
            width, discrete = len(nvec), False
        elif act["type"] == "box":
            a = int(act["shape"][0])
            action_space = spaces.Box(_bounds(act["low"], -math.inf), _bounds(act["high"], math.inf),
                                      shape=(a,), dtype=np.float32)
            width, discrete = a, False
        else:
            raise GodotEnvError(f"unsupported action type {act['type']!r}")
        spec = cls(raw=raw, name=str(raw.get("name", "")), n_agents=n, obs_dim=d,
                   observation_space=observation_space, action_space=action_space, action_width=width,
                   discrete=discrete, max_episode_steps=int(raw.get("max_episode_steps", 0)),
                   action_repeat=int(raw.get("action_repeat", 1)),
                   physics_ticks_per_second=int(raw.get("physics_ticks_per_second", 0)),
                   in_size=int(raw["in_size"]), out_size=int(raw["out_size"]))
        if spec.in_size != in_size(n, width) or spec.out_size != out_size(n, d):
            raise GodotEnvError(f"inconsistent spec: in_size {spec.in_size} / out_size {spec.out_size} do not "
                                f"match {n} agents x obs {d} x action width {width}")
        return spec


def parse_spec_bytes(data: bytes | np.ndarray) -> dict | None:
    """The JSON object in a spec tensor, or None when it is still empty."""
    buf = bytes(data)
    if len(buf) < 4:
        return None
    (length,) = struct.unpack_from("<I", buf, 0)
    if length == 0:
        return None
    if length > len(buf) - 4:
        raise GodotEnvError(f"corrupt environment description: length {length} exceeds the spec tensor")
    try:
        return json.loads(buf[4:4 + length].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise GodotEnvError(f"corrupt environment description: {e}") from None


def in_size(n_agents: int, action_width: int) -> int:
    return IN_HEADER + n_agents + n_agents * action_width


def out_size(n_agents: int, obs_dim: int) -> int:
    return n_agents * (2 * obs_dim + 3)


def seed_words(seed: int) -> np.ndarray:
    """A Python int seed as the two int32 words the engine combines into a 64-bit seed."""
    value = int(seed) & 0xFFFF_FFFF_FFFF_FFFF
    return np.array([value & 0xFFFF_FFFF, value >> 32], dtype=np.uint32).view(np.int32)
