"""Boxes a gripper can use: the tightest box around a mask's points, upright in the support
plane (z up) and turned about z to fit, as a grasp planner expects.

The detection head's box is coarse by design (MR-COSMO coarse-to-fine: it gates which
points the mask classifier considers); the box an answer publishes is fitted to the final
mask. The turn about z is shapely's minimum-area rotated rectangle of the points' xy
footprint; a few stray points at the mask's border are trimmed first (``trim``: the share
of points dropped at each end of each axis) so one outlier does not inflate the box.
"""

from __future__ import annotations

import numpy as np
from shapely.geometry import MultiPoint


def fit_upright_box(points: np.ndarray, trim: float = 0.01) -> tuple[np.ndarray, np.ndarray,
                                                                       float] | None:
    """(centre, size, yaw) of the upright box around ``points`` (M, 3), or None for fewer
    than 3 points. ``size`` is (length along yaw, width, height)."""
    points = np.asarray(points, dtype=np.float64)
    if len(points) < 3:
        return None
    if trim > 0 and len(points) >= 50:
        low, high = np.quantile(points, [trim, 1.0 - trim], axis=0)
        inside = np.all((points >= low) & (points <= high), axis=1)
        if inside.sum() >= 3:
            points = points[inside]
    z_low, z_high = points[:, 2].min(), points[:, 2].max()
    footprint = MultiPoint(points[:, :2]).convex_hull
    if footprint.geom_type != "Polygon":  # all on a line or one point: an axis-aligned box
        low, high = points.min(0), points.max(0)
        return (low + high) / 2, np.maximum(high - low, 1e-3), 0.0
    corners = np.asarray(footprint.minimum_rotated_rectangle.exterior.coords)[:4]
    edges = np.roll(corners, -1, axis=0) - corners
    lengths = np.linalg.norm(edges, axis=1)
    along = edges[0] / max(lengths[0], 1e-12)
    yaw = float(np.arctan2(along[1], along[0]))
    centre_xy = corners.mean(axis=0)
    centre = np.array([centre_xy[0], centre_xy[1], (z_low + z_high) / 2])
    size = np.array([lengths[0], lengths[1], max(z_high - z_low, 1e-3)])
    return centre, size, yaw
