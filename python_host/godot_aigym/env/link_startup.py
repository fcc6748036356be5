"""Start-up helpers of `EngineLink` (link.py): the launch options of an engine that renders,
the checks of the space description an engine published against what was launched, and the
tensors of Dict observation parts. (What the engine said when it failed: link_failures.py.)"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..engine import LaunchOptions
from ..shm import SharedMemory
from ..shm.layout import NAME_MAX
from . import protocol as P
from .options import EnvOptions
from .protocol import Results

def rendering_launch(options: EnvOptions, launch: LaunchOptions, n_engines: int, cpus, timeout: float) -> LaunchOptions:
    """The launch options of an engine that renders, on this host's private X server."""
    from ..display import rendering_launch_options, shared_display
    from ..runtime import GodotRuntime, resolve_godot
    godot = options.godot
    godot = godot if isinstance(godot, GodotRuntime) else resolve_godot(godot)
    display, support = shared_display(godot)
    rendering = rendering_launch_options(launch, display, support, window=options.window)
    if options.launcher is None and n_engines > 1:  # started at once: no race on Godot's shader cache
        from ..display.shader_cache import warm_shader_cache
        warm_shader_cache(rendering, godot, cpus=cpus, timeout=timeout)
    return rendering


def check_spec(spec: P.EnvSpec, scene: str | None, n_agents: int, physics_fps: int, accept_groups: bool) -> None:
    """GodotEnvError unless the engine runs the scene as launched: `n_agents` agents ticking
    physics at `physics_fps`, agent groups only where the caller takes them (`accept_groups`)."""
    if spec.groups and not accept_groups:
        raise P.GodotEnvError(f"{scene} has agent groups {[g.name for g in spec.groups]}: use "
                              "godot_aigym.multiagent (GodotParallelEnv, GodotGroupEnv)")
    if spec.copies != n_agents:
        raise P.GodotEnvError(f"{scene} runs {spec.copies} agents but {n_agents} were requested "
                              "(the scene has a fixed set of agent nodes; use agent_scene to instance them)")
    if spec.physics_ticks_per_second != physics_fps:
        raise P.GodotEnvError(f"the engine ticks physics at {spec.physics_ticks_per_second} Hz, not at the "
                              f"{physics_fps} Hz we launched it with")


def part_views(mem: SharedMemory, spec: P.EnvSpec, results: Results, prefix: str) -> Results:
    """Create the Dict parts' tensors; Results whose ``parts`` are (n, *shape) views of them."""
    check_part_room(mem, spec, prefix)
    n = spec.n_agents
    views: dict[str, dict[str, np.ndarray]] = {P.PART_OBS: {}, P.PART_FINAL_OBS: {}}
    for part in spec.parts:
        if part.in_out:
            views[P.PART_OBS][part.name], views[P.PART_FINAL_OBS][part.name] = results.obs, results.final_obs
            continue
        new = {np.uint8: mem.newUintTensor, np.int32: mem.newIntTensor}.get(part.dtype.type, mem.newFloatTensor)
        for kind, by_name in views.items():
            by_name[part.name] = new(P.part_entry(prefix, kind, part.name), n * part.size).view.reshape(n, *part.shape)
    return dataclasses.replace(results, parts=views[P.PART_OBS], final_parts=views[P.PART_FINAL_OBS])


def check_part_room(mem: SharedMemory, spec: P.EnvSpec, prefix: str) -> None:
    """GodotEnvError naming the fix when the scene's parts do not fit the chunk: a part name too
    long for its tensors' names, or more parts than directory slots (were the chunk's InvalidName
    of an internal name, or ChunkFull suggesting a capacity= the env does not take)."""
    parts = [part for part in spec.parts if not part.in_out]
    limit = NAME_MAX - len(P.part_entry(prefix, P.PART_FINAL_OBS, ""))
    for part in parts:
        if len(part.name) > limit:
            raise P.GodotEnvError(f"observation part name {part.name!r} has {len(part.name)} characters, at most "
                                  f"{limit} fit (its tensors are named {P.part_entry(prefix, P.PART_FINAL_OBS, '<name>')}): "
                                  "shorten it in the GymEnv's observation_parts")
    free = mem.capacity - len(mem.names()) - (spec.frame_shape is not None)
    if 2 * len(parts) > free:
        raise P.GodotEnvError(f"the scene declares {len(parts)} observation parts with tensors of their own, an "
                              f"environment holds at most {free // 2}: merge sensors (e.g. one raycast sensor "
                              "with more rays) or group values into the state part")
