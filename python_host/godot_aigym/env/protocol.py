"""The step protocol between Python and the GymEnv node: constants, sizes and messages, on the
Python side (docs/STEP_PROTOCOL.md). Its GDScript twin is
``demo_project/addons/godot_aigym/env/gym_protocol.gd``; ``tests/env/test_protocol_cross_language.py``
runs the engine and checks that both agree on every constant and size formula.

Per environment, in one shared-memory chunk (names prefixed, default ``gym_``):

==================  =========  =====================================================================
entry               kind       content
==================  =========  =====================================================================
``spec``            uint8      message: the space description (start-up)
``fatal``           uint8      message: ``{"error": text}`` of a configuration error; the engine quits
``error_texts``     uint8      message: ``{"engine_errors": [...], "count": n}`` of the last command
``errors``          int32[1]   errors logged during the last command (the host resets it to 0)
``seed``            int32[2]   a 64-bit seed (low, high word) for RESET with FLAG_SEED
``sem_action``      semaphore  host -> engine: a command is in ``in``
``sem_obs``         semaphore  engine -> host: ``spec``/``fatal`` (start-up) or ``out`` is ready
``in``              float32    [command, flags, masked count, 0 | reset mask (n) | actions (n * width)]
``out``             float32    [obs (n * D) | reward (n) | terminated (n) | truncated (n) | final obs (n * D)]
==================  =========  =====================================================================

A message is a u32 little-endian length followed by that many bytes of UTF-8 JSON.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from gymnasium import spaces

PROTOCOL = "godot_aigym.env"
PROTOCOL_VERSION = 2
DEFAULT_PREFIX = "gym_"
MAX_AGENTS = 100000  # agents (or scene copies) per engine: GymProtocol.MAX_AGENTS, which the engine enforces

# message tensors: name -> capacity in bytes (4 of them for the length)
MESSAGE_CAPACITY = {"spec": 65536, "fatal": 4096, "error_texts": 16384}
ENTRY_KINDS = ("spec", "fatal", "error_texts", "errors", "seed", "sem_action", "sem_obs", "in", "out", "frame")

# commands (in[H_COMMAND]) and flags (in[H_FLAGS])
CMD_STEP = 1
CMD_RESET = 2
CMD_CLOSE = 3
CMD_RENDER = 4              # draw the main window's next frame into `frame` (engines that render)
AUTORESET_NONE = 0          # STEP: finished agents stay finished (the host resets them)
AUTORESET_SAME_STEP = 1     # STEP: finished agents are reset in the same step; last obs in final obs
FLAG_SEED = 2               # RESET: seed the game's RNG from `seed` first
AUTORESET_NEXT_STEP = 4     # STEP: agents that finished in the previous step are reset instead

# the header of `in`
IN_HEADER = 4
H_COMMAND = 0
H_FLAGS = 1
H_MASKED = 2                # RESET: how many agents the mask selects (0: all)

# values of `out` per agent besides the observation: reward, terminated, truncated
OUT_SCALARS = 3
# Dict observations: a part not carried in `out` has two tensors, <prefix><kind><name>
PART_OBS = "obs_"
PART_FINAL_OBS = "final_obs_"
PART_KINDS = ("box", "image", "discrete", "multi_discrete")
DISCRETE_KINDS = ("discrete", "multi_discrete")  # int32 tensors; gymnasium Discrete / MultiDiscrete spaces
# agent groups (GymGroupEnv): the type of the spec's padded "observation" and "action" rows; each
# group's own spaces are in the spec's "groups" (env/groups.py, docs/STEP_PROTOCOL.md "Agent groups")
GROUPS_TYPE = "groups"


class GodotEnvError(RuntimeError):
    """The environment could not be set up (bad scene, spec mismatch, engine-side error)."""


class GodotScriptError(GodotEnvError):
    """The engine logged errors (script errors, push_error) while it ran a command."""


class GodotScriptWarning(UserWarning):
    """Like GodotScriptError, with ``engine_errors="warn"``."""


ENGINE_ERRORS = ("raise", "warn", "ignore")


def entry_names(prefix: str = DEFAULT_PREFIX) -> dict[str, str]:
    return {k: prefix + k for k in ENTRY_KINDS}


def part_entry(prefix: str, kind: str, part: str) -> str:
    """The tensor of a Dict observation part (kind PART_OBS or PART_FINAL_OBS)."""
    return prefix + kind + part


def in_size(n_agents: int, action_width: int) -> int:
    return IN_HEADER + n_agents + n_agents * action_width


def out_size(n_agents: int, obs_dim: int) -> int:
    return n_agents * (2 * obs_dim + OUT_SCALARS)


@dataclass(frozen=True)
class Results:
    """The engine's answer to the last command: views into the shared ``out`` tensor, valid until
    the next command (copy what you keep). Agent ``i``'s values are at index ``i``."""

    obs: np.ndarray          # (n, D) float32
    reward: np.ndarray       # (n,)
    terminated: np.ndarray   # (n,) 0.0 / 1.0
    truncated: np.ndarray    # (n,) 0.0 / 1.0
    final_obs: np.ndarray    # (n, D): SAME_STEP autoreset, the last observation of a finished episode
    first_agent: np.ndarray  # (3,) reward, terminated, truncated of agent 0 when n == 1 (one read)
    # Dict observations: part name -> (n, *shape) view of every part (the `out` part is `obs`)
    parts: dict = field(default_factory=dict)
    final_parts: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Layout:
    """Where everything lies in ``in`` and ``out`` for n agents, D observation floats and
    action width w (slices; the one place these offsets are computed on the Python side)."""

    n_agents: int
    obs_dim: int
    action_width: int

    @property
    def in_size(self) -> int:
        return in_size(self.n_agents, self.action_width)

    @property
    def out_size(self) -> int:
        return out_size(self.n_agents, self.obs_dim)

    @property
    def header(self) -> slice:
        return slice(0, IN_HEADER)

    @property
    def mask(self) -> slice:
        return slice(IN_HEADER, IN_HEADER + self.n_agents)

    @property
    def actions(self) -> slice:
        return slice(IN_HEADER + self.n_agents, self.in_size)

    def _agents(self, k: int) -> slice:  # the k-th per-agent scalar block after the observations
        start = self.n_agents * self.obs_dim + k * self.n_agents
        return slice(start, start + self.n_agents)

    @property
    def obs(self) -> slice:
        return slice(0, self.n_agents * self.obs_dim)

    @property
    def reward(self) -> slice:
        return self._agents(0)

    @property
    def terminated(self) -> slice:
        return self._agents(1)

    @property
    def truncated(self) -> slice:
        return self._agents(2)

    @property
    def scalars_at(self) -> tuple[int, int, int]:
        """Where the reward, terminated and truncated blocks start (for ``_stepcore.Gatherer``)."""
        return self.reward.start, self.terminated.start, self.truncated.start

    @property
    def final_obs(self) -> slice:
        start = self.n_agents * (self.obs_dim + OUT_SCALARS)
        return slice(start, start + self.n_agents * self.obs_dim)

    @property
    def first_agent(self) -> slice:
        """Agent 0's reward, terminated, truncated: adjacent (one read) when there is one agent."""
        return slice(self.obs_dim, self.obs_dim + OUT_SCALARS) if self.n_agents == 1 else slice(0, 0)

    def results(self, out: np.ndarray) -> Results:
        """The `Results` views of an ``out`` tensor of this layout."""
        n, d = self.n_agents, self.obs_dim
        return Results(obs=out[self.obs].reshape(n, d), reward=out[self.reward], terminated=out[self.terminated],
                       truncated=out[self.truncated], final_obs=out[self.final_obs].reshape(n, d),
                       first_agent=out[self.first_agent])


def launch_args(n_agents: int, prefix: str, physics_fps: int, action_repeat: int | None,
                max_episode_steps: int | None, spin_us: int | None) -> list[str]:
    """The user arguments (after ``--``) that configure the GymEnv node."""
    args = ["--n-agents", str(n_agents), "--env-prefix", prefix, "--physics-fps", str(physics_fps)]
    if action_repeat is not None:
        args += ["--action-repeat", str(int(action_repeat))]
    if max_episode_steps is not None:
        args += ["--max-episode-steps", str(int(max_episode_steps))]
    if spin_us is not None:
        args += ["--spin-us", str(int(spin_us))]
    return args


def read_message(data: bytes | np.ndarray) -> dict | None:
    """The JSON object of a message tensor, or None while it is empty."""
    buf = memoryview(data).cast("B") if isinstance(data, np.ndarray) else memoryview(bytes(data))
    if len(buf) < 4:
        return None
    (length,) = struct.unpack_from("<I", buf, 0)
    if length == 0:
        return None
    if length > len(buf) - 4:
        raise GodotEnvError(f"corrupt message from the engine: length {length} exceeds its tensor ({len(buf)} bytes)")
    try:
        value = json.loads(bytes(buf[4:4 + length]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise GodotEnvError(f"corrupt message from the engine: {e}") from None
    if not isinstance(value, dict):
        raise GodotEnvError(f"corrupt message from the engine: expected a JSON object, got {type(value).__name__}")
    return value


F32_MAX = float(np.finfo(np.float32).max)


def _bounds(values: list[Any], default: float) -> np.ndarray:
    """Bounds from the spec; unbounded (null) becomes the largest float32, as in gymnasium's CartPole
    (finite bounds keep samplers and checkers happy)."""
    out = [default if v is None else float(v) for v in values]
    return np.clip(np.array(out, dtype=np.float64), -F32_MAX, F32_MAX).astype(np.float32)


def _action_space(act: dict) -> tuple[spaces.Space, int, bool]:
    """(space, width in floats, discrete) of the spec's action entry."""
    if act["type"] == "discrete":
        return spaces.Discrete(int(act["n"])), 1, True
    if act["type"] == "multi_discrete":
        nvec = [int(k) for k in act["nvec"]]
        if not nvec or min(nvec) < 1:
            raise GodotEnvError(f"invalid multi_discrete action space: nvec {nvec}")
        return spaces.MultiDiscrete(nvec), len(nvec), False
    if act["type"] in ("box", GROUPS_TYPE):
        a = int(act["shape"][0])
        box = spaces.Box(_bounds(act["low"], -math.inf), _bounds(act["high"], math.inf), shape=(a,), dtype=np.float32)
        return box, a, False
    raise GodotEnvError(f"unsupported action type {act['type']!r}")


@dataclass(frozen=True)
class ObsPart:
    """One part of a Dict observation: carried in `out` (``in_out``, the float part of the
    agents' get_observation()) or in tensors of its own (float32 boxes, uint8 images, int32
    discrete and multi_discrete parts, whose spaces hold int64 as gymnasium's do)."""

    name: str
    kind: str
    shape: tuple[int, ...]
    space: spaces.Space
    in_out: bool

    @property
    def dtype(self) -> np.dtype:
        """The tensor's element type (the zero-copy views'); copies handed out use ``space.dtype``."""
        return np.dtype(np.uint8 if self.kind == "image" else np.int32 if self.kind in DISCRETE_KINDS else np.float32)

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def _obs_part(raw: dict) -> ObsPart:
    name, kind = str(raw["name"]), str(raw["kind"])
    shape = tuple(int(k) for k in raw["shape"])
    if not name.isidentifier():
        raise GodotEnvError(f"observation part name {name!r} is not an identifier")
    if kind not in PART_KINDS:
        raise GodotEnvError(f"observation part {name!r}: unsupported kind {kind!r} (one of {PART_KINDS})")
    if kind in DISCRETE_KINDS:
        return ObsPart(name, kind, *_discrete_space(name, kind, raw), False)
    if not shape or min(shape) < 1:
        raise GodotEnvError(f"observation part {name!r}: invalid shape {shape}")
    if kind == "image":
        if len(shape) != 3 or shape[2] not in (1, 3):
            raise GodotEnvError(f"observation part {name!r}: an image has the shape (H, W, C) with C 1 or 3, "
                                f"got {shape}")
        space = spaces.Box(0, 255, shape=shape, dtype=np.uint8)
    else:
        n = math.prod(shape)
        low, high = raw.get("low"), raw.get("high")
        lo = _bounds(low if isinstance(low, list) else [low] * n, -math.inf).reshape(shape)
        hi = _bounds(high if isinstance(high, list) else [high] * n, math.inf).reshape(shape)
        space = spaces.Box(lo, hi, shape=shape, dtype=np.float32)
    return ObsPart(name, kind, shape, space, bool(raw.get("in_out", False)))


def _discrete_space(name: str, kind: str, raw: dict) -> tuple[tuple[int, ...], spaces.Space]:
    """(shape, space) of a discrete part: Discrete(n) of shape (), or MultiDiscrete(nvec) of (len(nvec),)."""
    if kind == "discrete":
        n = int(raw["n"])
        if n < 1:
            raise GodotEnvError(f"observation part {name!r}: Discrete needs n >= 1, got {n}")
        return (), spaces.Discrete(n)
    nvec = [int(k) for k in raw["nvec"]]
    if not nvec or min(nvec) < 1:
        raise GodotEnvError(f"observation part {name!r}: MultiDiscrete needs a non-empty nvec of values >= 1, got {nvec}")
    return (len(nvec),), spaces.MultiDiscrete(nvec)


def _observation(obs: dict) -> tuple[spaces.Space, int, tuple[ObsPart, ...]]:
    """(space, floats per agent in `out`, Dict parts) of the spec's observation entry."""
    if obs.get("type", "box") in ("box", GROUPS_TYPE):
        d = int(obs["shape"][0])
        return spaces.Box(_bounds(obs["low"], -math.inf), _bounds(obs["high"], math.inf), shape=(d,),
                          dtype=np.float32), d, ()
    if obs["type"] != "dict":
        raise GodotEnvError(f"unsupported observation type {obs['type']!r}")
    parts = tuple(_obs_part(p) for p in obs["parts"])
    names = [p.name for p in parts]
    in_out = [p for p in parts if p.in_out]
    if not parts or len(set(names)) != len(names) or len(in_out) > 1 or any(
            p.kind != "box" or len(p.shape) != 1 for p in in_out):
        raise GodotEnvError(f"invalid Dict observation: parts {names} (unique names, at most one 1-D box in out)")
    d = in_out[0].shape[0] if in_out else 0
    return spaces.Dict({p.name: p.space for p in parts}), d, parts


@dataclass(frozen=True)
class EnvSpec:
    """What the engine declared about itself."""

    raw: dict
    name: str
    n_agents: int
    obs_dim: int
    observation_space: spaces.Space   # Box, or Dict of `parts`
    action_space: spaces.Space
    action_width: int
    discrete: bool
    max_episode_steps: int
    action_repeat: int
    physics_ticks_per_second: int
    in_size: int
    out_size: int
    parts: tuple = ()   # ObsPart of a Dict observation (empty: a flat Box)
    frame_shape: tuple | None = None  # (H, W, 3) of render() frames; None: the engine renders nothing
    groups: tuple = ()  # groups.GroupSpec of a GymGroupEnv (empty: one group, the flat protocol)
    copies: int = 0     # GymGroupEnv: copies of the scene (the n_agents asked for); else n_agents

    @property
    def tensor_parts(self) -> tuple:
        """The Dict parts with tensors of their own."""
        return tuple(p for p in self.parts if not p.in_out)

    @property
    def layout(self) -> Layout:
        return Layout(self.n_agents, self.obs_dim, self.action_width)

    @classmethod
    def from_message(cls, raw: dict | None) -> "EnvSpec":
        if raw is None:
            raise GodotEnvError("the engine wrote no environment description")
        if raw.get("protocol") != PROTOCOL or raw.get("version") != PROTOCOL_VERSION:
            raise GodotEnvError(f"protocol mismatch: engine speaks {raw.get('protocol')!r} version "
                                f"{raw.get('version')!r}, this host {PROTOCOL!r} version {PROTOCOL_VERSION} "
                                "(update the addon in the Godot project or the Python package)")
        try:
            n = int(raw["n_agents"])
            observation_space, d, parts = _observation(raw["observation"])
            action_space, width, discrete = _action_space(raw["action"])
            spec = cls(raw=raw, name=str(raw.get("name", "")), n_agents=n, obs_dim=d,
                       observation_space=observation_space, action_space=action_space, action_width=width,
                       discrete=discrete, max_episode_steps=int(raw.get("max_episode_steps", 0)),
                       action_repeat=int(raw.get("action_repeat", 1)),
                       physics_ticks_per_second=int(raw.get("physics_ticks_per_second", 0)),
                       in_size=int(raw["in_size"]), out_size=int(raw["out_size"]), parts=parts,
                       frame_shape=(int(raw["frame"][0]), int(raw["frame"][1]), 3) if raw.get("frame") else None,
                       copies=int(raw.get("copies", n)))
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise GodotEnvError(f"malformed environment description ({type(e).__name__}: {e})") from None
        if "groups" in raw:
            from .groups import parse_groups  # the groups' own spaces
            spec = replace(spec, groups=parse_groups(raw, spec))
        if spec.in_size != in_size(n, width) or spec.out_size != out_size(n, d):
            raise GodotEnvError(f"inconsistent spec: in_size {spec.in_size} / out_size {spec.out_size} do not "
                                f"match {n} agents x obs {d} x action width {width}")
        return spec


def seed_words(seed: int) -> np.ndarray:
    """A Python int seed as the two int32 words the engine combines into a 64-bit seed."""
    value = int(seed) & 0xFFFF_FFFF_FFFF_FFFF
    return np.array([value & 0xFFFF_FFFF, value >> 32], dtype=np.uint32).view(np.int32)
