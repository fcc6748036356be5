"""Rendering support for engines that produce pixels: a private X server and launch options."""

from .session import RENDER_ARGS, close_shared_display, rendering_launch_options, shared_display
from .xvfb import DisplayError, VirtualDisplay, records_dir, sweep_stale_displays

__all__ = ["RENDER_ARGS", "DisplayError", "VirtualDisplay", "close_shared_display", "records_dir",
           "rendering_launch_options", "shared_display", "sweep_stale_displays"]
