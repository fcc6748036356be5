"""Start-up helpers of `EngineLink` (link.py): the launch options of an engine that renders,
the tensors of Dict observation parts, and what the engine said when something went wrong
(its log's tail, its fatal message, the errors it logged during a command)."""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from ..engine import LaunchOptions
from ..shm import SharedMemory
from . import protocol as P
from .options import EnvOptions
from .protocol import Results

# Godot's own noise in its log, left out of the excerpts our errors quote: the "misc2" lines
# of its X11/joypad start-up and the 32-hex-digit GUID lines of its controller database
_LOG_NOISE = re.compile(r"misc2|^[0-9a-f]{32},")


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


def part_views(mem: SharedMemory, spec: P.EnvSpec, results: Results, prefix: str) -> Results:
    """Create the Dict parts' tensors; Results whose ``parts`` are (n, *shape) views of them."""
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


def log_excerpt(proc, keep_log: bool, lines: int = 25) -> str:
    """The last `lines` of the engine's log (without Godot's noise), for an error message."""
    if proc is None:
        return ""
    tail = [line for line in proc.log().splitlines() if not _LOG_NOISE.search(line)]
    text = "\n".join(tail[-lines:])
    where = f" ({proc.log_path})" if keep_log else ""
    return f"\n--- engine log{where} ---\n{text}" if text else ""


def fatal_text(fatal_tensor) -> str:
    """": <error>" of the engine's fatal message, or "" (none, or unreadable)."""
    try:
        fatal = P.read_message(fatal_tensor.view)
    except Exception:
        return ""
    return f": {fatal.get('error')}" if fatal else ""


def script_errors_text(count: int, message: dict | None, scene: str | None, log_path: str | None) -> str:
    """The text of a GodotScriptError: `count` errors logged during a command, the texts the
    engine sent in its error_texts `message`."""
    texts = [str(t) for t in (message or {}).get("engine_errors", [])]
    more = f"\n  ... and {count - len(texts)} more" if count > len(texts) else ""
    where = f" ({log_path})" if log_path else ""
    return (f"the Godot engine running {scene} logged {count} error(s) during this "
            f"command{where}:\n  " + "\n  ".join(texts) + more)
