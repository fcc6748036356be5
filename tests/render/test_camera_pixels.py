"""Camera sensors' bytes through a uint8 shared-memory tensor to Python, checked exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from godot_aigym import SharedMemory
from render_testutil import luma, random_colors


def _expected(colors: np.ndarray, w: int, h: int, gray: bool) -> np.ndarray:
    """(N, H, W, C) of the quadrant pictures pattern_2d.gd draws."""
    n = len(colors)
    out = np.empty((n, h, w, 3), np.uint8)
    hw, hh = w // 2, h // 2
    out[:, :hh, :hw] = colors[:, 0, None, None]
    out[:, :hh, hw:] = colors[:, 1, None, None]
    out[:, hh:, :hw] = colors[:, 2, None, None]
    out[:, hh:, hw:] = colors[:, 3, None, None]
    if gray:
        return luma(out)[..., None]
    return out


@pytest.mark.parametrize("agents,gray", [(1, False), (1, True), (16, False)])
def test_camera_frames_exact_through_uint8_tensor(render_gdscript, agents, gray):
    w, h = 10, 6
    rng = np.random.default_rng(agents * 2 + gray)
    colors = random_colors(rng, (agents, 4))
    c = 1 if gray else 3
    with SharedMemory() as mem:
        frames = mem.newUintTensor("frames", agents * h * w * c)
        frames.write(np.full(agents * h * w * c, 7, np.uint8))  # not what any camera writes over
        done = mem.newSemaphore("done", 0)
        spec = {"w": w, "h": h, "gray": gray, "colors": colors.tolist()}
        render_gdscript("res://render/test_camera_frames.gd", handle=mem.handle, user_args=[json.dumps(spec)])
        done.wait(timeout=0)
        got = frames.read().reshape(agents, h, w, c)
        np.testing.assert_array_equal(got, _expected(colors, w, h, gray))
