"""Which way is up when nothing says so: estimate the support plane, level the cloud.

The network was trained on z-up clouds (the robot's base frame; real scans levelled to
their table). A cloud in a camera's optical frame (x right, y down, z forward) with no
transform to the robot gets confident wrong answers, so where no transform is known the
caller estimates the plane the scene stands on (table or floor) and moves the cloud into
the same convention the training data uses: z up from the plane (z = 0 on it), x along
the sensor's forward axis projected on the plane, origin below the sensor, so "left" is
+y as for a robot.

The plane is found by RANSAC (scikit-learn's ``RANSACRegressor``: the plane as a linear
function of two coordinates, robust to the objects on it) and refined by a least-squares
fit (SVD) of its inliers. The regression needs a coordinate the plane is not parallel to:
the caller's ``up_hint`` (e.g. -y for an optical frame), else the cloud's direction of
least spread, which a dominant support plane defines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LinearRegression, RANSACRegressor

OPTICAL_UP = (0.0, -1.0, 0.0)  # REP 103 optical frames: y points down
OPTICAL_FORWARD = (0.0, 0.0, 1.0)


@dataclass(frozen=True)
class SupportPlane:
    """The plane ``normal . p + offset = 0``; ``normal`` points to the sensor's side."""

    normal: np.ndarray  # (3,) unit
    offset: float
    inlier_fraction: float  # share of the (finite, sampled) points within the threshold
    rms: float  # m, RMS distance of the inliers to the plane

    def distance(self, points: np.ndarray) -> np.ndarray:
        """Signed distance of each point to the plane (positive on the sensor's side)."""
        return np.asarray(points, dtype=np.float64) @ self.normal + self.offset

    def fraction_near(self, points: np.ndarray, threshold: float) -> float:
        """Share of finite ``points`` within ``threshold`` of the plane (a cheap re-check
        that an earlier estimate still holds for a new cloud of the same sensor)."""
        finite = points[np.isfinite(points).all(axis=1)]
        if len(finite) == 0:
            return 0.0
        return float(np.mean(np.abs(self.distance(finite)) <= threshold))


def _basis(axis: np.ndarray) -> np.ndarray:
    """Rows: two unit vectors orthogonal to ``axis``, then ``axis`` itself."""
    axis = axis / np.linalg.norm(axis)
    helper = np.eye(3)[int(np.argmin(np.abs(axis)))]
    first = np.cross(axis, helper)
    first /= np.linalg.norm(first)
    return np.stack([first, np.cross(axis, first), axis])


def _least_squares_plane(on_plane: np.ndarray) -> tuple[np.ndarray, float]:
    """(unit normal towards the sensor at the frame's origin, offset) by SVD."""
    centroid = on_plane.mean(axis=0)
    normal = np.linalg.svd(on_plane - centroid, full_matrices=False)[2][2]
    if np.dot(normal, -centroid) < 0:
        normal = -normal
    return normal, -float(np.dot(normal, centroid))


def fit_plane(points: np.ndarray) -> SupportPlane:
    """The least-squares plane of points known to lie on it (e.g. labelled table points):
    no RANSAC. Non-finite rows are ignored."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if len(pts) < 3:
        raise ValueError("a plane needs at least three finite points")
    normal, offset = _least_squares_plane(pts)
    rms = float(np.sqrt(np.mean((pts @ normal + offset) ** 2)))
    return SupportPlane(normal=normal, offset=offset, inlier_fraction=1.0, rms=rms)


def estimate_support_plane(points: np.ndarray, threshold: float = 0.01,
                           up_hint: tuple[float, float, float] | None = None,
                           sample: int = 5000, min_inlier_fraction: float = 0.1,
                           seed: int = 0) -> SupportPlane:
    """The dominant plane of ``points`` (N, 3), by RANSAC then least squares.

    ``threshold``: m, inlier distance (sensor noise). ``sample``: points used (a seeded
    random subset, so the cost is bounded and the answer reproducible). Raises
    ``ValueError`` when fewer than ``min_inlier_fraction`` of the points lie on any plane
    found (nothing to stand on: do not level)."""
    if threshold <= 0:
        raise ValueError(f"threshold must be > 0 m, got {threshold}")
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if len(pts) < 10:
        raise ValueError(f"a support plane needs at least 10 finite points, got {len(pts)}")
    rng = np.random.default_rng(seed)
    if len(pts) > sample:
        pts = pts[rng.choice(len(pts), size=sample, replace=False)]
    centred = pts - pts.mean(axis=0)
    if up_hint is not None:
        axis = np.asarray(up_hint, dtype=np.float64)
    else:  # the direction of least spread: the normal of a dominant plane
        axis = np.linalg.svd(centred, full_matrices=False)[2][2]
    local = centred @ _basis(axis).T  # the regression predicts the 3rd coordinate
    ransac = RANSACRegressor(LinearRegression(), min_samples=3, residual_threshold=threshold,
                             max_trials=200, random_state=seed)
    ransac.fit(local[:, :2], local[:, 2])
    normal, offset = _least_squares_plane(pts[ransac.inlier_mask_])
    distance = np.abs(pts @ normal + offset)
    fraction = float(np.mean(distance <= threshold))
    if fraction < min_inlier_fraction:
        raise ValueError(f"no support plane: the best plane holds {fraction:.0%} of the "
                         f"points (< {min_inlier_fraction:.0%})")
    rms = float(np.sqrt(np.mean(distance[distance <= threshold] ** 2)))
    return SupportPlane(normal=normal, offset=offset, inlier_fraction=fraction, rms=rms)


def levelling_transform(plane: SupportPlane,
                        forward: tuple[float, float, float] = OPTICAL_FORWARD) -> np.ndarray:
    """4x4 pose of the sensor frame in the levelled frame: z along the plane normal
    (z = 0 on the plane), x along ``forward`` projected on the plane, origin below the
    sensor. ``levelled = T @ sensor``."""
    normal = np.asarray(plane.normal, dtype=np.float64)
    ahead = np.asarray(forward, dtype=np.float64)
    ahead = ahead - normal * np.dot(ahead, normal)
    if np.linalg.norm(ahead) < 1e-6:  # looking straight down: any horizontal x will do
        ahead = _basis(normal)[0]
    ahead /= np.linalg.norm(ahead)
    left = np.cross(normal, ahead)
    T = np.eye(4)
    T[:3, :3] = np.stack([ahead, left, normal])
    T[:3, 3] = [0.0, 0.0, plane.offset]  # the sensor's height above the plane
    return T


def transform_points(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``transform`` (4x4) applied to (N, 3) points, in float64, returned as float32; NaN
    rows stay NaN, so indices still index the input."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    return (pts @ transform[:3, :3].T + transform[:3, 3]).astype(np.float32)


def level_cloud(points: np.ndarray, threshold: float = 0.01,
                up_hint: tuple[float, float, float] | None = OPTICAL_UP,
                forward: tuple[float, float, float] = OPTICAL_FORWARD,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray, SupportPlane]:
    """(levelled points float32, T levelled <- sensor, the plane) for a sensor-frame cloud;
    non-finite points stay non-finite, so indices still index the input."""
    plane = estimate_support_plane(points, threshold, up_hint=up_hint, seed=seed)
    T = levelling_transform(plane, forward)
    return transform_points(T, points), T, plane
