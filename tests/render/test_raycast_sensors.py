"""Raycast sensors against known walls: distances exact to float32 precision, hit classes, errors."""

from __future__ import annotations

import numpy as np


def test_raycast_distances_classes_and_errors(run_gdscript):
    run = run_gdscript("res://render/test_raycast_sensors.gd", expected_errors=(
        r"RaycastSensor3D '.*': ray count 0: there must be at least 1 ray",
        r"RaycastSensor3D '.*': ray count 4097: at most 4096 rays per sensor",
        r"RaycastSensor3D '.*': ray_length 0(\.0)?: must be a positive, finite distance",
        r"RaycastSensor3D '.*': ray_length inf: must be a positive, finite distance",
        r"RaycastSensor3D '.*'.measure: the sensor is not ready",
    ))
    # 3D: 3 rows x 5 columns over 40° x 60°, wall plane z = -5: distance 5 / (cos yaw cos pitch)
    yaw = np.radians([-30, -15, 0, 15, 30])
    pitch = np.radians([20, 0, -20])
    expected = 5.0 / (np.cos(pitch)[:, None] * np.cos(yaw)[None, :])
    fan3 = np.array(run.results["fan3"], np.float32)
    np.testing.assert_allclose(fan3[:15], expected.ravel(), rtol=2e-6)
    np.testing.assert_array_equal(fan3[15:], 2.0)  # group "wall" is hit_groups[1]
    np.testing.assert_array_equal(run.results["back3"], [1.0, 1.0])  # nothing within reach, normalised
    # 2D: heading 30°, rays at 0°, 30°, 60° from +X; wall line x = 10
    fan2 = np.array(run.results["fan2"], np.float32)
    np.testing.assert_allclose(fan2[:3], 10.0 / np.cos(np.radians([0, 30, 60])), rtol=2e-6)
    np.testing.assert_array_equal(fan2[3:], 1.0)
