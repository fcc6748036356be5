"""Launch options for an engine that renders: one private X server per host, shared by its engines.

Envs without pixels never come here: they keep ``--headless`` and start no X server.
"""

from __future__ import annotations

import dataclasses
import os
import threading

from ..engine import LaunchOptions
from ..runtime import GodotRuntime
from ..runtime.rendering import RenderingSupport, ensure_rendering, rendering_environment
from .xvfb import VirtualDisplay

# The compatibility renderer (OpenGL 3.3) runs on Mesa's llvmpipe; Vulkan would need a GPU.
# No sound card here: ALSA would log errors the strict log checks (rightly) refuse.
# --disable-vsync: an offscreen engine has no screen to pace its frames (measured on a loaded 2-core
# machine, one 84x84 camera: 76-96 frames/s with vsync, 177 without; noisy)
RENDER_ARGS = ("--display-driver", "x11", "--rendering-driver", "opengl3", "--audio-driver", "Dummy",
               "--disable-vsync")
DEFAULT_WINDOW = (64, 64)  # render()'s frame size; keep it small
# Nobody looks at a window on our private X server: GymEnv does not draw it (the addon's
# sensors/offscreen_window.gd) except for render() frames, saving a blit and a swap per frame.
# AIGYM_OFFSCREEN=0 (LaunchOptions.env, or the host's environment) keeps it drawn every frame, for
# a game that reads its own observations from get_viewport().get_texture().
OFFSCREEN_VARIABLE = "AIGYM_OFFSCREEN"

_lock = threading.Lock()
_shared: tuple[VirtualDisplay, RenderingSupport] | None = None


def shared_display(godot: GodotRuntime) -> tuple[VirtualDisplay, RenderingSupport]:
    """This host's X server (started, and rendering provisioned, on first use)."""
    global _shared
    with _lock:
        if _shared is None or not _shared[0].alive():
            support = ensure_rendering(godot)
            _shared = (VirtualDisplay(support.xvfb), support)
        return _shared


def close_shared_display() -> None:
    global _shared
    with _lock:
        current, _shared = _shared, None
    if current is not None:
        current[0].close()


def rendering_launch_options(options: LaunchOptions, display: VirtualDisplay, support: RenderingSupport,
                             window: tuple[int, int] = DEFAULT_WINDOW) -> LaunchOptions:
    """``options`` changed to render on ``display``: no --headless, X11 + opengl3, the GL environment,
    and AIGYM_OFFSCREEN=1 (GymEnv then draws the main window only for render() frames) unless
    ``options.env`` or the host's environment sets AIGYM_OFFSCREEN (0: drawn every frame)."""
    w, h = (int(v) for v in window)
    if w <= 0 or h <= 0:
        raise ValueError(f"window must be a positive (width, height), got {window!r}")
    offscreen = options.env.get(OFFSCREEN_VARIABLE, os.environ.get(OFFSCREEN_VARIABLE, "1"))
    env = {**options.env, **rendering_environment(display.display, support), **display.environment(),
           OFFSCREEN_VARIABLE: offscreen}
    return dataclasses.replace(options, headless=False, env=env,
                               engine_args=(*RENDER_ARGS, "--resolution", f"{w}x{h}", *options.engine_args),
                               needs=(*options.needs, (display.pid, f"its X server (display {display.display})")))
