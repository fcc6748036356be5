"""Camera sensors in a real rendering engine: exact bytes, shapes, and refused configurations."""

from __future__ import annotations

import numpy as np
from render_testutil import luma

W, H = 8, 6
COLORS = np.array([[255, 0, 0], [17, 130, 250], [0, 0, 0], [200, 201, 30]], np.uint8)
COLORS_MOVED = np.array([[1, 2, 3], [250, 250, 250], [90, 0, 180], [0, 255, 0]], np.uint8)


def _quadrants(w: int, h: int, colors: np.ndarray) -> np.ndarray:
    out = np.empty((h, w, 3), np.uint8)
    out[: h // 2, : w // 2], out[: h // 2, w // 2:] = colors[0], colors[1]
    out[h // 2:, : w // 2], out[h // 2:, w // 2:] = colors[2], colors[3]
    return out


def test_camera_sensors_exact_pixels_and_errors(render_gdscript):
    run = render_gdscript("res://render/test_camera_sensors.gd", expected_errors=(
        r"CameraSensor3D '.*': the viewport rendered 12x9, but the sensor's shape \[9, 13, 3\] declares 13x9 "
        r"\(set width/height before the sensor enters the tree\)",
        r"CameraSensor2D '.*': size 0x4: width and height must be at least 1",
        r"CameraSensor2D '.*': size 4x0: width and height must be at least 1",
        r"CameraSensor2D '.*': size 16385x4: larger than the engine allows \(16384 per side\)",
        r"CameraSensor2D '.*'.capture: the sensor is not ready",
        r"CameraSensor3D '.*': color_format 7: must be CameraFrame.ColorFormat.RGB or GRAY",
        r"test.write_into: tensor is null",
    ))
    rgb = np.array(run.results["rgb_2d"], np.uint8).reshape(H, W, 3)
    np.testing.assert_array_equal(rgb, _quadrants(W, H, COLORS))
    gray = np.array(run.results["gray_2d"], np.uint8).reshape(H, W)
    np.testing.assert_array_equal(gray, luma(_quadrants(W, H, COLORS)))
    img3 = np.array(run.results["rgb_3d"], np.uint8).reshape(9, 12, 3)
    # a 4-wide box 3 ahead with a 90° vertical field of view covers the middle; corners show the background
    np.testing.assert_array_equal(img3[4, 6], [255, 0, 0])
    for y, x in ((0, 0), (0, 11), (8, 0), (8, 11)):
        np.testing.assert_array_equal(img3[y, x], [0, 0, 255])
    # moved by game code, seen in the very next frame
    moved = np.array(run.results["rgb_2d_moved"], np.uint8).reshape(H, W, 3)
    np.testing.assert_array_equal(moved, _quadrants(W, H, COLORS_MOVED))
    turned = np.array(run.results["rgb_3d_turned"], np.uint8).reshape(9, 12, 3)
    np.testing.assert_array_equal(turned, np.broadcast_to(np.array([0, 0, 255], np.uint8), (9, 12, 3)))


def test_camera_in_headless_engine_names_the_fix(run_gdscript):
    run_gdscript("res://render/test_camera_headless.gd", expected_errors=(
        r"CameraSensor3D '.*': the viewport has no image; rendering needs the engine started with a display "
        r"and the opengl3 renderer \(not --headless; see docs/RENDERING.md\)",))
