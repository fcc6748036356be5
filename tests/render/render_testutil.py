"""What the camera sensors' GRAY format computes, for the tests' expected images."""

from __future__ import annotations

import numpy as np

LUMA = np.array([0.2126, 0.7152, 0.0722])  # Rec. 709: Godot 4.6's Image.convert(FORMAT_L8), rounded


def luma(rgb: np.ndarray) -> np.ndarray:
    return np.rint(rgb.astype(np.float64) @ LUMA).astype(np.uint8)


def random_colors(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random RGB colours whose luma is not within 0.05 of a rounding tie.

    The engine rounds luma in fixed point; at an exact tie its last bit may differ from
    float64's, so colours that close to a tie would test the rounding, not the sensor.
    """
    out = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    while True:
        y = out.astype(np.float64) @ LUMA
        near = np.abs(y - np.floor(y) - 0.5) < 0.05
        if not near.any():
            return out
        out[near] = rng.integers(0, 256, (int(near.sum()), 3), dtype=np.uint8)
