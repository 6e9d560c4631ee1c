"""Boxes fitted to a mask's points: upright, turned about z to fit, tight."""

from __future__ import annotations

import numpy as np
import pytest

from query3d.model.boxes import fit_upright_box
from query3d.training.metrics.boxes import Box3D, box3d_iou


def _box_points(center, size, yaw, n=2000, seed=0):
    rng = np.random.default_rng(seed)
    local = (rng.uniform(-0.5, 0.5, (n, 3)) * size)
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    return local @ rot.T + center


@pytest.mark.parametrize("yaw", [0.0, 0.4, 1.2, -0.7])
def test_the_fitted_box_is_the_box_the_points_came_from(yaw: float) -> None:
    truth = (np.array([0.3, -0.2, 0.1]), np.array([0.30, 0.10, 0.20]), yaw)
    center, size, fitted_yaw = fit_upright_box(_box_points(*truth), trim=0.0)
    iou = box3d_iou(Box3D.of(center, size, fitted_yaw), Box3D.of(*truth))
    assert iou > 0.9, (center, size, fitted_yaw)


def test_a_stray_point_does_not_inflate_the_box() -> None:
    points = _box_points(np.zeros(3), np.array([0.2, 0.2, 0.1]), 0.0)
    points = np.vstack([points, [[1.5, 1.5, 1.0]]])
    _, size, _ = fit_upright_box(points)
    assert np.all(size < 0.25), size


def test_degenerate_masks() -> None:
    assert fit_upright_box(np.zeros((2, 3))) is None
    line = np.stack([np.linspace(0, 1, 10), np.zeros(10), np.zeros(10)], axis=1)
    center, size, yaw = fit_upright_box(line)
    assert center[0] == pytest.approx(0.5) and size[0] == pytest.approx(1.0) and yaw == 0.0
